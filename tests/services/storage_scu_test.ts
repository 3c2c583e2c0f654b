// The Storage SCU against our own SCP over real sockets: contexts, conversion, data sets.
import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import type { DataSet } from "../../src/dataset/dataset.ts";
import { DataSetError } from "../../src/dataset/errors.ts";
import { writePart10 } from "../../src/dataset/part10.ts";
import { readWholeDataSet } from "../../src/dataset/reader.ts";
import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from "../../src/dataset/transfer_syntax.ts";
import { toBase64 } from "../../src/dataset/value.ts";
import { concatBytes, writeDataSet } from "../../src/dataset/writer.ts";
import { Scp } from "../../src/scp.ts";
import { type IncomingInstance, storageHandler } from "../../src/services/storage.ts";
import {
  inspectFile,
  planAssociations,
  type StorableFile,
  StorageContextError,
  storageContexts,
} from "../../src/services/storage_scu.ts";
import { everyVrDataSet } from "../dataset/_every_vr.ts";

const SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7";
const CT = "1.2.840.10008.5.1.4.1.1.2";
const JPEG_BASELINE = "1.2.840.10008.1.2.4.50";
const NAMES: Record<string, string> = {
  [ImplicitVrLittleEndian]: "implicit VR LE",
  [ExplicitVrLittleEndian]: "explicit VR LE",
  [ExplicitVrBigEndian]: "explicit VR BE",
  [DeflatedExplicitVrLittleEndian]: "deflated explicit VR LE",
};

/** What the SCP received: the transfer syntax and the data set bytes, per instance. */
interface Received {
  transferSyntax: string;
  bytes: Uint8Array;
}

/** An SCP taking instances in `transferSyntaxes` only, keeping what arrives in memory. */
async function startScp(
  transferSyntaxes: string[],
  answer: (instance: IncomingInstance) => number | { status: number; errorComment: string } = () =>
    0,
) {
  const received = new Map<string, Received>();
  const scp = new Scp({
    aeTitle: "DIMSE",
    port: 0,
    hostname: "127.0.0.1",
    services: [
      storageHandler(async (instance) => {
        const bytes = concatBytes(await Array.fromAsync(instance.dataSet));
        received.set(instance.sopInstanceUid, { transferSyntax: instance.transferSyntax, bytes });
        const result = answer(instance);
        return typeof result === "number"
          ? result
          : { status: result.status, command: { errorComment: result.errorComment } };
      }, { transferSyntaxes }),
    ],
  });
  await scp.listen();
  return { scp, received, close: () => scp.close({ timeoutMs: 1000 }) };
}

function dataSetFor(sopInstanceUid: string, extra: DataSet = {}): DataSet {
  return { ...everyVrDataSet(), "00080018": { vr: "UI", Value: [sopInstanceUid] }, ...extra };
}

async function writeFile(dir: string, dataSet: DataSet, transferSyntaxUid: string) {
  const uid = String(dataSet["00080018"].Value![0]);
  const path = `${dir}/${uid}.dcm`;
  await Deno.writeFile(path, await writePart10(dataSet, { transferSyntaxUid }));
  const file = await inspectFile(path);
  assert.ok(file);
  return file;
}

async function connect(port: number, files: StorableFile[]): Promise<Association> {
  return await Association.connect({
    host: "127.0.0.1",
    port,
    calledAeTitle: "DIMSE",
    presentationContexts: storageContexts(files),
  });
}

/** The values a data set in `from` has once encoded in `to` by the writer, read back. */
async function valuesIn(dataSet: DataSet, to: string): Promise<DataSet> {
  const bytes = await writeDataSet(dataSet, { transferSyntax: to });
  return (await readWholeDataSet([bytes], { transferSyntax: to })).dataSet;
}

Deno.test("storage contexts are one per SOP class and transfer syntax, plus explicit and implicit VR LE fallbacks for uncompressed files", () => {
  const file = (sopClassUid: string, transferSyntaxUid: string, n: number): StorableFile => ({
    path: `f${n}`,
    sopClassUid,
    sopInstanceUid: `1.2.3.${n}`,
    transferSyntaxUid,
  });
  const contexts = storageContexts([
    file(CT, ExplicitVrBigEndian, 1),
    file(CT, ExplicitVrLittleEndian, 2),
    file(CT, JPEG_BASELINE, 3),
    file(SECONDARY_CAPTURE, JPEG_BASELINE, 4),
    file(SECONDARY_CAPTURE, DeflatedExplicitVrLittleEndian, 5),
  ]);
  assert.deepEqual(contexts.map((c) => `${c.abstractSyntax} ${c.transferSyntaxes.join(",")}`), [
    `${CT} ${ExplicitVrBigEndian}`,
    `${CT} ${ExplicitVrLittleEndian}`,
    `${CT} ${ImplicitVrLittleEndian}`,
    `${CT} ${JPEG_BASELINE}`,
    `${SECONDARY_CAPTURE} ${JPEG_BASELINE}`,
    `${SECONDARY_CAPTURE} ${DeflatedExplicitVrLittleEndian}`,
    `${SECONDARY_CAPTURE} ${ExplicitVrLittleEndian}`,
    `${SECONDARY_CAPTURE} ${ImplicitVrLittleEndian}`,
  ]);
});

