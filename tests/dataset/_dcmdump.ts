// dcmdump's text view of a data set, and the same view printed from our JSON model, so that
// the two can be compared line by line: "depth (gggg,eeee) VR value".
import type { DataSet, PersonName } from "../../src/dataset/dataset.ts";
import { fromBase64 } from "../../src/dataset/value.ts";

/** True when the DCMTK command line tools are installed. */
export function hasDcmtk(): boolean {
  try {
    new Deno.Command("dcmdump", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    return true;
  } catch {
    return false;
  }
}

/** Whether DCMTK tests run; a missing DCMTK fails under CI=true and is said loudly otherwise. */
export function dcmtkAvailable(): boolean {
  const found = hasDcmtk();
  if (!found && Deno.env.get("CI") === "true") {
    throw new Error("DCMTK is required under CI=true but is missing");
  }
  if (!found) {
    console.warn("!!! DCMTK (dcmdump, dump2dcm) not found: DCMTK data set tests are SKIPPED !!!");
  }
  return found;
}

/** Runs a DCMTK tool with TCP_NODELAY=1. */
export async function runDcmtk(
  tool: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(tool, {
    args,
    env: { TCP_NODELAY: "1" },
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The data set lines of `dcmdump -Un +L` output, group 0002 and delimiters left out. */
export function parseDcmdump(text: string): string[] {
  const lines: string[] = [];
  let inDataSet = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("# Dicom-Data-Set")) inDataSet = true;
    if (!inDataSet || line.startsWith("#") || line.trim() === "") continue;
    const m = /^( *)\(([0-9a-f]{4}),([0-9a-f]{4})\) (\w\w|\?\?) (.*?)\s+#\s*(\d+|u\/l), *\d+ .*$/
      .exec(line);
    if (!m) throw new Error(`Unparsed dcmdump line: ${line}`);
    const [, indent, g, e, shownVr, value] = m;
    // DCMTK shows "??" for an element whose VR it cannot know (private data in implicit VR).
    const vr = shownVr === "??" ? "UN" : shownVr;
    const depth = indent.length / 2;
    if (g === "fffe") {
      if (e === "e000" && vr === "na") lines.push(`${depth} item`);
      else if (e === "e000") lines.push(`${depth} fragment ${value}`);
      continue;
    }
    lines.push(
      `${depth} (${g},${e}) ${vr} ${
        vr === "SQ" || value.startsWith("(PixelSequence") ? "" : value
      }`,
    );
  }
  return lines;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

function personName(v: PersonName | null): string {
  if (v === null) return "";
  return [v.Alphabetic ?? "", v.Ideographic ?? "", v.Phonetic ?? ""].join("=").replace(/=+$/, "");
}

function binaryText(vr: string, bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: string[] = [];
  switch (vr) {
    case "OW":
      for (let i = 0; i + 2 <= bytes.length; i += 2) parts.push(hex(view.getUint16(i, true), 4));
      break;
    case "OL":
      for (let i = 0; i + 4 <= bytes.length; i += 4) parts.push(String(view.getUint32(i, true)));
      break;
    case "OV":
      for (let i = 0; i + 8 <= bytes.length; i += 8) {
        parts.push(view.getBigUint64(i, true).toString());
      }
      break;
    case "OF":
      for (let i = 0; i + 4 <= bytes.length; i += 4) parts.push(String(view.getFloat32(i, true)));
      break;
    case "OD":
      for (let i = 0; i + 8 <= bytes.length; i += 8) parts.push(String(view.getFloat64(i, true)));
      break;
    default:
      for (const b of bytes) parts.push(hex(b, 2));
  }
  return parts.join("\\");
}

/** Our data set printed as dcmdump would print it. */
export function dumpLines(dataSet: DataSet, depth = 0): string[] {
  const lines: string[] = [];
  for (const key of Object.keys(dataSet).sort()) {
    const el = dataSet[key];
    const tag = `(${key.slice(0, 4).toLowerCase()},${key.slice(4).toLowerCase()})`;
    if (key.startsWith("0002")) continue;
    if (el.vr === "SQ") {
      lines.push(`${depth} ${tag} SQ `);
      for (const item of el.Value ?? []) {
        lines.push(`${depth + 1} item`);
        lines.push(...dumpLines((item ?? {}) as DataSet, depth + 2));
      }
      continue;
    }
    if (el.Fragments) {
      lines.push(`${depth} ${tag} ${el.vr} `);
      for (const f of el.Fragments) {
        const bytes = fromBase64(f);
        lines.push(
          `${depth + 1} fragment ${
            bytes.length === 0 ? "(no value available)" : binaryText("OB", bytes)
          }`,
        );
      }
      continue;
    }
    let text: string;
    if (el.InlineBinary !== undefined) {
      const bytes = fromBase64(el.InlineBinary);
      const padded = bytes.length % 2 ? new Uint8Array([...bytes, 0]) : bytes;
      text = binaryText(el.vr, padded);
    } else if (!el.Value || el.Value.length === 0) {
      text = "(no value available)";
    } else if (el.vr === "PN") {
      text = `[${el.Value.map((v) => personName(v as PersonName | null)).join("\\")}]`;
    } else if (el.vr === "AT") {
      text = el.Value.map((v) => `(${String(v).slice(0, 4)},${String(v).slice(4)})`.toLowerCase())
        .join("\\");
    } else if (["US", "SS", "UL", "SL", "FL", "FD", "SV", "UV"].includes(el.vr)) {
      text = el.Value.map(String).join("\\");
    } else {
      text = `[${el.Value.map((v) => v === null ? "" : String(v)).join("\\")}]`;
    }
    lines.push(`${depth} ${tag} ${el.vr} ${text}`);
  }
  return lines;
}
