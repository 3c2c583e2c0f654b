// Our Storage SCU against DCMTK's storescp. NEEDS DCMTK (storescp, dcmdump): skipped with a
// loud banner when missing, a failure under CI=true.
import assert from "node:assert/strict";
import { main } from "../../cli/commands/store.ts";
import { Association } from "../../src/client.ts";
import type { DataSet } from "../../src/dataset/dataset.ts";
import { readWholePart10, writePart10 } from "../../src/dataset/part10.ts";
import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from "../../src/dataset/transfer_syntax.ts";
import { toBase64 } from "../../src/dataset/value.ts";
import { recordingIo } from "../cli/_io.ts";
import { dumpLines, parseDcmdump } from "../dataset/_dcmdump.ts";
import { everyVrDataSet } from "../dataset/_every_vr.ts";
import { requireDcmtk, runDcmtk, startDcmtkServer } from "./_dcmtk.ts";

const SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7";
const JPEG_BASELINE = "1.2.840.10008.1.2.4.50";
const FIXTURE = new URL("../fixtures/dcmtk/ct_explicit_le.dcm", import.meta.url).pathname;

function dataSetFor(sopInstanceUid: string, extra: DataSet = {}): DataSet {
  return { ...everyVrDataSet(), "00080018": { vr: "UI", Value: [sopInstanceUid] }, ...extra };
}

/** dcmdump's view of a file: its transfer syntax and its data set lines. */
async function dump(path: string): Promise<{ transferSyntax: string; lines: string[] }> {
  const shown = await runDcmtk("dcmdump", ["-E", "-Un", "+L", path]);
  assert.equal(shown.code, 0, shown.stderr);
  const ts = /\(0002,0010\) UI \[([\d.]+)\]/.exec(shown.stdout);
  return { transferSyntax: ts?.[1] ?? "", lines: parseDcmdump(shown.stdout) };
}

/** Files storescp wrote, by the SOP Instance UID in their name. */
function receivedFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of Deno.readDirSync(dir)) {
    files.set(entry.name.replace(/^[A-Z]+\./, ""), `${dir}/${entry.name}`);
  }
  return files;
}

async function withStorescp(
  args: string[],
  run: (port: number, received: string, output: () => string) => Promise<void>,
): Promise<void> {
  const received = await Deno.makeTempDir();
  const server = await startDcmtkServer("storescp", ["-aet", "STORESCP", ...args, "-od", received]);
  try {
    await run(server.port, received, server.output);
  } finally {
    await server.stop();
    await Deno.remove(received, { recursive: true });
  }
}

