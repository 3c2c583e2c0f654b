// The Storage SCP's synchronous head parser against the general reader: the same DICOM JSON for
// the same bytes, or no answer (the caller then uses the general reader).
import assert from "node:assert/strict";
import {
  copyHead,
  type DataSetHead,
  readDataSetHead,
  scanDataSetHead,
} from "../../src/store/_data_set_head.ts";
import { readWholeDataSet } from "../../src/dataset/reader.ts";
import { concatBytes, writeDataSet } from "../../src/dataset/writer.ts";
import type { DataSet } from "../../src/dataset/dataset.ts";
import { transferSyntaxOf } from "../../src/dataset/transfer_syntax.ts";
import { PixelDataTag, tagToHex } from "../../src/dataset/tag.ts";
import { everyVrDataSet } from "../dataset/_every_vr.ts";

const EXPLICIT_LE = "1.2.840.10008.1.2.1";
const IMPLICIT_LE = "1.2.840.10008.1.2";
const EXPLICIT_BE = "1.2.840.10008.1.2.2";
const DEFLATED = "1.2.840.10008.1.2.1.99";
const OPTIONS = { stopAtTag: PixelDataTag, bulkThreshold: 4096 };

/** A data set with nested sequences, a character set inside an item, a bulk value and pixels. */
function nested(): DataSet {
  return {
    "00080005": { vr: "CS", Value: ["ISO_IR 100"] },
    "00080016": { vr: "UI", Value: ["1.2.840.10008.5.1.4.1.1.2"] },
    "00080018": { vr: "UI", Value: ["1.2.3.4.5"] },
    "00081140": {
      vr: "SQ",
      Value: [
        {
          "00080005": { vr: "CS", Value: ["ISO_IR 192"] },
          "00081150": { vr: "UI", Value: ["1.2.840.10008.5.1.4.1.1.2"] },
          "00100010": { vr: "PN", Value: [{ Alphabetic: "Müller^Jürgen" }] },
          "00400275": {
            vr: "SQ",
            Value: [{ "00321060": { vr: "LO", Value: ["Inner"] } }, {}],
          },
        },
        { "00081155": { vr: "UI", Value: ["1.2.3.4.6"] } },
      ],
    },
    "00100010": { vr: "PN", Value: [{ Alphabetic: "Doe^Jane" }] },
    "00100020": { vr: "LO", Value: ["ID-1"] },
    "00291010": { vr: "OB", InlineBinary: btoa("x".repeat(6000)) },
    "7FE00010": { vr: "OW", InlineBinary: btoa("\0".repeat(1024)) },
  };
}

async function viaReader(bytes: Uint8Array, ts: string) {
  return await readWholeDataSet([bytes], { transferSyntax: ts, bulk: "skip", ...OPTIONS });
}

for (const ts of [EXPLICIT_LE, IMPLICIT_LE]) {
  for (const sequenceLength of ["defined", "undefined"] as const) {
    Deno.test(`the head parser reads what the general reader reads (${ts}, ${sequenceLength} length sequences)`, async () => {
      for (const dataSet of [nested(), everyVrDataSet()]) {
        const bytes = await writeDataSet(dataSet, { transferSyntax: ts, sequenceLength });
        const expected = await viaReader(bytes, ts);
        const got = readDataSetHead(bytes, transferSyntaxOf(ts)!, OPTIONS);
        assert.ok(got !== undefined, "the parser takes a well-formed little endian data set");
        assert.deepEqual(got.dataSet, expected.dataSet);
        assert.equal(got.stopped, expected.stopped !== undefined);
      }
    });
  }
}

Deno.test("a head cut anywhere is either read as the general reader reads it up to the stop, or left to it", async () => {
  for (const ts of [EXPLICIT_LE, IMPLICIT_LE]) {
    const bytes = await writeDataSet(nested(), { transferSyntax: ts, sequenceLength: "undefined" });
    const whole = await viaReader(bytes, ts);
    let taken = 0;
    for (let cut = 0; cut < bytes.length; cut++) {
      const got = readDataSetHead(bytes.subarray(0, cut), transferSyntaxOf(ts)!, OPTIONS);
      if (got === undefined) continue;
      if (got.stopped) {
        // Stopped at Pixel Data: the same as reading the whole data set.
        assert.deepEqual(got.dataSet, whole.dataSet, `cut at ${cut}`);
        taken++;
      } else {
        // Ended at an element boundary: never mistaken for a stop.
        assert.ok(Object.keys(got.dataSet).length <= Object.keys(whole.dataSet).length);
      }
    }
    assert.ok(taken > 0, "some cuts after the Pixel Data tag are read");
  }
});