Deno.test("files needing more than 128 presentation contexts are split so that no association proposes more than 128", () => {
  const files: StorableFile[] = [];
  for (let i = 0; i < 150; i++) {
    files.push({
      path: `f${i}`,
      sopClassUid: `1.2.3.4.${i % 100}`,
      sopInstanceUid: `1.2.3.5.${i}`,
      transferSyntaxUid: i % 2 ? JPEG_BASELINE : ExplicitVrLittleEndian,
    });
  }
  const groups = planAssociations(files);
  assert.ok(groups.length > 1);
  assert.deepEqual(groups.flat(), files);
  for (const group of groups) assert.ok(storageContexts(group).length <= 128);
  assert.equal(storageContexts(groups[0]).length >= 127, true);
});

for (
  const [from, accepted, expected] of [
    [ExplicitVrLittleEndian, [ImplicitVrLittleEndian], ImplicitVrLittleEndian],
    [ExplicitVrBigEndian, [ImplicitVrLittleEndian], ImplicitVrLittleEndian],
    [ExplicitVrBigEndian, [ImplicitVrLittleEndian, ExplicitVrLittleEndian], ExplicitVrLittleEndian],
    [DeflatedExplicitVrLittleEndian, [ImplicitVrLittleEndian], ImplicitVrLittleEndian],
    [ImplicitVrLittleEndian, [ExplicitVrLittleEndian], ExplicitVrLittleEndian],
  ] as const
) {
  Deno.test(
    `a ${NAMES[from]} file goes to an SCP accepting only ${
      accepted.map((uid) => NAMES[uid]).join(" and ")
    } converted to ${NAMES[expected]}, every value kept`,
    async () => {
      const dir = await Deno.makeTempDir();
      const { scp, received, close } = await startScp([...accepted]);
      try {
        const big = new Uint8Array(300_000).map((_, i) => (i * 13) & 0xff);
        const dataSet = dataSetFor("1.2.826.0.1.3680043.10.1.77", {
          "00280010": { vr: "US", Value: [300] },
          "00280011": { vr: "US", Value: [500] },
          "7FE00010": { vr: "OW", InlineBinary: toBase64(big) },
        });
        const file = await writeFile(dir, dataSet, from);
        const association = await connect(scp.port, [file]);
        let counted = 0;
        const result = await association.store(file.path, { onBytes: (n) => (counted += n) });
        await association.release();
        assert.equal(result.status, 0);
        assert.equal(result.transferSyntaxUid, expected);
        assert.equal(result.transcodedFrom, from);
        assert.equal(counted, (await Deno.stat(file.path)).size);
        const got = received.get(file.sopInstanceUid);
        assert.ok(got);
        assert.equal(got.transferSyntax, expected);
        const source = (await readWholeDataSet(
          [await writeDataSet(dataSet, { transferSyntax: from })],
          { transferSyntax: from },
        )).dataSet;
        assert.deepEqual(
          (await readWholeDataSet([got.bytes], { transferSyntax: expected })).dataSet,
          await valuesIn(source, expected),
        );
      } finally {
        await close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}

Deno.test("a file whose own transfer syntax is accepted is sent byte for byte", async () => {
  const dir = await Deno.makeTempDir();
  const { scp, received, close } = await startScp([ExplicitVrBigEndian, ImplicitVrLittleEndian]);
  try {
    const dataSet = dataSetFor("1.2.826.0.1.3680043.10.1.78");
    const file = await writeFile(dir, dataSet, ExplicitVrBigEndian);
    const association = await connect(scp.port, [file]);
    const result = await association.store(file.path);
    await association.release();
    assert.equal(result.transferSyntaxUid, ExplicitVrBigEndian);
    assert.equal(result.transcodedFrom, undefined);
    assert.deepEqual(
      received.get(file.sopInstanceUid)?.bytes,
      await writeDataSet(dataSet, { transferSyntax: ExplicitVrBigEndian }),
    );
  } finally {
    await close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a compressed file whose context was refused fails with StorageContextError before anything is sent, and the association goes on", async () => {
  const dir = await Deno.makeTempDir();
  const { scp, received, close } = await startScp([ExplicitVrLittleEndian]);
  try {
    const jpeg = await writeFile(
      dir,
      dataSetFor("1.2.826.0.1.3680043.10.1.79", {
        "7FE00010": {
          vr: "OB",
          Fragments: ["", toBase64(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]))],
        },
      }),
      JPEG_BASELINE,
    );
    const plain = await writeFile(
      dir,
      dataSetFor("1.2.826.0.1.3680043.10.1.80"),
      ImplicitVrLittleEndian,
    );
    const association = await connect(scp.port, [jpeg, plain]);
    await assert.rejects(
      association.store(jpeg.path),
      (e) =>
        e instanceof StorageContextError && e.transferSyntaxUid === JPEG_BASELINE &&
        e.message ===
          "Presentation context for SecondaryCaptureImageStorage in JPEG Baseline (Process 1) was not accepted, and compressed data is not transcoded",
    );
    assert.equal((await association.store(plain.path)).status, 0);
    await association.release();
    assert.deepEqual([...received.keys()], [plain.sopInstanceUid]);
  } finally {
    await close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("assoc.store(dataSet) sends a data set from memory, and a failure's status and Error Comment come back", async () => {
  const { scp, received, close } = await startScp(
    [ImplicitVrLittleEndian],
    (instance) =>
      instance.sopInstanceUid.endsWith(".2") ? { status: 0xa700, errorComment: "Disk full" } : 0,
  );
  try {
    const association = await Association.connect({
      host: "127.0.0.1",
      port: scp.port,
      calledAeTitle: "DIMSE",
      presentationContexts: [{
        abstractSyntax: SECONDARY_CAPTURE,
        transferSyntaxes: [ExplicitVrLittleEndian, ImplicitVrLittleEndian],
      }],
    });
    const ok = dataSetFor("1.2.826.0.1.3680043.10.1.1");
    const result = await association.store(ok);
    assert.equal(result.status, 0);
    assert.equal(result.sopInstanceUid, "1.2.826.0.1.3680043.10.1.1");
    assert.equal(result.transferSyntaxUid, ImplicitVrLittleEndian);
    const failed = await association.store(dataSetFor("1.2.826.0.1.3680043.10.1.2"));
    assert.equal(failed.status, 0xa700);
    assert.equal(failed.command.errorComment, "Disk full");
    await assert.rejects(
      association.store({ "00080016": { vr: "UI", Value: [SECONDARY_CAPTURE] } }),
      (e) => e instanceof DataSetError && /SOP Instance UID \(0008,0018\)/.test(e.message),
    );
    await association.release();
    const got = received.get("1.2.826.0.1.3680043.10.1.1");
    assert.ok(got);
    assert.deepEqual(
      (await readWholeDataSet([got.bytes], { transferSyntax: ImplicitVrLittleEndian })).dataSet,
      await valuesIn(ok, ImplicitVrLittleEndian),
    );
  } finally {
    await close();
  }
});

Deno.test("assoc.store(dataSet) in a named transfer syntax uses that context, deflated included, and fails when it was refused", async () => {
  const { scp, received, close } = await startScp([DeflatedExplicitVrLittleEndian]);
  try {
    const association = await Association.connect({
      host: "127.0.0.1",
      port: scp.port,
      calledAeTitle: "DIMSE",
      presentationContexts: [
        { abstractSyntax: SECONDARY_CAPTURE, transferSyntaxes: [DeflatedExplicitVrLittleEndian] },
        { abstractSyntax: SECONDARY_CAPTURE, transferSyntaxes: [ExplicitVrBigEndian] },
      ],
    });
    const dataSet = dataSetFor("1.2.826.0.1.3680043.10.1.3");
    const result = await association.store(dataSet, {
      transferSyntaxUid: DeflatedExplicitVrLittleEndian,
    });
    assert.equal(result.status, 0);
    await assert.rejects(
      association.store(dataSet, { transferSyntaxUid: ExplicitVrBigEndian }),
      (e) =>
        e instanceof StorageContextError &&
        e.message ===
          "Presentation context for SecondaryCaptureImageStorage in Explicit VR Big Endian was not accepted",
    );
    await association.release();
    const got = received.get("1.2.826.0.1.3680043.10.1.3");
    assert.ok(got);
    assert.equal(got.transferSyntax, DeflatedExplicitVrLittleEndian);
    assert.deepEqual(
      (await readWholeDataSet([got.bytes], { transferSyntax: DeflatedExplicitVrLittleEndian }))
        .dataSet,
      await valuesIn(dataSet, DeflatedExplicitVrLittleEndian),
    );
  } finally {
    await close();
  }
});
