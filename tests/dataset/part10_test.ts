import assert from "node:assert/strict";
import {
  encodeFileMetaInformation,
  readPart10Header,
  readWholePart10,
  writePart10,
} from "../../src/dataset/part10.ts";
import { readWholeDataSet } from "../../src/dataset/reader.ts";
import { PixelDataTag } from "../../src/dataset/tag.ts";
import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from "../../src/dataset/transfer_syntax.ts";
import { sortDataSet } from "../../src/dataset/dataset.ts";
import { writeDataSet } from "../../src/dataset/writer.ts";
import { IMPLEMENTATION_CLASS_UID } from "../../src/ul/uids.ts";
import { dcmtkAvailable, dumpLines, parseDcmdump, runDcmtk } from "./_dcmdump.ts";
import { everyVrDataSet } from "./_every_vr.ts";
import { withTempDir } from "../_helpers/temp_dir.ts";

const DCMTK = dcmtkAvailable();

function* chunks(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.slice(at, at + size);
}

Deno.test("file meta has preamble, DICM, a correct (0002,0000) group length and version 00\\01", async () => {
  const meta = encodeFileMetaInformation({
    mediaStorageSopClassUid: "1.2.840.10008.5.1.4.1.1.7",
    mediaStorageSopInstanceUid: "1.2.3.4",
    transferSyntaxUid: ExplicitVrLittleEndian,
    sourceApplicationEntityTitle: "STORE",
  });
  assert.deepEqual([...meta.subarray(0, 128)], new Array(128).fill(0));
  assert.equal(new TextDecoder().decode(meta.subarray(128, 132)), "DICM");
  const groupLength = new DataView(meta.buffer).getUint32(140, true);
  assert.equal(groupLength, meta.length - 144);
  const header = await readPart10Header([meta]);
  assert.equal(header.hasPreamble, true);
  assert.equal(header.dataSetOffset, meta.length);
  assert.deepEqual(header.meta["00020001"], { vr: "OB", InlineBinary: "AAE=" });
  assert.deepEqual(header.meta["00020012"].Value, [IMPLEMENTATION_CLASS_UID]);
  assert.deepEqual(header.meta["00020016"].Value, ["STORE"]);
  assert.equal(header.transferSyntax.uid, ExplicitVrLittleEndian);
});

for (
  const uid of [
    ImplicitVrLittleEndian,
    ExplicitVrLittleEndian,
    ExplicitVrBigEndian,
    DeflatedExplicitVrLittleEndian,
  ]
) {
  Deno.test(`readPart10Header stops after the meta of a ${uid} file and the rest reads as the data set`, async () => {
    const dataSet = everyVrDataSet();
    const file = await writePart10(dataSet, { transferSyntaxUid: uid });
    const header = await readPart10Header(chunks(file, 7));
    assert.equal(header.transferSyntax.uid, uid);
    assert.deepEqual(header.meta["00020003"].Value, dataSet["00080018"].Value);
    const body = await readWholeDataSet(header.rest, { transferSyntax: header.transferSyntax });
    assert.deepEqual(sortDataSet(body.dataSet), sortDataSet(dataSet));
    const expectedBody = await writeDataSet(dataSet, { transferSyntax: uid });
    if (uid !== DeflatedExplicitVrLittleEndian) {
      assert.equal(header.dataSetOffset, file.length - expectedBody.length);
    }
  });
}

Deno.test("a file without preamble that starts with group 0002 is read as DCMTK reads it", async () => {
  const dataSet = everyVrDataSet();
  const file = await writePart10(dataSet, { transferSyntaxUid: ImplicitVrLittleEndian });
  const read = await readWholePart10([file.subarray(132)]);
  assert.equal(read.transferSyntax.uid, ImplicitVrLittleEndian);
  assert.deepEqual(sortDataSet(read.dataSet), sortDataSet(dataSet));
});

Deno.test("a bare data set with no meta is read with implicit or explicit VR guessed from its first element", async () => {
  const dataSet = everyVrDataSet();
  for (const uid of [ImplicitVrLittleEndian, ExplicitVrLittleEndian]) {
    const bare = await writeDataSet(dataSet, { transferSyntax: uid });
    const read = await readWholePart10([bare]);
    assert.equal(read.transferSyntax.uid, uid);
    assert.deepEqual(read.meta, {});
    assert.deepEqual(sortDataSet(read.dataSet), sortDataSet(dataSet));
  }
});

Deno.test("stopAtTag on a Part 10 file leaves Pixel Data unread", async () => {
  const file = await writePart10(everyVrDataSet(), { transferSyntaxUid: ExplicitVrLittleEndian });
  const read = await readWholePart10([file], { stopAtTag: PixelDataTag });
  assert.equal(read.dataSet["7FE00010"], undefined);
  assert.deepEqual(read.dataSet["00280010"].Value, [2]);
});

Deno.test("writePart10 without SOP Class UID is an error naming (0008,0016)", async () => {
  await assert.rejects(
    writePart10({ "00080018": { vr: "UI", Value: ["1.2"] } }),
    (e: Error) => (e as { tag?: string }).tag === "00080016",
  );
});

Deno.test({
  name:
    "file meta written alone, followed by a separately streamed data set, is a file dcmdump -E accepts (DCMTK)",
  ignore: !DCMTK,
  async fn() {
    await withTempDir(async (dir) => {
      const dataSet = everyVrDataSet();
      const meta = encodeFileMetaInformation({
        mediaStorageSopClassUid: "1.2.840.10008.5.1.4.1.1.7",
        mediaStorageSopInstanceUid: "1.2.826.0.1.3680043.2.1125.1.42",
        transferSyntaxUid: ImplicitVrLittleEndian,
      });
      const file = await Deno.open(`${dir}/streamed.dcm`, { write: true, create: true });
      await file.write(meta);
      await file.write(await writeDataSet(dataSet, { transferSyntax: ImplicitVrLittleEndian }));
      file.close();
      const shown = await runDcmtk("dcmdump", ["-E", "-Un", "+L", `${dir}/streamed.dcm`]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.equal(shown.stderr, "");
      assert.match(shown.stdout, /\(0002,0000\) UL \d+/);
      assert.match(shown.stdout, /\(0002,0001\) OB 00\\01/);
      assert.deepEqual(parseDcmdump(shown.stdout), dumpLines(dataSet));
    });
  },
});

Deno.test({
  name:
    "a dataset-only file written by dcmconv -F is read with its transfer syntax guessed (DCMTK)",
  ignore: !DCMTK,
  async fn() {
    await withTempDir(async (dir) => {
      const dataSet = everyVrDataSet();
      await Deno.writeFile(
        `${dir}/in.dcm`,
        await writePart10(dataSet, { transferSyntaxUid: ExplicitVrLittleEndian }),
      );
      const conv = await runDcmtk("dcmconv", ["-F", "+te", `${dir}/in.dcm`, `${dir}/bare.dcm`]);
      assert.equal(conv.code, 0, conv.stderr);
      const read = await readWholePart10(Deno.openSync(`${dir}/bare.dcm`).readable);
      assert.equal(read.transferSyntax.uid, ExplicitVrLittleEndian);
      assert.deepEqual(sortDataSet(read.dataSet), sortDataSet(dataSet));
    });
  },
});