Deno.test("big endian, deflated and malformed data sets are left to the general reader", async () => {
  const be = await writeDataSet(nested(), { transferSyntax: EXPLICIT_BE });
  assert.equal(readDataSetHead(be, transferSyntaxOf(EXPLICIT_BE)!, OPTIONS), undefined);
  const deflated = await writeDataSet(nested(), { transferSyntax: DEFLATED });
  assert.equal(readDataSetHead(deflated, transferSyntaxOf(DEFLATED)!, OPTIONS), undefined);
  const bad = (await writeDataSet(nested(), { transferSyntax: EXPLICIT_LE })).slice();
  bad[4] = 0x7a; // "zR" is not a VR
  bad[5] = 0x52;
  assert.equal(readDataSetHead(bad, transferSyntaxOf(EXPLICIT_LE)!, OPTIONS), undefined);
});

const UIDS: ReadonlySet<number> = new Set([0x00080016, 0x00080018, 0x0020000d, 0x0020000e]);

Deno.test("the scan takes exactly the bytes the head parser takes, keeping only the UIDs asked for", async () => {
  for (const ts of [EXPLICIT_LE, IMPLICIT_LE]) {
    const syntax = transferSyntaxOf(ts)!;
    for (const dataSet of [nested(), everyVrDataSet()]) {
      const bytes = await writeDataSet(dataSet, {
        transferSyntax: ts,
        sequenceLength: "undefined",
      });
      const bad = bytes.slice();
      bad[4] ^= 0x55; // a VR that does not exist (explicit), or a length past the end (implicit)
      for (let cut = 0; cut <= bytes.length; cut++) {
        for (const source of [bytes, bad]) {
          const part = source.subarray(0, cut);
          const read = readDataSetHead(part, syntax, OPTIONS);
          const scanned = scanDataSetHead(part, syntax, UIDS, OPTIONS);
          assert.equal(scanned === undefined, read === undefined, `cut at ${cut}`);
          if (read === undefined || scanned === undefined) continue;
          assert.equal(scanned.stopped, read.stopped, `cut at ${cut}`);
          assert.equal(scanned.length, read.length, `cut at ${cut}`);
          const kept = Object.fromEntries(
            Object.entries(read.dataSet).filter(([tag]) =>
              UIDS.has(parseInt(tag, 16)) || tag === "00080005"
            ),
          );
          assert.deepEqual(scanned.dataSet, kept, `cut at ${cut}`);
        }
      }
    }
  }
});

Deno.test("a stopped head's length is where Pixel Data starts, and reading that much again gives the same head", async () => {
  const bytes = await writeDataSet(nested(), { transferSyntax: EXPLICIT_LE });
  const read = readDataSetHead(bytes, transferSyntaxOf(EXPLICIT_LE)!, OPTIONS)!;
  assert.ok(read.stopped);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(view.getUint16(read.length, true), 0x7fe0);
  assert.equal(view.getUint16(read.length + 2, true), 0x0010);
  const again = readDataSetHead(
    bytes.subarray(0, read.length),
    transferSyntaxOf(EXPLICIT_LE)!,
    OPTIONS,
  )!;
  assert.deepEqual(again.dataSet, read.dataSet);
  assert.equal(again.stopped, false);
});

// --- The scan against the general reader on varied inputs -------------------------------------

/** The UIDs the Storage SCP reads before its response. */
const SCP_KEEP: ReadonlySet<number> = UIDS;

/**
 * Reads `bytes` with the head parser, the scan and the general reader: the scan declines
 * exactly when the head parser does; where they answer, the head parser's data set, stop and
 * length are the general reader's, and the scan holds exactly the elements of `keep` (and
 * Specific Character Set) that it decodes, as the head parser has them. Returns the head.
 */
