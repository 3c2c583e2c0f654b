import assert from "node:assert/strict";
import { type DataSet, sortDataSet } from "../../src/dataset/dataset.ts";
import { readDataSet, readWholeDataSet } from "../../src/dataset/reader.ts";
import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from "../../src/dataset/transfer_syntax.ts";
import { vrOf } from "../../src/dataset/dictionary.ts";
import { parseTag, PixelDataTag } from "../../src/dataset/tag.ts";
import { toBase64 } from "../../src/dataset/value.ts";
import { writeDataSet } from "../../src/dataset/writer.ts";
import { everyVrDataSet } from "./_every_vr.ts";

const SYNTAXES = [
  ["implicit VR little endian", ImplicitVrLittleEndian],
  ["explicit VR little endian", ExplicitVrLittleEndian],
  ["explicit VR big endian", ExplicitVrBigEndian],
  ["deflated explicit VR little endian", DeflatedExplicitVrLittleEndian],
] as const;

/** Splits bytes into chunks of the given sizes, cycling through them. */
function* chunked(bytes: Uint8Array, sizes: () => number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length;) {
    const n = Math.max(1, sizes());
    yield bytes.slice(at, at + n);
    at += n;
  }
}

function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return 1 + (s % 97);
  };
}

Deno.test("every tag of the every-VR data set has that VR in the dictionary, so implicit VR can recover it", () => {
  for (const [key, element] of Object.entries(everyVrDataSet())) {
    if (key === "00091001" || key === "7FE00010") continue;
    assert.equal(vrOf(parseTag(key)!), element.vr, key);
  }
});

Deno.test("the every-VR data set covers all 34 VRs of PS3.5 Table 6.2-1", () => {
  const seen = new Set<string>();
  const walk = (ds: DataSet) => {
    for (const el of Object.values(ds)) {
      seen.add(el.vr);
      if (el.vr === "SQ") { for (const item of el.Value ?? []) walk(item as DataSet); }
    }
  };
  walk(everyVrDataSet());
  assert.equal(seen.size, 34);
});

for (const [name, uid] of SYNTAXES) {
  for (const sequenceLength of ["defined", "undefined"] as const) {
    Deno.test(`every VR round-trips through ${name} with ${sequenceLength} length sequences`, async () => {
      const original = everyVrDataSet();
      const bytes = await writeDataSet(original, { transferSyntax: uid, sequenceLength });
      assert.equal(bytes.length % 2 === 0 || uid === DeflatedExplicitVrLittleEndian, true);
      const { dataSet } = await readWholeDataSet([bytes], { transferSyntax: uid });
      assert.deepEqual(sortDataSet(dataSet), sortDataSet(original));
    });
  }

  Deno.test(`${name} reads the same with 1-byte chunks and with random chunks`, async () => {
    const original = everyVrDataSet();
    const bytes = await writeDataSet(original, { transferSyntax: uid, sequenceLength: "defined" });
    const ones = await readWholeDataSet(chunked(bytes, () => 1), { transferSyntax: uid });
    assert.deepEqual(sortDataSet(ones.dataSet), sortDataSet(original));
    for (const seed of [1, 2, 3]) {
      const random = await readWholeDataSet(chunked(bytes, seeded(seed)), { transferSyntax: uid });
      assert.deepEqual(sortDataSet(random.dataSet), sortDataSet(original));
    }
  });

  Deno.test(`encapsulated pixel data with an empty offset table and odd fragments round-trips in ${name}`, async () => {
    const original: DataSet = {
      "00280010": { vr: "US", Value: [1] },
      "7FE00010": {
        vr: "OB",
        Fragments: [
          toBase64(new Uint8Array(0)),
          toBase64(new Uint8Array([0xff, 0xd8, 0xff, 0xd9])),
          toBase64(new Uint8Array([1, 2])),
        ],
      },
    };
    const bytes = await writeDataSet(original, { transferSyntax: uid });
    const { dataSet } = await readWholeDataSet(chunked(bytes, () => 3), { transferSyntax: uid });
    assert.deepEqual(dataSet, original);
  });
}

