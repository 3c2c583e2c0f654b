/**
 * Generates `_dictionary_data.ts`, the PS3.6 data dictionary as compact text, from the
 * maintained copy in dcmjs: `deno task build:dictionary` writes it, and a test regenerates it
 * and compares, so that the committed table is always exactly dcmjs's. Loading the text costs a
 * few milliseconds where loading dcmjs costs tens, at every start of a process.
 *
 * One line per entry, in dcmjs's order (its standard entries, then its repeating-group
 * ranges): `ggggeeee[-GGGG] VR VM Keyword`, where `-GGGG` is the last group of a range whose
 * first group is `gggg` (e.g. `60003000-60FF OB 1 OverlayData`). VR keeps dcmjs's codes for
 * alternatives (ox, xs, lt, up, na). A tag matches the entry of its exact tag first, else the
 * first range holding its group and element, as dcmjs looks tags up.
 *
 * @module
 */
import dcmjs from "dcmjs";
import denoJson from "../../deno.json" with { type: "json" };

/** An entry as dcmjs gives it. */
interface SourceEntry {
  tag: string;
  vr: string;
  vm: string;
  name: string;
}

interface Dictionary {
  dictionary: Record<string, SourceEntry | undefined>;
  nameMap: Record<string, SourceEntry | undefined>;
  _generateNameMap(): void;
}

const source = dcmjs.data.DicomMetaDictionary as unknown as Dictionary;

/**
 * Every standard entry of dcmjs in its order, ranges included: the entries its name map is
 * built from, recorded as that map is built again.
 */
function sourceEntries(): SourceEntry[] {
  const recorded: SourceEntry[] = [];
  const recorder = new Proxy({}, {
    set(_target, _name, entry: SourceEntry) {
      recorded.push(entry);
      return true;
    },
  });
  const own = Object.getOwnPropertyDescriptor(source, "nameMap");
  if (own === undefined) throw new Error("dcmjs has no DicomMetaDictionary.nameMap");
  Object.defineProperty(source, "nameMap", {
    configurable: true,
    get: () => recorder,
    set: () => {},
  });
  try {
    source._generateNameMap();
  } finally {
    Object.defineProperty(source, "nameMap", own);
  }
  return recorded;
}

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, "0");
}

/** The text of `_dictionary_data.ts`. */
export function generateDictionaryModule(): string {
  const entries = sourceEntries();
  const exact = new Set(entries.map((e) => e.tag));
  const lines: string[] = [];
  for (const entry of entries) {
    const group = parseInt(entry.tag.slice(1, 5), 16);
    const element = entry.tag.slice(6, 10);
    // A range entry also answers for the next group with the same element, where no exact
    // entry is; its last group is the last one (within 256) that still answers with it.
    let last = group;
    for (let g = group + 1; g <= Math.min(group + 0xff, 0xffff); g++) {
      const key = `(${hex4(g)},${element})`;
      if (!exact.has(key) && source.dictionary[key]?.name === entry.name) last = g;
    }
    const range = last > group ? `-${hex4(last)}` : "";
    lines.push(`${entry.tag.slice(1, 5)}${element}${range} ${entry.vr} ${entry.vm} ${entry.name}`);
  }
  const version = denoJson.imports.dcmjs.replace(/^npm:/, "");
  return [
    "// Generated from " + version + " by src/dataset/_dictionary_generate.ts",
    "// (`deno task build:dictionary`); do not edit. See that module for the format.",
    "",
    "/** The PS3.6 data dictionary, one entry per line. */",
    `export const DICTIONARY = \`${lines.join("\n")}\`;`,
    "",
  ].join("\n");
}

if (import.meta.main) {
  const target = new URL("./_dictionary_data.ts", import.meta.url);
  await Deno.writeTextFile(target, generateDictionaryModule());
  console.log(`wrote ${target.pathname}`);
}