async function assertHeadsAgree(
  bytes: Uint8Array,
  ts: string,
  keep: ReadonlySet<number>,
  label: string,
): Promise<DataSetHead | undefined> {
  const syntax = transferSyntaxOf(ts)!;
  const read = readDataSetHead(bytes, syntax, OPTIONS);
  const scanned = scanDataSetHead(bytes, syntax, keep, OPTIONS);
  assert.equal(scanned === undefined, read === undefined, `${label}: both answer or neither`);
  if (read === undefined || scanned === undefined) return undefined;
  const general = await viaReader(bytes, ts);
  assert.deepEqual(read.dataSet, general.dataSet, `${label}: the general reader's data set`);
  assert.equal(read.stopped, general.stopped !== undefined, `${label}: stopped`);
  assert.equal(read.length, general.stopped?.offset ?? bytes.length, `${label}: length`);
  assert.equal(scanned.stopped, read.stopped, `${label}: the scan's stop`);
  assert.equal(scanned.length, read.length, `${label}: the scan's length`);
  for (const [key, element] of Object.entries(scanned.dataSet)) {
    assert.ok(keep.has(parseInt(key, 16)) || key === "00080005", `${label}: ${key} not asked for`);
    assert.deepEqual(element, read.dataSet[key], `${label}: ${key}`);
  }
  for (const tag of keep) {
    const key = tagToHex(tag);
    const element = read.dataSet[key];
    if (key in scanned.dataSet || element === undefined) continue;
    // Left out only when there is nothing to decode: a sequence or a bulk value (VR only).
    assert.ok(
      element.vr === "SQ" || Object.keys(element).length === 1,
      `${label}: ${key} asked for and left out`,
    );
  }
  return read;
}

/** Every top level tag of a data set, as a scan asks for them. */
function tagsOf(dataSet: DataSet): ReadonlySet<number> {
  return new Set(Object.keys(dataSet).map((key) => parseInt(key, 16)));
}

const encoder = new TextEncoder();

function bytesOf(value: string | Uint8Array | number[]): Uint8Array {
  if (typeof value === "string") return encoder.encode(value);
  return value instanceof Uint8Array ? value : new Uint8Array(value);
}

/** An explicit VR little endian element, written by hand (PS3.5 §7.1.2): any value, any length. */
function explicitElement(
  tag: number,
  vr: string,
  value: string | Uint8Array | number[],
  length?: number,
): Uint8Array {
  const bytes = bytesOf(value);
  const long = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]
    .includes(vr);
  const out = new Uint8Array((long ? 12 : 8) + bytes.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, Math.floor(tag / 0x10000), true);
  view.setUint16(2, tag & 0xffff, true);
  out[4] = vr.charCodeAt(0);
  out[5] = vr.charCodeAt(1);
  if (long) view.setUint32(8, length ?? bytes.length, true);
  else view.setUint16(6, length ?? bytes.length, true);
  out.set(bytes, long ? 12 : 8);
  return out;
}

/** An implicit VR little endian element, or item header when `tag` is (FFFE,E000) (PS3.5 §7.1.3). */
function implicitElement(tag: number, value: string | Uint8Array | number[], length?: number) {
  const bytes = bytesOf(value);
  const out = new Uint8Array(8 + bytes.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, Math.floor(tag / 0x10000), true);
  view.setUint16(2, tag & 0xffff, true);
  view.setUint32(4, length ?? bytes.length, true);
  out.set(bytes, 8);
  return out;
}

const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQUENCE_END = 0xfffee0dd;
const UNDEFINED = 0xffffffff;
const PIXELS = explicitElement(0x7fe00010, "OW", new Uint8Array(16));

for (const ts of [EXPLICIT_LE, IMPLICIT_LE]) {
  for (const sequenceLength of ["defined", "undefined"] as const) {
    Deno.test(`a scan asking for every top level tag keeps what the general reader reads, every VR (${ts}, ${sequenceLength} length sequences)`, async () => {
      for (const dataSet of [everyVrDataSet(), nested()]) {
        const bytes = await writeDataSet(dataSet, { transferSyntax: ts, sequenceLength });
        for (const keep of [tagsOf(dataSet), SCP_KEEP, new Set<number>()]) {
          const read = await assertHeadsAgree(bytes, ts, keep, `${ts} ${sequenceLength}`);
          assert.ok(read?.stopped, "a well-formed little endian data set is taken");
        }
      }
    });
  }
}

