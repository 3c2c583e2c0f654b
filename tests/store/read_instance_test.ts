import assert from "node:assert/strict";
import { fromKeywords, toKeywords } from "../../src/dataset/dataset.ts";
import { writePart10 } from "../../src/dataset/part10.ts";
import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from "../../src/dataset/transfer_syntax.ts";
import { InstanceReadError, readInstance } from "../../src/store/read_instance.ts";
import { SC } from "./_archive.ts";
import { withTempDir } from "../_helpers/temp_dir.ts";

function instance(uid: string, pixels = 0) {
  const ds = fromKeywords({
    SOPClassUID: SC,
    SOPInstanceUID: uid,
    PatientName: "Read^Test",
    PatientID: "R1",
    StudyInstanceUID: "1.2.3.1",
    SeriesInstanceUID: "1.2.3.1.1",
    Rows: 1,
    Columns: 100,
    BitsAllocated: 8,
  });
  if (pixels > 0) ds["7FE00010"] = { vr: "OB", InlineBinary: btoa("x".repeat(pixels)) };
  return ds;
}

Deno.test("readInstance reads a Part 10 file up to Pixel Data in every uncompressed transfer syntax", async () => {
  await withTempDir(async (dir) => {
    for (
      const ts of [
        ExplicitVrLittleEndian,
        ImplicitVrLittleEndian,
        ExplicitVrBigEndian,
        DeflatedExplicitVrLittleEndian,
      ]
    ) {
      const uid = `1.2.3.1.1.${ts.length}`;
      const bytes = await writePart10(instance(uid, 100_000), { transferSyntaxUid: ts });
      await Deno.writeFile(`${dir}/${uid}.dcm`, bytes);
      const read = await readInstance(dir, `${uid}.dcm`);
      assert.equal(read.sopInstanceUid, uid, ts);
      assert.equal(read.sopClassUid, SC, ts);
      assert.equal(read.transferSyntaxUid, ts);
      assert.equal(read.size, bytes.length, ts);
      assert.equal(read.path, `${uid}.dcm`);
      const keywords = toKeywords(read.dataSet);
      assert.equal(keywords.PatientName, "Read^Test", ts);
      assert.equal(keywords.Columns, 100, ts);
      assert.equal(read.dataSet["7FE00010"], undefined, `${ts}: Pixel Data is not read`);
    }
  }, { prefix: "dimse-read-" });
});

Deno.test("readInstance reads a data set without preamble and meta, and refuses a file that is not DICOM", async () => {
  await withTempDir(async (dir) => {
    const full = await writePart10(instance("1.2.3.9"), {
      transferSyntaxUid: ExplicitVrLittleEndian,
    });
    // Drop preamble, "DICM" and the File Meta Information: the bare data set.
    const metaLength = new DataView(full.buffer).getUint32(132 + 8, true);
    await Deno.writeFile(`${dir}/bare`, full.subarray(132 + 12 + metaLength));
    const bare = await readInstance(dir, "bare");
    assert.equal(bare.sopInstanceUid, "1.2.3.9");
    await Deno.writeTextFile(`${dir}/notes.txt`, "not DICOM at all, just some words");
    await assert.rejects(readInstance(dir, "notes.txt"), InstanceReadError);
    await assert.rejects(readInstance(dir, "missing.dcm"), InstanceReadError);
  }, { prefix: "dimse-read-" });
});