Deno.test("writer pads odd values per VR: space for text, NUL for UI, NUL for OB", async () => {
  const bytes = await writeDataSet({
    "00080016": { vr: "UI", Value: ["1.2.3"] },
    "00100020": { vr: "LO", Value: ["ABC"] },
    "00420011": { vr: "OB", InlineBinary: toBase64(new Uint8Array([7])) },
  }, { transferSyntax: ExplicitVrLittleEndian });
  // (0008,0016) UI len 6 "1.2.3\0"
  assert.deepEqual([...bytes.subarray(6, 14)], [6, 0, 0x31, 0x2e, 0x32, 0x2e, 0x33, 0]);
  // (0010,0020) LO len 4 "ABC "
  assert.deepEqual([...bytes.subarray(20, 26)], [4, 0, 0x41, 0x42, 0x43, 0x20]);
  // (0042,0011) OB reserved, len 2, 07 00
  assert.deepEqual([...bytes.subarray(32, 40)], [0, 0, 2, 0, 0, 0, 7, 0]);
});

Deno.test("explicit VR writer refuses a short-form value longer than 65534 bytes", async () => {
  await assert.rejects(
    writeDataSet({ "00100020": { vr: "LO", Value: ["x".repeat(70000)] } }, {
      transferSyntax: ExplicitVrLittleEndian,
    }),
    /longer than 65534 bytes/,
  );
});

function le16(n: number): number[] {
  return [n & 0xff, n >> 8];
}
function le32(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}
function ascii(text: string): number[] {
  return [...text].map((c) => c.charCodeAt(0));
}

Deno.test("UN of undefined length is read as an implicit VR little endian sequence (PS3.5 §6.2.2)", async () => {
  const bytes = new Uint8Array([
    // (0011,0010) LO "ACME"
    ...le16(0x11),
    ...le16(0x10),
    ...ascii("LO"),
    ...le16(4),
    ...ascii("ACME"),
    // (0011,1010) UN, undefined length
    ...le16(0x11),
    ...le16(0x1010),
    ...ascii("UN"),
    0,
    0,
    ...le32(0xffffffff),
    // item, undefined length, holding (0008,0100) SH "C1" in implicit VR
    ...le16(0xfffe),
    ...le16(0xe000),
    ...le32(0xffffffff),
    ...le16(0x8),
    ...le16(0x100),
    ...le32(2),
    ...ascii("C1"),
    ...le16(0xfffe),
    ...le16(0xe00d),
    ...le32(0),
    // item of defined length (8 + 2 bytes)
    ...le16(0xfffe),
    ...le16(0xe000),
    ...le32(10),
    ...le16(0x8),
    ...le16(0x102),
    ...le32(2),
    ...ascii("99"),
    ...le16(0xfffe),
    ...le16(0xe0dd),
    ...le32(0),
    // (0011,1011) UN of defined length stays binary
    ...le16(0x11),
    ...le16(0x1011),
    ...ascii("UN"),
    0,
    0,
    ...le32(2),
    5,
    6,
  ]);
  const { dataSet } = await readWholeDataSet(chunked(bytes, () => 1), {
    transferSyntax: ExplicitVrLittleEndian,
  });
  assert.deepEqual(dataSet, {
    "00110010": { vr: "LO", Value: ["ACME"] },
    "00111010": {
      vr: "SQ",
      Value: [{ "00080100": { vr: "SH", Value: ["C1"] } }, {
        "00080102": { vr: "SH", Value: ["99"] },
      }],
    },
    "00111011": { vr: "UN", InlineBinary: toBase64(new Uint8Array([5, 6])) },
  });
});