Deno.test("UI and CS values of one value, several, padded, spaced, empty or not ASCII are scanned as the general reader reads them", async () => {
  const values: (string | number[])[] = [
    "1.2.840.10008.5.1.4.1.1.2",
    "1.2.3\0",
    "1.2.3 ",
    " 1.2.3",
    "1.2.3\\4.5.6",
    "1.2.3\\",
    "\\",
    "",
    "\0\0",
    "  ",
    " \0",
    "\0 1",
    "ORIGINAL\\PRIMARY\\AXIAL ",
    "  ISO_IR 100",
    [0x31, 0x2e, 0xe9, 0x80, 0x00],
  ];
  for (const value of values) {
    for (const vr of ["UI", "CS"]) {
      const bytes = concatBytes([
        explicitElement(0x00080005, "CS", "ISO_IR 192"),
        explicitElement(0x00080008, vr, value),
        explicitElement(0x00080016, vr, value),
        explicitElement(0x00080018, "UI", "1.2.3.4"),
        PIXELS,
      ]);
      const label = `${vr} ${JSON.stringify(value)}`;
      const read = await assertHeadsAgree(bytes, EXPLICIT_LE, SCP_KEEP, label);
      assert.ok(read?.stopped, label);
      await assertHeadsAgree(bytes, EXPLICIT_LE, new Set([0x00080008]), label);
    }
  }
});

Deno.test("a scan decodes text asked for in the Specific Character Set read before it, follows its change from one data set to the next, and an item's own stays in the item", async () => {
  const name = [0x4d, 0xc3, 0xbc, 0x6c, 0x6c, 0x65, 0x72]; // "Müller" in UTF-8
  const keep = new Set([0x00100010]);
  const sequenceOfTerms = [
    "ISO_IR 192",
    "ISO_IR 100",
    "ISO_IR 192",
    "",
    "ISO 2022 IR 6\\ISO 2022 IR 100",
    "ISO 2022 IR 6\\ISO 2022 IR 101",
    "ISO_IR 101",
  ];
  const expected: Record<string, string> = {
    "ISO_IR 192": "Müller",
    "ISO_IR 101": "MĂźller",
    "ISO 2022 IR 6\\ISO 2022 IR 101": "MĂźller",
  };
  for (const terms of sequenceOfTerms) {
    for (const withItem of [false, true]) {
      const sequence = withItem
        ? concatBytes([
          explicitElement(0x00081140, "SQ", [], UNDEFINED),
          implicitElement(ITEM, [], UNDEFINED),
          explicitElement(0x00080005, "CS", "ISO_IR 100"),
          explicitElement(0x00100010, "PN", name),
          implicitElement(ITEM_END, []),
          implicitElement(SEQUENCE_END, []),
        ])
        : new Uint8Array(0);
      const bytes = concatBytes([
        explicitElement(0x00080005, "CS", terms),
        sequence,
        explicitElement(0x00100010, "PN", name),
        PIXELS,
      ]);
      const label = `${JSON.stringify(terms)}${withItem ? " with an item of its own" : ""}`;
      const read = await assertHeadsAgree(bytes, EXPLICIT_LE, keep, label);
      assert.ok(read?.stopped, label);
      const scanned = scanDataSetHead(bytes, transferSyntaxOf(EXPLICIT_LE)!, keep, OPTIONS)!;
      const decoded = scanned.dataSet["00100010"].Value![0] as { Alphabetic: string };
      assert.equal(decoded.Alphabetic, expected[terms] ?? "MÃ¼ller", label);
    }
  }
});

Deno.test("tags asked for are kept from the top level only, not from items", async () => {
  const bytes = concatBytes([
    explicitElement(0x00080016, "UI", "1.2.840.10008.5.1.4.1.1.7"),
    explicitElement(0x00080018, "UI", "1.2.3.4"),
    explicitElement(0x00081140, "SQ", [], UNDEFINED),
    implicitElement(ITEM, [], UNDEFINED),
    explicitElement(0x00080018, "UI", "9.9.9"),
    explicitElement(0x0020000d, "UI", "9.9.9.1"),
    implicitElement(ITEM_END, []),
    implicitElement(SEQUENCE_END, []),
    PIXELS,
  ]);
  await assertHeadsAgree(bytes, EXPLICIT_LE, SCP_KEEP, "items");
  const scanned = scanDataSetHead(bytes, transferSyntaxOf(EXPLICIT_LE)!, SCP_KEEP, OPTIONS)!;
  assert.deepEqual(Object.keys(scanned.dataSet).sort(), ["00080016", "00080018"]);
  assert.deepEqual(scanned.dataSet["00080018"].Value, ["1.2.3.4"]);
});

