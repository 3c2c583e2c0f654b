import assert from "node:assert/strict";
import { entryOf, keywordOf, tagOf, vrOf } from "../../src/dataset/dictionary.ts";
import { fromKeywords, toKeywords } from "../../src/dataset/dataset.ts";
import { fromJson, toJson } from "../../src/dataset/dataset.ts";
import {
  isStandardTransferSyntax,
  TRANSFER_SYNTAXES,
  transferSyntaxOf,
} from "../../src/dataset/transfer_syntax.ts";
import { hasLongLength, VR_PROPERTIES } from "../../src/dataset/vr.ts";

Deno.test("keywords map to tags and back through the PS3.6 dictionary", () => {
  assert.equal(tagOf("PatientName"), 0x00100010);
  assert.equal(keywordOf(0x00100010), "PatientName");
  assert.equal(tagOf("NoSuchKeyword"), undefined);
  assert.equal(vrOf(0x00100010), "PN");
  assert.equal(vrOf(0x00081140), "SQ");
});

Deno.test("repeating groups resolve: (6002,3000) is Overlay Data, OB or OW, read as OW", () => {
  assert.equal(keywordOf(0x60023000), "OverlayData");
  assert.equal(vrOf(0x60023000), "OW");
  assert.deepEqual(entryOf(0x60023000)?.vrs, ["OW", "OB"]);
  assert.deepEqual(entryOf(0x00280106)?.vrs, ["US", "SS"]);
});

Deno.test("private creators are LO, private data and unknown tags UN, group lengths UL", () => {
  assert.equal(vrOf(0x00090010), "LO");
  assert.equal(vrOf(0x00091001), "UN");
  assert.equal(keywordOf(0x00091001), undefined);
  assert.equal(vrOf(0x00080000), "UL");
  assert.equal(vrOf(0x00020000), "UL");
});

Deno.test("the 4-byte length VRs in explicit VR are exactly OB OD OF OL OV OW SQ UC UN UR UT SV UV", () => {
  const long = Object.keys(VR_PROPERTIES).filter((vr) => hasLongLength(vr as "OB")).sort();
  assert.deepEqual(long, [
    "OB",
    "OD",
    "OF",
    "OL",
    "OV",
    "OW",
    "SQ",
    "SV",
    "UC",
    "UN",
    "UR",
    "UT",
    "UV",
  ]);
  assert.equal(Object.keys(VR_PROPERTIES).length, 34);
});

Deno.test("transfer syntaxes carry their encoding: implicit, big endian, deflated, encapsulated", () => {
  assert.equal(transferSyntaxOf("1.2.840.10008.1.2")?.explicitVr, false);
  assert.equal(transferSyntaxOf("1.2.840.10008.1.2.2")?.littleEndian, false);
  assert.equal(transferSyntaxOf("1.2.840.10008.1.2.1.99")?.deflated, true);
  assert.equal(transferSyntaxOf("1.2.840.10008.1.2.4.50")?.encapsulated, true);
  assert.equal(transferSyntaxOf("1.2.840.10008.1.2.4.201")?.encapsulated, true);
  assert.equal(transferSyntaxOf("1.2.840.10008.1.2.5")?.name, "RLE Lossless");
  assert.equal(transferSyntaxOf("1.2.840.10008.1.2.1\0")?.uid, "1.2.840.10008.1.2.1");
  assert.equal(isStandardTransferSyntax("1.2.3"), false);
  assert.equal(transferSyntaxOf("1.2.3")?.explicitVr, true);
  assert.equal(new Set(TRANSFER_SYNTAXES.map((t) => t.uid)).size, TRANSFER_SYNTAXES.length);
});

Deno.test("keyword form converts to the JSON model and back", () => {
  const dataSet = fromKeywords({
    PatientName: "Doe^John",
    PatientID: "123",
    ImageType: "ORIGINAL\\PRIMARY",
    Rows: 512,
    PixelSpacing: [0.5, 0.5],
    ReferencedImageSequence: [{ ReferencedSOPInstanceUID: "1.2.3" }],
  });
  assert.deepEqual(dataSet["00100010"], { vr: "PN", Value: [{ Alphabetic: "Doe^John" }] });
  assert.deepEqual(dataSet["00080008"], { vr: "CS", Value: ["ORIGINAL", "PRIMARY"] });
  assert.deepEqual(dataSet["00280010"], { vr: "US", Value: [512] });
  assert.deepEqual(dataSet["00081140"].Value, [{ "00081155": { vr: "UI", Value: ["1.2.3"] } }]);
  assert.deepEqual(toKeywords(dataSet), {
    ImageType: "ORIGINAL\\PRIMARY",
    ReferencedImageSequence: [{ ReferencedSOPInstanceUID: "1.2.3" }],
    PatientName: "Doe^John",
    PatientID: "123",
    PixelSpacing: [0.5, 0.5],
    Rows: 512,
  });
  assert.throws(() => fromKeywords({ NotAKeyword: "x" }), /NotAKeyword/);
});

Deno.test("fromJson validates the DICOM JSON model and toJson writes it in tag order", () => {
  const text = '{"00100020":{"vr":"LO","Value":["X"]},"00080016":{"vr":"UI","Value":["1.2"]},' +
    '"7FE00010":{"vr":"OB","BulkDataURI":"http://x/1"}}';
  const dataSet = fromJson(text);
  assert.deepEqual(dataSet["7FE00010"], { vr: "OB", BulkDataURI: "http://x/1" });
  assert.equal(
    toJson(dataSet),
    '{"00080016":{"vr":"UI","Value":["1.2"]},"00100020":{"vr":"LO","Value":["X"]},' +
      '"7FE00010":{"vr":"OB","BulkDataURI":"http://x/1"}}',
  );
  assert.throws(() => fromJson({ "00100020": { vr: "XX" } }), /00100020/);
  assert.throws(() => fromJson({ "0010002": { vr: "LO" } }), /0010002/);
});

Deno.test("an unknown Specific Character Set is decoded as latin1 instead of failing, and ISO 2022 IR 87 as JIS", async () => {
  const { CharacterSet } = await import("../../src/dataset/character_set.ts");
  const unknown = new CharacterSet(["ISO_IR 999"]);
  assert.equal(unknown.supported, false);
  assert.equal(unknown.decode(new Uint8Array([0x41, 0xe9])), "Aé");
  assert.throws(() => unknown.encode("é"), /not supported/);
  const jis = new CharacterSet(["", "ISO 2022 IR 87"]);
  // ESC $ B, then JIS X 0208 for 山田, then ESC ( B
  const bytes = new Uint8Array([0x1b, 0x24, 0x42, 0x3b, 0x33, 0x45, 0x44, 0x1b, 0x28, 0x42]);
  assert.equal(jis.decode(bytes), "山田");
});
