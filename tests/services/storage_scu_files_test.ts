// Sending many files with storeFiles and planning them with inspectFiles, against our own SCP
// over real sockets: order, bytes, read-ahead of large files, the asynchronous window.
import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import type { DataSet } from "../../src/dataset/dataset.ts";
import { readPart10Header, writePart10 } from "../../src/dataset/part10.ts";
import {
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from "../../src/dataset/transfer_syntax.ts";
import { toBase64 } from "../../src/dataset/value.ts";
import { concatBytes } from "../../src/dataset/writer.ts";
import { Scp } from "../../src/scp.ts";
import { storageHandler } from "../../src/services/storage.ts";
import {
  inspectFile,
  inspectFiles,
  type StorableFile,
  storageContexts,
  storeFiles,
} from "../../src/services/storage_scu.ts";
import { everyVrDataSet } from "../dataset/_every_vr.ts";

const SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7";

/** An SCP keeping each data set in memory; `delayMs` holds each instance before reading it. */
async function startScp(options: { window?: number; delayMs?: number } = {}) {
  const received: { sopInstanceUid: string; bytes: Uint8Array }[] = [];
  let active = 0;
  let mostActive = 0;
  const scp = new Scp({
    aeTitle: "DIMSE",
    port: 0,
    hostname: "127.0.0.1",
    asyncOpsWindow: options.window
      ? { maxOperationsInvoked: 1, maxOperationsPerformed: options.window }
      : undefined,
    services: [
      storageHandler(async (instance) => {
        active++;
        mostActive = Math.max(mostActive, active);
        try {
          if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
          const bytes = concatBytes(await Array.fromAsync(instance.dataSet));
          received.push({ sopInstanceUid: instance.sopInstanceUid, bytes });
          return 0;
        } finally {
          active--;
        }
      }, { transferSyntaxes: [ExplicitVrLittleEndian, ImplicitVrLittleEndian] }),
    ],
  });
  await scp.listen();
  return {
    scp,
    received,
    mostActive: () => mostActive,
    close: () => scp.close({ timeoutMs: 1000 }),
  };
}

function instance(n: number, pixelBytes = 0): DataSet {
  const dataSet: DataSet = {
    ...everyVrDataSet(),
    "00080018": { vr: "UI", Value: [`1.2.826.0.1.3680043.10.1.900.${n}`] },
  };
  if (pixelBytes > 0) {
    // No period: a chunk sent in place of another would show.
    const pixels = new Uint8Array(pixelBytes);
    let x = n;
    for (let i = 0; i < pixelBytes; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      pixels[i] = x >>> 24;
    }
    dataSet["7FE00010"] = { vr: "OW", InlineBinary: toBase64(pixels) };
  }
  return dataSet;
}

/** Where two byte strings first differ: -1 when equal (a cheap check for large values). */
function firstDifference(a: Uint8Array | undefined, b: Uint8Array): number {
  if (!a) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

async function writeFiles(dir: string, dataSets: DataSet[]): Promise<string[]> {
  const paths = [];
  for (const [i, dataSet] of dataSets.entries()) {
    const path = `${dir}/${String(i).padStart(3, "0")}.dcm`;
    await Deno.writeFile(path, await writePart10(dataSet));
    paths.push(path);
  }
  return paths;
}

async function inspected(paths: string[]): Promise<StorableFile[]> {
  const files = await inspectFiles(paths);
  assert.ok(files.every((f) => f !== undefined));
  return files as StorableFile[];
}

async function connect(port: number, files: StorableFile[], window?: number) {
  return await Association.connect({
    host: "127.0.0.1",
    port,
    calledAeTitle: "DIMSE",
    presentationContexts: storageContexts(files),
    asyncOpsWindow: window
      ? { maxOperationsInvoked: window, maxOperationsPerformed: 1 }
      : undefined,
  });
}

Deno.test("storeFiles sends files in order, small ones read whole and a 7 MiB one in read-ahead chunks through reused buffers, each data set arriving byte for byte", async () => {
  const dir = await Deno.makeTempDir();
  const { scp, received, close } = await startScp();
  try {
    const dataSets = [instance(1), instance(2, 7 * 1048576 + 6), instance(3, 70_000), instance(4)];
    const paths = await writeFiles(dir, dataSets);
    const files = await inspected(paths);
    const association = await connect(scp.port, files);
    let bytes = 0;
    const seen: string[] = [];
    const outcomes = await storeFiles(association, files, {
      onBytes: (count) => (bytes += count),
      onOutcome: (outcome) => seen.push(outcome.file.path),
    });
    await association.release();
    assert.deepEqual(outcomes.map((o) => o.result?.status), [0, 0, 0, 0]);
    assert.deepEqual(outcomes.map((o) => o.file.path), paths);
    assert.deepEqual(seen, paths);
    assert.deepEqual(received.map((r) => r.sopInstanceUid), files.map((f) => f.sopInstanceUid));
    let total = 0;
    for (const [i, file] of files.entries()) {
      const whole = await Deno.readFile(file.path);
      total += whole.length;
      const expected = whole.subarray(file.dataSetOffset);
      assert.equal(firstDifference(received[i].bytes, expected), -1, file.path);
    }
    assert.equal(bytes, total, "onBytes counts every byte of every file");
  } finally {
    await close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("storeFiles keeps several C-STOREs outstanding when the SCP accepts an asynchronous operations window, and one at a time when it does not", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const paths = await writeFiles(dir, Array.from({ length: 12 }, (_, i) => instance(10 + i)));
    const files = await inspected(paths);
    for (const [window, expected] of [[4, 4], [undefined, 1]] as const) {
      const { scp, received, mostActive, close } = await startScp({ window, delayMs: 20 });
      try {
        const association = await connect(scp.port, files, 8);
        assert.equal(association.negotiated.maxOperationsInvoked, expected);
        const outcomes = await storeFiles(association, files);
        await association.release();
        assert.ok(outcomes.every((o) => o.result?.status === 0));
        assert.equal(received.length, files.length);
        assert.equal(mostActive(), expected, `window ${window}`);
        const byUid = new Map(received.map((r) => [r.sopInstanceUid, r.bytes]));
        for (const file of files) {
          const whole = await Deno.readFile(file.path);
          const expected = whole.subarray(file.dataSetOffset);
          assert.equal(firstDifference(byUid.get(file.sopInstanceUid), expected), -1);
        }
      } finally {
        await close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("storeFiles reports an unreadable file as that file's error and sends the others", async () => {
  const dir = await Deno.makeTempDir();
  const { scp, received, close } = await startScp();
  try {
    const files = await inspected(
      await writeFiles(dir, [instance(30), instance(31), instance(32)]),
    );
    await Deno.remove(files[1].path);
    const association = await connect(scp.port, files);
    const outcomes = await storeFiles(association, files);
    await association.release();
    assert.equal(outcomes[0].result?.status, 0);
    assert.ok(outcomes[1].error instanceof Deno.errors.NotFound);
    assert.equal(outcomes[1].result, undefined);
    assert.equal(outcomes[2].result?.status, 0);
    assert.deepEqual(received.map((r) => r.sopInstanceUid), [
      files[0].sopInstanceUid,
      files[2].sopInstanceUid,
    ]);
  } finally {
    await close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Explicit VR little endian element of group 0002 (PS3.10 §7.1). */
function metaElement(element: number, vr: string, value: Uint8Array): Uint8Array {
  const long = vr === "OB";
  const out = new Uint8Array((long ? 12 : 8) + value.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0x0002, true);
  view.setUint16(2, element, true);
  out[4] = vr.charCodeAt(0);
  out[5] = vr.charCodeAt(1);
  if (long) view.setUint32(8, value.length, true);
  else view.setUint16(6, value.length, true);
  out.set(value, long ? 12 : 8);
  return out;
}

function uidValue(uid: string): Uint8Array {
  const text = uid.length % 2 ? `${uid}\0` : uid;
  return new TextEncoder().encode(text);
}

Deno.test("inspectFiles finds the same meta information and data set offset as the Part 10 reader, with or without preamble, with long meta information, and skips what is not Part 10", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const [plain, large] = await writeFiles(dir, [instance(40), instance(41, 100_000)]);
    const whole = await Deno.readFile(plain);
    const noPreamble = `${dir}/no_preamble.dcm`;
    await Deno.writeFile(noPreamble, whole.subarray(132));
    // Meta information longer than the first bytes read: a 20000-byte (0002,0102) value.
    const header = await readPart10Header([whole]);
    const longMeta = `${dir}/long_meta.dcm`;
    await Deno.writeFile(
      longMeta,
      concatBytes([
        whole.subarray(0, 132),
        metaElement(0x0002, "UI", uidValue(SECONDARY_CAPTURE)),
        metaElement(0x0003, "UI", uidValue("1.2.826.0.1.3680043.10.1.941")),
        metaElement(0x0010, "UI", uidValue(ExplicitVrLittleEndian)),
        metaElement(0x0102, "OB", new Uint8Array(20000).fill(0x41)),
        whole.subarray(header.dataSetOffset),
      ]),
    );
    const text = `${dir}/notes.txt`;
    await Deno.writeTextFile(text, "not DICOM at all\n".repeat(20));
    const empty = `${dir}/empty.dcm`;
    await Deno.writeFile(empty, new Uint8Array(0));
    // Exactly as long as the first bytes read: its end is where the read stopped.
    const exact = `${dir}/exact.dcm`;
    const base = (await writePart10(instance(42, 2))).length - 2;
    await Deno.writeFile(exact, await writePart10(instance(42, 8192 - base)));
    assert.equal((await Deno.stat(exact)).size, 8192);
    const paths = [plain, noPreamble, longMeta, large, exact, text, empty, `${dir}/missing.dcm`];
    const found = await inspectFiles(paths.map((path) => ({ path })));
    for (const [i, path] of [plain, noPreamble, longMeta, large, exact].entries()) {
      const expected = await inspectFile(path);
      assert.ok(expected && found[i], path);
      const bytes = await Deno.readFile(path);
      const parsed = await readPart10Header([bytes]);
      assert.deepEqual(found[i], { ...expected, dataSetOffset: parsed.dataSetOffset }, path);
      assert.equal(expected.dataSetOffset, parsed.dataSetOffset);
      assert.equal(found[i]!.size, bytes.length);
    }
    assert.equal(found[2]!.sopInstanceUid, "1.2.826.0.1.3680043.10.1.941");
    assert.equal(found[2]!.dataSetOffset, 132 + (8 + 26) + (8 + 28) + (8 + 20) + (12 + 20000));
    assert.ok((found[3]!.size ?? 0) > 100_000);
    assert.deepEqual(found.slice(5), [undefined, undefined, undefined]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