Deno.test("a Specific Character Set that is not text leaves the head to the general reader, at the top level or in an item", () => {
  const syntax = transferSyntaxOf(EXPLICIT_LE)!;
  const top = concatBytes([explicitElement(0x00080005, "US", [1, 0]), PIXELS]);
  const inItem = concatBytes([
    explicitElement(0x00081140, "SQ", [], UNDEFINED),
    implicitElement(ITEM, [], UNDEFINED),
    explicitElement(0x00080005, "US", [1, 0]),
    implicitElement(ITEM_END, []),
    implicitElement(SEQUENCE_END, []),
    PIXELS,
  ]);
  for (const bytes of [top, inItem]) {
    assert.equal(readDataSetHead(bytes, syntax, OPTIONS), undefined);
    assert.equal(scanDataSetHead(bytes, syntax, SCP_KEEP, OPTIONS), undefined);
  }
  // Written as text it is decoded as text.
  const asText = concatBytes([explicitElement(0x00080005, "LO", "ISO_IR 192"), PIXELS]);
  assert.ok(scanDataSetHead(asText, syntax, SCP_KEEP, OPTIONS)?.stopped);
});

Deno.test("a top level element at or after Pixel Data stops the head where it starts, with or without Pixel Data", async () => {
  const uids = concatBytes([
    explicitElement(0x00080016, "UI", "1.2.840.10008.5.1.4.1.1.7"),
    explicitElement(0x00080018, "UI", "1.2.3.4"),
  ]);
  const trailingPadding = explicitElement(0xfffcfffc, "OB", new Uint8Array(4));
  const signatures = concatBytes([
    explicitElement(0xfffafffa, "SQ", [], UNDEFINED),
    implicitElement(SEQUENCE_END, []),
  ]);
  const cases = [
    concatBytes([uids, trailingPadding]),
    concatBytes([uids, PIXELS, signatures, trailingPadding]),
    concatBytes([uids, PIXELS, explicitElement(0x00100010, "PN", "After^Pixels")]),
    concatBytes([uids, explicitElement(0x7fe00020, "OW", new Uint8Array(2)), PIXELS]),
    concatBytes([uids, explicitElement(0x7fe00010, "OB", [], UNDEFINED), new Uint8Array(3)]),
  ];
  for (const [index, bytes] of cases.entries()) {
    const read = await assertHeadsAgree(bytes, EXPLICIT_LE, SCP_KEEP, `case ${index}`);
    assert.ok(read?.stopped, `case ${index}`);
    assert.equal(read.length, uids.length, `case ${index}`);
  }
});

Deno.test("undefined length values before Pixel Data: sequences are walked, fragments, UN and Pixel Data in an item are left to the general reader", async () => {
  const explicit = transferSyntaxOf(EXPLICIT_LE)!;
  const implicit = transferSyntaxOf(IMPLICIT_LE)!;
  const items = concatBytes([
    implicitElement(ITEM, [], UNDEFINED),
    implicitElement(ITEM_END, []),
    implicitElement(SEQUENCE_END, []),
  ]);
  const uid = implicitElement(0x00080018, "1.2.3.4\0");
  // Implicit VR: an undefined length makes a sequence of any element but Pixel Data.
  for (const tag of [0x00091010, 0x00081140, 0x00280010]) {
    const bytes = concatBytes([uid, implicitElement(tag, [], UNDEFINED), items]);
    const read = await assertHeadsAgree(bytes, IMPLICIT_LE, SCP_KEEP, tagToHex(tag));
    assert.ok(read !== undefined, tagToHex(tag));
  }
  // Fragments (here an empty offset table) that would otherwise walk as a sequence's items.
  const pixelsInItem = concatBytes([
    uid,
    implicitElement(0x00081140, [], UNDEFINED),
    implicitElement(ITEM, [], UNDEFINED),
    implicitElement(0x7fe00010, [], UNDEFINED),
    implicitElement(ITEM, [], 0),
    implicitElement(SEQUENCE_END, []),
    implicitElement(ITEM_END, []),
    implicitElement(SEQUENCE_END, []),
    implicitElement(0x7fe00010, new Uint8Array(8)),
  ]);
  assert.equal(readDataSetHead(pixelsInItem, implicit, OPTIONS), undefined);
  assert.equal(scanDataSetHead(pixelsInItem, implicit, SCP_KEEP, OPTIONS), undefined);
  // Explicit VR: only SQ.
  for (const vr of ["UN", "OB", "OW", "UT"]) {
    const bytes = concatBytes([
      explicitElement(0x00080018, "UI", "1.2.3.4"),
      explicitElement(0x00091010, vr, [], UNDEFINED),
      items,
      PIXELS,
    ]);
    assert.equal(readDataSetHead(bytes, explicit, OPTIONS), undefined, vr);
    assert.equal(scanDataSetHead(bytes, explicit, SCP_KEEP, OPTIONS), undefined, vr);
  }
});