Deno.test("private tags are kept: creator as LO, data as UN in implicit VR, with their VR in explicit VR", async () => {
  const original: DataSet = {
    "00290010": { vr: "LO", Value: ["VENDOR"] },
    "00291008": { vr: "UN", InlineBinary: toBase64(new Uint8Array([9, 8, 7, 6])) },
    "00291009": { vr: "DS", Value: [3.5] },
  };
  const explicit = await writeDataSet(original, { transferSyntax: ExplicitVrLittleEndian });
  assert.deepEqual(
    (await readWholeDataSet([explicit], { transferSyntax: ExplicitVrLittleEndian })).dataSet,
    original,
  );
  const implicit = await writeDataSet(original, { transferSyntax: ImplicitVrLittleEndian });
  const read =
    (await readWholeDataSet([implicit], { transferSyntax: ImplicitVrLittleEndian })).dataSet;
  assert.deepEqual(read["00290010"], original["00290010"]);
  assert.deepEqual(read["00291008"], original["00291008"]);
  assert.deepEqual(read["00291009"], {
    vr: "UN",
    InlineBinary: toBase64(new TextEncoder().encode("3.5 ")),
  });
});

Deno.test("stopAtTag stops before Pixel Data without consuming it and reports its offset", async () => {
  const original = everyVrDataSet();
  const withoutPixels = { ...original };
  delete withoutPixels["7FE00010"];
  for (const [, uid] of SYNTAXES.slice(0, 3)) {
    const head = await writeDataSet(withoutPixels, { transferSyntax: uid });
    const bytes = await writeDataSet(original, { transferSyntax: uid });
    const result = await readWholeDataSet(chunked(bytes, () => 5), {
      transferSyntax: uid,
      stopAtTag: PixelDataTag,
    });
    assert.deepEqual(result.stopped, { tag: PixelDataTag, offset: head.length });
    assert.deepEqual(sortDataSet(result.dataSet), sortDataSet(withoutPixels));
  }
});

Deno.test("bulk values above the threshold are skipped, or delivered in pieces as they arrive", async () => {
  const pixels = new Uint8Array(1000).map((_, i) => i & 0xff);
  const original: DataSet = {
    "00100020": { vr: "LO", Value: ["P"] },
    "7FE00010": { vr: "OB", InlineBinary: toBase64(pixels) },
  };
  const bytes = await writeDataSet(original, { transferSyntax: ExplicitVrLittleEndian });
  const skipped = await readWholeDataSet(chunked(bytes, () => 64), {
    transferSyntax: ExplicitVrLittleEndian,
    bulkThreshold: 100,
    bulk: "skip",
  });
  assert.deepEqual(skipped.dataSet, {
    "00100020": { vr: "LO", Value: ["P"] },
    "7FE00010": { vr: "OB" },
  });

  let pieces = 0;
  let largest = 0;
  const received: number[] = [];
  for await (
    const token of readDataSet(chunked(bytes, () => 64), {
      transferSyntax: ExplicitVrLittleEndian,
      bulkThreshold: 100,
    })
  ) {
    if (token.kind === "element" && token.tag === PixelDataTag) assert.equal(token.bulk, "chunked");
    if (token.kind === "value-chunk") {
      pieces++;
      largest = Math.max(largest, token.bytes.length);
      received.push(...token.bytes);
    }
  }
  assert.ok(pieces >= 15, `expected many pieces, got ${pieces}`);
  assert.ok(largest <= 64);
  assert.deepEqual(received, [...pixels]);
});

Deno.test("a data set cut inside a value is an unexpected-end-of-data error", async () => {
  const bytes = await writeDataSet(everyVrDataSet(), { transferSyntax: ExplicitVrLittleEndian });
  await assert.rejects(
    readWholeDataSet([bytes.subarray(0, bytes.length - 3)], {
      transferSyntax: ExplicitVrLittleEndian,
    }),
    (error: Error) =>
      error.name === "DataSetError" &&
      (error as { code?: string }).code === "unexpected-end-of-data",
  );
});

Deno.test("an invalid VR in explicit VR is an invalid-vr error naming the tag", async () => {
  const bytes = new Uint8Array([...le16(0x10), ...le16(0x10), ...ascii("ZZ"), ...le16(0)]);
  await assert.rejects(
    readWholeDataSet([bytes], { transferSyntax: ExplicitVrLittleEndian }),
    (error: Error) =>
      (error as { code?: string }).code === "invalid-vr" && /00100010/.test(error.message),
  );
});