if (await requireDcmtk(["storescp", "dcmdump"], "tests/interop/store_storescp_test.ts")) {
  Deno.test("DCMTK: store sends explicit VR LE, BE and deflated files to a storescp accepting only implicit VR LE (+xi), and dcmdump shows the same values", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const sources = new Map<string, string>();
      const syntaxes = [
        ExplicitVrLittleEndian,
        ExplicitVrBigEndian,
        DeflatedExplicitVrLittleEndian,
      ];
      for (const [i, transferSyntaxUid] of syntaxes.entries()) {
        const uid = `1.2.826.0.1.3680043.10.2.${i + 1}`;
        const path = `${dir}/${i}.dcm`;
        await Deno.writeFile(
          path,
          await writePart10(dataSetFor(uid), { transferSyntaxUid, sequenceLength: "defined" }),
        );
        sources.set(uid, path);
      }
      await Deno.copyFile(FIXTURE, `${dir}/ct.dcm`);
      sources.set("1.2.826.0.1.3680043.10.1.1.1", FIXTURE);
      await withStorescp(["+xi"], async (port, received) => {
        const io = recordingIo();
        const code = await main([`127.0.0.1:${port}`, "--aec", "STORESCP", dir], io);
        assert.equal(code, 0, io.stderr.join("\n"));
        assert.match(io.stdout.join("\n"), /stored 4 instance\(s\).*; 0 failed/);
        const files = receivedFiles(received);
        assert.deepEqual([...files.keys()].sort(), [...sources.keys()].sort());
        for (const [uid, source] of sources) {
          const got = await dump(files.get(uid)!);
          assert.equal(got.transferSyntax, ImplicitVrLittleEndian, uid);
          assert.deepEqual(got.lines, (await dump(source)).lines, uid);
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test("DCMTK: a 12 MB explicit VR LE file reaches a storescp accepting only implicit VR LE with its pixel data intact", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const pixels = new Uint8Array(12 * 1024 * 1024).map((_, i) => (i * 31 + (i >> 16)) & 0xff);
      const uid = "1.2.826.0.1.3680043.10.2.99";
      await Deno.writeFile(
        `${dir}/big.dcm`,
        await writePart10(
          dataSetFor(uid, {
            "00280010": { vr: "US", Value: [2048] },
            "00280011": { vr: "US", Value: [3072] },
            "7FE00010": { vr: "OW", InlineBinary: toBase64(pixels) },
          }),
          { transferSyntaxUid: ExplicitVrLittleEndian },
        ),
      );
      await withStorescp(["+xi"], async (port, received, output) => {
        const io = recordingIo();
        const code = await main([`127.0.0.1:${port}`, "--aec", "STORESCP", `${dir}/big.dcm`], io);
        // storescp aborts on a P-DATA fragment of odd length ("Odd Fragment Length").
        assert.equal(code, 0, `${io.stderr.join("\n")}\nstorescp: ${output()}`);
        const path = receivedFiles(received).get(uid);
        assert.ok(path);
        const file = await readWholePart10((await Deno.open(path)).readable);
        assert.equal(file.transferSyntax.uid, ImplicitVrLittleEndian);
        assert.equal(file.dataSet["7FE00010"].InlineBinary, toBase64(pixels));
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test("DCMTK: a compressed file whose context storescp refuses fails with a clear message and exit 1, the others are stored", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const jpegUid = "1.2.826.0.1.3680043.10.3.1";
      await Deno.writeFile(
        `${dir}/a_jpeg.dcm`,
        await writePart10(
          dataSetFor(jpegUid, {
            "7FE00010": {
              vr: "OB",
              Fragments: ["", toBase64(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]))],
            },
          }),
          { transferSyntaxUid: JPEG_BASELINE },
        ),
      );
      await Deno.copyFile(FIXTURE, `${dir}/b_ct.dcm`);
      await withStorescp([], async (port, received) => {
        const io = recordingIo();
        const code = await main([`127.0.0.1:${port}`, "--aec", "STORESCP", dir], io);
        assert.equal(code, 1);
        assert.deepEqual(io.stderr, [
          `dimse store: ${dir}/a_jpeg.dcm (SOP Instance UID ${jpegUid}) failed: ` +
          "Presentation context for SecondaryCaptureImageStorage in JPEG Baseline (Process 1) " +
          "was not accepted, and compressed data is not transcoded",
        ]);
        assert.match(io.stdout.join("\n"), /stored 1 instance\(s\).*; 1 failed/);
        assert.deepEqual([...receivedFiles(received).keys()], ["1.2.826.0.1.3680043.10.1.1.1"]);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test("DCMTK: assoc.store(dataSet) sends a data set from memory that storescp writes with the same values", async () => {
    await withStorescp([], async (port, received) => {
      const association = await Association.connect({
        host: "127.0.0.1",
        port,
        calledAeTitle: "STORESCP",
        presentationContexts: [{
          abstractSyntax: SECONDARY_CAPTURE,
          transferSyntaxes: [ExplicitVrLittleEndian],
        }],
      });
      const dataSet = dataSetFor("1.2.826.0.1.3680043.10.4.1");
      const result = await association.store(dataSet);
      await association.release();
      assert.equal(result.status, 0);
      assert.equal(result.transferSyntaxUid, ExplicitVrLittleEndian);
      const path = receivedFiles(received).get("1.2.826.0.1.3680043.10.4.1");
      assert.ok(path);
      const got = await dump(path);
      assert.equal(got.transferSyntax, ExplicitVrLittleEndian);
      assert.deepEqual(got.lines, dumpLines(dataSet));
    });
  });
}