Deno.test("values up to the bulk threshold are decoded, longer ones keep their VR only, as the general reader has them", async () => {
  for (const length of [4094, 4096, 4098]) {
    const bytes = concatBytes([
      explicitElement(0x00080016, "UI", "1.2.840.10008.5.1.4.1.1.7"),
      explicitElement(0x00080018, "UI", "1." + "2".repeat(length - 2)),
      explicitElement(0x00091010, "OB", new Uint8Array(length).fill(7)),
      PIXELS,
    ]);
    const keep = new Set([0x00080018, 0x00091010]);
    const read = await assertHeadsAgree(bytes, EXPLICIT_LE, keep, `${length} bytes`);
    assert.equal(read?.dataSet["00091010"].InlineBinary === undefined, length > 4096);
  }
});

/** `levels` sequences nested one in the next, each with one item, then Pixel Data. */
function deeplyNested(
  levels: number,
  sequenceLength: "defined" | "undefined",
): Promise<Uint8Array> {
  let inner: DataSet = { "00100020": { vr: "LO", Value: ["deepest"] } };
  for (let i = 0; i < levels; i++) inner = { "00081140": { vr: "SQ", Value: [inner] } };
  return writeDataSet(
    { ...inner, "00080018": { vr: "UI", Value: ["1.2.3"] }, ...{ "7FE00010": PIXEL_ELEMENT } },
    { transferSyntax: EXPLICIT_LE, sequenceLength },
  );
}
const PIXEL_ELEMENT = { vr: "OW" as const, InlineBinary: btoa("\0\0") };

Deno.test("sequences nested 64 deep are read as the general reader reads them; deeper is left to it", async () => {
  const syntax = transferSyntaxOf(EXPLICIT_LE)!;
  for (const sequenceLength of ["defined", "undefined"] as const) {
    const deepest = await deeplyNested(64, sequenceLength);
    const read = await assertHeadsAgree(deepest, EXPLICIT_LE, SCP_KEEP, `64 ${sequenceLength}`);
    assert.ok(read?.stopped);
    const tooDeep = await deeplyNested(65, sequenceLength);
    assert.equal(readDataSetHead(tooDeep, syntax, OPTIONS), undefined);
    assert.equal(scanDataSetHead(tooDeep, syntax, SCP_KEEP, OPTIONS), undefined);
    await assert.rejects(viaReader(tooDeep, EXPLICIT_LE));
  }
});

Deno.test("in implicit VR each tag's VR comes from the dictionary as the general reader takes it: group lengths, private creators, private, repeating and unknown tags", async () => {
  const bytes = concatBytes([
    implicitElement(0x00080000, [4, 0, 0, 0]),
    implicitElement(0x00080005, "ISO_IR 100"),
    implicitElement(0x00080016, "1.2.840.10008.5.1.4.1.1.7\0"),
    implicitElement(0x00080018, "1.2.3.4\0"),
    implicitElement(0x00090010, "ACME 1.0"),
    implicitElement(0x00091001, [1, 2, 3, 4]),
    implicitElement(0x00100010, "Doe^Jane"),
    implicitElement(0x0019ff00, "unknown"),
    implicitElement(0x00281050, "40\\400 "),
    implicitElement(0x0040f0f0, [5, 6]),
    implicitElement(0x60020010, [2, 0]),
    implicitElement(0x60023000, [1, 2, 3, 4]),
    implicitElement(0x7fe00010, new Uint8Array(8)),
  ]);
  const keep = new Set([0x00080000, 0x00091001, 0x0019ff00, 0x0040f0f0, 0x60020010, 0x60023000]);
  // Twice: the second time from the VRs the first one looked up.
  for (const time of ["first", "second"]) {
    const read = await assertHeadsAgree(bytes, IMPLICIT_LE, keep, time);
    assert.ok(read?.stopped);
    await assertHeadsAgree(bytes, IMPLICIT_LE, SCP_KEEP, time);
  }
});