Deno.test("Specific Character Set ISO_IR 100 decodes latin1 and is inherited by sequence items", async () => {
  const bytes = await writeDataSet({
    "00080005": { vr: "CS", Value: ["ISO_IR 100"] },
    "00100010": { vr: "PN", Value: [{ Alphabetic: "Gómez^José" }] },
    "00400275": { vr: "SQ", Value: [{ "00321060": { vr: "LO", Value: ["Ärztin"] } }] },
  }, { transferSyntax: ExplicitVrLittleEndian });
  assert.ok(bytes.includes(0xf3), "ó is written as the single latin1 byte F3");
  const { dataSet } = await readWholeDataSet([bytes], { transferSyntax: ExplicitVrLittleEndian });
  assert.deepEqual(dataSet["00100010"].Value, [{ Alphabetic: "Gómez^José" }]);
  assert.deepEqual((dataSet["00400275"].Value![0] as DataSet)["00321060"].Value, ["Ärztin"]);
});

Deno.test("deflated data sets are written with even length and read with a trailing pad byte", async () => {
  const { deflateRaw, concatBytes, encodeDataSetParts } = await import(
    "../../src/dataset/writer.ts"
  );
  for (let i = 1; i < 40; i++) {
    const original: DataSet = { "00100020": { vr: "LO", Value: ["ID".repeat(i) + i] } };
    const bytes = await writeDataSet(original, { transferSyntax: DeflatedExplicitVrLittleEndian });
    assert.equal(bytes.length % 2, 0);
    const raw = await deflateRaw(
      concatBytes(encodeDataSetParts(original, { transferSyntax: ExplicitVrLittleEndian })),
    );
    const padded = new Uint8Array([...raw, 0]);
    const read = await readWholeDataSet([padded], {
      transferSyntax: DeflatedExplicitVrLittleEndian,
    });
    assert.deepEqual(read.dataSet, original);
  }
});

Deno.test("retired group lengths outside group 0002 are left out when writing", async () => {
  const bytes = await writeDataSet({
    "00080000": { vr: "UL", Value: [999] },
    "00080060": { vr: "CS", Value: ["OT"] },
  }, { transferSyntax: ExplicitVrLittleEndian });
  const { dataSet } = await readWholeDataSet([bytes], { transferSyntax: ExplicitVrLittleEndian });
  assert.deepEqual(dataSet, { "00080060": { vr: "CS", Value: ["OT"] } });
});

function be16(n: number): number[] {
  return [n >> 8, n & 0xff];
}

Deno.test("UN of undefined length inside explicit VR big endian is still read as implicit VR little endian", async () => {
  const bytes = new Uint8Array([
    ...be16(0x11),
    ...be16(0x10),
    ...ascii("LO"),
    ...be16(4),
    ...ascii("ACME"),
    ...be16(0x11),
    ...be16(0x1010),
    ...ascii("UN"),
    0,
    0,
    0xff,
    0xff,
    0xff,
    0xff,
    ...le16(0xfffe),
    ...le16(0xe000),
    ...le32(0xffffffff),
    ...le16(0x28),
    ...le16(0x10),
    ...le32(2),
    ...le16(512),
    ...le16(0xfffe),
    ...le16(0xe00d),
    ...le32(0),
    ...le16(0xfffe),
    ...le16(0xe0dd),
    ...le32(0),
    ...be16(0x28),
    ...be16(0x11),
    ...ascii("US"),
    ...be16(2),
    ...be16(256),
  ]);
  const { dataSet } = await readWholeDataSet(chunked(bytes, () => 2), {
    transferSyntax: ExplicitVrBigEndian,
  });
  assert.deepEqual(dataSet, {
    "00110010": { vr: "LO", Value: ["ACME"] },
    "00111010": { vr: "SQ", Value: [{ "00280010": { vr: "US", Value: [512] } }] },
    "00280011": { vr: "US", Value: [256] },
  });
});