Deno.test("an Item or a delimiter where a data element of an item is expected leaves the head to the general reader; at the top level it stops the head", async () => {
  const uid = implicitElement(0x00080018, "1.2.3.4\0");
  const id = implicitElement(0x00100020, "ID");
  const sequence = implicitElement(0x00081140, [], UNDEFINED);
  const item = implicitElement(ITEM, [], UNDEFINED);
  const ends = concatBytes([
    implicitElement(ITEM_END, []),
    implicitElement(SEQUENCE_END, []),
    implicitElement(0x7fe00010, new Uint8Array(8)),
  ]);
  const cases = [
    concatBytes([uid, sequence, item, id, implicitElement(ITEM, [], 0), ends]),
    concatBytes([uid, sequence, item, id, implicitElement(SEQUENCE_END, []), ends]),
    // An item delimiter ending an item of defined length, and one after it.
    concatBytes([uid, sequence, implicitElement(ITEM, [], 18), id, implicitElement(ITEM_END, [])]),
    concatBytes([uid, sequence, implicitElement(ITEM, [], 10), id, implicitElement(ITEM_END, [])]),
  ];
  const syntax = transferSyntaxOf(IMPLICIT_LE)!;
  for (const [index, bytes] of cases.entries()) {
    assert.equal(readDataSetHead(bytes, syntax, OPTIONS), undefined, `case ${index}`);
    assert.equal(scanDataSetHead(bytes, syntax, SCP_KEEP, OPTIONS), undefined, `case ${index}`);
  }
  for (const tag of [ITEM, ITEM_END, SEQUENCE_END]) {
    const bytes = concatBytes([uid, implicitElement(tag, [], 0), id]);
    const read = await assertHeadsAgree(bytes, IMPLICIT_LE, SCP_KEEP, tagToHex(tag));
    assert.equal(read?.length, uid.length, tagToHex(tag));
  }
});

Deno.test("a VR that is not two upper-case letters of PS3.5 leaves the head to the general reader", () => {
  const syntax = transferSyntaxOf(EXPLICIT_LE)!;
  for (const vr of ["ui", "Ui", "U@", "[I", "ZZ", "\0\0", "UX"]) {
    const bytes = concatBytes([explicitElement(0x00080018, vr, "1.2.3.4"), PIXELS]);
    assert.equal(readDataSetHead(bytes, syntax, OPTIONS), undefined, vr);
    assert.equal(scanDataSetHead(bytes, syntax, SCP_KEEP, OPTIONS), undefined, vr);
  }
});

Deno.test("a head cut anywhere, or with a byte changed anywhere, is scanned as the head parser reads it, and read as the general reader reads it", async () => {
  for (const ts of [EXPLICIT_LE, IMPLICIT_LE]) {
    for (const dataSet of [nested(), everyVrDataSet()]) {
      for (const sequenceLength of ["defined", "undefined"] as const) {
        const bytes = await writeDataSet(dataSet, { transferSyntax: ts, sequenceLength });
        const keep = tagsOf(dataSet);
        for (let cut = 0; cut <= bytes.length; cut += 3) {
          await assertHeadsAgree(bytes.subarray(0, cut), ts, keep, `${ts} cut at ${cut}`);
        }
        for (let at = 0; at < bytes.length; at += 5) {
          const changed = bytes.slice();
          changed[at] ^= 0xa5;
          await assertHeadsAgree(changed, ts, SCP_KEEP, `${ts} byte ${at} changed`);
        }
      }
    }
  }
});

Deno.test("a copied head is the bytes asked for, apart from its source and from the copies before and after it", () => {
  const source = new Uint8Array(20000).map((_, i) => i * 7);
  const copies: { copy: Uint8Array; expected: Uint8Array }[] = [];
  for (const length of [1320, 0, 1, 4095, 4096, 4097, 9000, 1320, 3000, 3000, 3000, 25000]) {
    const from = source.subarray(length % 13);
    const copy = copyHead(from, length);
    copies.push({ copy, expected: from.slice(0, length) });
  }
  source.fill(0xee);
  for (const { copy } of copies) copy.fill(0x11, 0, 1);
  for (const [index, { copy, expected }] of copies.entries()) {
    expected.fill(0x11, 0, 1);
    assert.deepEqual(copy, expected, `copy ${index}`);
  }
});
