// The streaming transcoder between uncompressed transfer syntaxes. The DCMTK part (dcmdump,
// dcmconv) is skipped loudly when DCMTK is missing, and fails under CI=true.
import assert from "node:assert/strict";
import type { DataSet } from "../../src/dataset/dataset.ts";
import { DataSetError } from "../../src/dataset/errors.ts";
import { encodeFileMetaInformation, writePart10 } from "../../src/dataset/part10.ts";
import { readWholeDataSet } from "../../src/dataset/reader.ts";
import { transcodeDataSet } from "../../src/dataset/transcode.ts";
import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
  isTranscodable,
  isTranscodeTarget,
} from "../../src/dataset/transfer_syntax.ts";
import { toBase64 } from "../../src/dataset/value.ts";
import { concatBytes, writeDataSet } from "../../src/dataset/writer.ts";
import { dcmtkAvailable, parseDcmdump, runDcmtk } from "./_dcmdump.ts";
import { everyVrDataSet } from "./_every_vr.ts";
import { withTempDir } from "../_helpers/temp_dir.ts";
import { measureTranscodeMemory } from "../_helpers/transcode_memory.ts";

const DCMTK = dcmtkAvailable();

const NAMES: Record<string, string> = {
  [ImplicitVrLittleEndian]: "implicit VR LE",
  [ExplicitVrLittleEndian]: "explicit VR LE",
  [ExplicitVrBigEndian]: "explicit VR BE",
  [DeflatedExplicitVrLittleEndian]: "deflated explicit VR LE",
};
const TARGETS = [ImplicitVrLittleEndian, ExplicitVrLittleEndian, ExplicitVrBigEndian];
const SOURCES = [...TARGETS, DeflatedExplicitVrLittleEndian];
const DCMCONV_OPTION: Record<string, string> = {
  [ImplicitVrLittleEndian]: "+ti",
  [ExplicitVrLittleEndian]: "+te",
  [ExplicitVrBigEndian]: "+tb",
};

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + seed + (i >> 8)) & 0xff;
  return bytes;
}

/** Every VR, nested sequences, private tags, and long OW/OF/OB/UN values streamed in pieces. */
function testDataSet(): DataSet {
  return {
    ...everyVrDataSet(),
    "00091002": { vr: "LO", Value: ["private text"] },
    "00091003": { vr: "UN", InlineBinary: toBase64(pattern(40_002, 3)) },
    "00280008": { vr: "IS", Value: [1] },
    "00280101": { vr: "US", Value: [12] },
    "00420011": { vr: "OB", InlineBinary: toBase64(pattern(30_001 + 1, 5)) },
    "00660016": {
      vr: "OF",
      InlineBinary: toBase64(new Uint8Array(new Float32Array(9_999).map((_, i) => i / 3).buffer)),
    },
    "7FE00010": { vr: "OW", InlineBinary: toBase64(pattern(70_000, 1)) },
  };
}

/** Splits bytes into pieces of `size`, so values straddle pieces at every offset. */
function* pieces(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk.slice());
  return concatBytes(parts);
}

async function transcode(bytes: Uint8Array, from: string, to: string): Promise<Uint8Array> {
  return await collect(
    transcodeDataSet(pieces(bytes, 997), { from, to, bulkThreshold: 64, chunkSize: 4093 }),
  );
}

for (const from of SOURCES) {
  for (const to of TARGETS) {
    Deno.test(`transcoding ${NAMES[from]} to ${NAMES[to]} in odd-sized pieces keeps every value`, async () => {
      for (const sequenceLength of ["defined", "undefined"] as const) {
        const source = await writeDataSet(testDataSet(), { transferSyntax: from, sequenceLength });
        const out = await transcode(source, from, to);
        assert.equal(out.length % 2, 0, "odd length output");
        const read = (await readWholeDataSet([source], { transferSyntax: from })).dataSet;
        // What the source says, encoded in the target by the writer: the values to expect.
        const expected = await writeDataSet(read, { transferSyntax: to });
        assert.deepEqual(
          (await readWholeDataSet([out], { transferSyntax: to })).dataSet,
          (await readWholeDataSet([expected], { transferSyntax: to })).dataSet,
          `${sequenceLength} lengths`,
        );
      }
    });
  }
}

Deno.test("transcoding keeps bytes exact: explicit VR LE to BE and back gives the source", async () => {
  const source = await writeDataSet(testDataSet(), {
    transferSyntax: ExplicitVrLittleEndian,
    sequenceLength: "undefined",
  });
  const big = await transcode(source, ExplicitVrLittleEndian, ExplicitVrBigEndian);
  assert.notDeepEqual(big, source);
  assert.deepEqual(await transcode(big, ExplicitVrBigEndian, ExplicitVrLittleEndian), source);
  const implicit = await transcode(source, ExplicitVrLittleEndian, ImplicitVrLittleEndian);
  const again = await transcode(implicit, ImplicitVrLittleEndian, ImplicitVrLittleEndian);
  assert.deepEqual(again, implicit);
});

/** Sizes of the pieces read, of the chunks written, and the bulk threshold. */
const SPLITS: [number, number, number][] = [
  [1, 4093, 64],
  [3, 7, 64],
  [997, 1, 64],
  [997, 3, 1 << 30],
  [4096, 5, 64],
  [65536, 9, 1 << 30],
  [65536, 6, 1],
];

Deno.test("transcoding gives the same bytes whatever the sizes of the pieces read and the chunks written", async () => {
  const dataSet: DataSet = {
    ...testDataSet(),
    "00660022": {
      vr: "OD",
      InlineBinary: toBase64(new Uint8Array(new Float64Array(5_003).map((_, i) => i / 7).buffer)),
    },
  };
  const pairs = [
    [ExplicitVrLittleEndian, ExplicitVrBigEndian],
    [ExplicitVrBigEndian, ExplicitVrLittleEndian],
  ];
  for (const [from, to] of pairs) {
    const source = await writeDataSet(dataSet, {
      transferSyntax: from,
      sequenceLength: "undefined",
    });
    const whole = { bulkThreshold: 1 << 30, chunkSize: 1 << 20 };
    const expected = await collect(transcodeDataSet([source], { from, to, ...whole }));
    assert.deepEqual(
      await collect(transcodeDataSet([expected], { from: to, to: from, ...whole })),
      source,
    );
    // Numbers of 2, 4 and 8 bytes straddle both the pieces read and the chunks written.
    for (const [piece, chunkSize, bulkThreshold] of SPLITS) {
      const out = await collect(
        transcodeDataSet(pieces(source, piece), { from, to, bulkThreshold, chunkSize }),
      );
      assert.deepEqual(out, expected, `pieces of ${piece}, chunks of ${chunkSize}`);
    }
  }
});

Deno.test("transcoding swaps OW, OF and US per value and leaves OB and UN bytes alone", async () => {
  const dataSet: DataSet = {
    "00091003": { vr: "UN", InlineBinary: toBase64(new Uint8Array([1, 2, 3, 4])) },
    "00283006": { vr: "US", Value: [0x0102] },
    "00420011": { vr: "OB", InlineBinary: toBase64(new Uint8Array([1, 2, 3, 4])) },
    "00660016": { vr: "OF", InlineBinary: toBase64(new Uint8Array([1, 2, 3, 4])) },
    "7FE00010": { vr: "OW", InlineBinary: toBase64(new Uint8Array([1, 2, 3, 4])) },
  };
  const source = await writeDataSet(dataSet, { transferSyntax: ExplicitVrLittleEndian });
  const out = await collect(
    transcodeDataSet(pieces(source, 1), {
      from: ExplicitVrLittleEndian,
      to: ExplicitVrBigEndian,
      bulkThreshold: 1,
    }),
  );
  const hex = Array.from(out, (b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(
    hex,
    "00091003554e00000000000401020304" + // UN: as it is
      "0028300655530002" + "0102" + // US: swapped
      "004200114f420000000000040102030" + "4" + // OB: as it is
      "006600164f460000000000040403020" + "1" + // OF: one 4-byte number swapped
      "7fe000104f570000000000040201040" + "3", // OW: two 2-byte numbers swapped
  );
});

Deno.test("transcoding an implicit VR PN value too long for its VR's 2-byte length writes it as UN", async () => {
  const long = pattern(70_000, 9);
  const header = new Uint8Array([0x10, 0x00, 0x10, 0x00, 0x70, 0x11, 0x01, 0x00]);
  const out = await transcode(
    concatBytes([header, long]),
    ImplicitVrLittleEndian,
    ExplicitVrLittleEndian,
  );
  assert.deepEqual(
    [...out.subarray(0, 12)],
    [0x10, 0x00, 0x10, 0x00, 0x55, 0x4e, 0, 0, 0x70, 0x11, 0x01, 0x00],
  );
  assert.deepEqual(out.subarray(12), long);
});

Deno.test("transcoding leaves out group length elements, whose values would be wrong", async () => {
  const source = await writeDataSet({
    "00100010": { vr: "PN", Value: [{ Alphabetic: "Doe^Jane" }] },
  }, { transferSyntax: ImplicitVrLittleEndian });
  const withLength = concatBytes([
    new Uint8Array([0x10, 0, 0, 0, 4, 0, 0, 0, source.length, 0, 0, 0]),
    source,
  ]);
  const out = await transcode(withLength, ImplicitVrLittleEndian, ExplicitVrLittleEndian);
  const read = await readWholeDataSet([out], { transferSyntax: ExplicitVrLittleEndian });
  assert.deepEqual(Object.keys(read.dataSet), ["00100010"]);
});

Deno.test("compressed transfer syntaxes are neither transcoded from nor to", async () => {
  assert.equal(isTranscodable("1.2.840.10008.1.2.4.50"), false);
  assert.equal(isTranscodable(DeflatedExplicitVrLittleEndian), true);
  assert.equal(isTranscodeTarget(DeflatedExplicitVrLittleEndian), false);
  assert.equal(isTranscodeTarget(ExplicitVrBigEndian), true);
  // JPIP referenced: no native data set to rewrite. An empty UID names no transfer syntax.
  assert.equal(isTranscodable("1.2.840.10008.1.2.4.94"), false);
  assert.equal(isTranscodable(""), false);
  assert.equal(isTranscodeTarget(""), false);
  await assert.rejects(
    collect(transcodeDataSet([new Uint8Array(8)], {
      from: "1.2.840.10008.1.2.4.50",
      to: ExplicitVrLittleEndian,
    })),
    (e) => e instanceof DataSetError && /JPEG Baseline.*cannot be transcoded/.test(e.message),
  );
  // Encapsulated pixel data met in an uncompressed transfer syntax stops the conversion.
  const fragments = await writeDataSet({
    "7FE00010": { vr: "OB", Fragments: ["", toBase64(new Uint8Array([1, 2]))] },
  }, { transferSyntax: ExplicitVrLittleEndian });
  await assert.rejects(
    collect(transcodeDataSet([fragments], {
      from: ExplicitVrLittleEndian,
      to: ImplicitVrLittleEndian,
    })),
    (e) => e instanceof DataSetError && /compressed data is not transcoded/.test(e.message),
  );
});

async function dump(path: string): Promise<string[]> {
  const shown = await runDcmtk("dcmdump", ["-E", "-Un", "+L", path]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(shown.stderr, "", "dcmdump printed warnings");
  return parseDcmdump(shown.stdout);
}

async function dcmconv(input: string, to: string, output: string): Promise<void> {
  const done = await runDcmtk("dcmconv", [DCMCONV_OPTION[to], input, output]);
  assert.equal(done.code, 0, done.stderr);
}

async function writeTranscoded(
  path: string,
  dataSet: Uint8Array,
  from: string,
  to: string,
): Promise<Uint8Array> {
  const out = await transcode(dataSet, from, to);
  const meta = encodeFileMetaInformation({
    mediaStorageSopClassUid: "1.2.840.10008.5.1.4.1.1.7",
    mediaStorageSopInstanceUid: "1.2.826.0.1.3680043.2.1125.1.42",
    transferSyntaxUid: to,
  });
  await Deno.writeFile(path, concatBytes([meta, out]));
  return out;
}

for (const from of TARGETS) {
  for (const to of TARGETS) {
    if (from === to) continue;
    Deno.test({
      name: `${NAMES[from]} transcoded to ${
        NAMES[to]
      } and back shows in dcmdump as dcmconv's conversion and the source (DCMTK)`,
      ignore: !DCMTK,
      async fn() {
        await withTempDir(async (dir) => {
          const file = await writePart10(testDataSet(), {
            transferSyntaxUid: from,
            sequenceLength: "defined",
          });
          await Deno.writeFile(`${dir}/source.dcm`, file);
          const dataSetOffset = file.length -
            (await writeDataSet(testDataSet(), { transferSyntax: from, sequenceLength: "defined" }))
              .length;
          const there = await writeTranscoded(
            `${dir}/ours.dcm`,
            file.subarray(dataSetOffset),
            from,
            to,
          );
          await dcmconv(`${dir}/source.dcm`, to, `${dir}/theirs.dcm`);
          assert.deepEqual(await dump(`${dir}/ours.dcm`), await dump(`${dir}/theirs.dcm`));

          await writeTranscoded(`${dir}/back.dcm`, there, to, from);
          // Implicit VR loses the VR of private data; dcmconv's own round trip says what remains.
          const lossless = from === ImplicitVrLittleEndian || to !== ImplicitVrLittleEndian;
          if (lossless) {
            assert.deepEqual(await dump(`${dir}/back.dcm`), await dump(`${dir}/source.dcm`));
          } else {
            await dcmconv(`${dir}/theirs.dcm`, from, `${dir}/theirs_back.dcm`);
            assert.deepEqual(await dump(`${dir}/back.dcm`), await dump(`${dir}/theirs_back.dcm`));
          }
        });
      },
    });
  }
}

Deno.test("an undefined length UN holding an implicit VR LE sequence is kept as it is in explicit VR BE and becomes a plain sequence in implicit VR LE", async () => {
  // (0009,1010) UN of undefined length: one item with (0008,0100) SH "C1" in implicit VR LE.
  const inner = [
    ...[0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff], // item, undefined length
    ...[0x08, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x43, 0x31], // (0008,0100) "C1"
    ...[0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0], // item delimitation
    ...[0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0], // sequence delimitation
  ];
  const source = new Uint8Array([
    ...[0x09, 0x00, 0x10, 0x10, 0x55, 0x4e, 0, 0, 0xff, 0xff, 0xff, 0xff],
    ...inner,
  ]);
  const big = await transcode(source, ExplicitVrLittleEndian, ExplicitVrBigEndian);
  assert.deepEqual(
    [...big],
    [0x00, 0x09, 0x10, 0x10, 0x55, 0x4e, 0, 0, 0xff, 0xff, 0xff, 0xff, ...inner],
  );
  const implicit = await transcode(source, ExplicitVrLittleEndian, ImplicitVrLittleEndian);
  assert.deepEqual([...implicit], [0x09, 0x00, 0x10, 0x10, 0xff, 0xff, 0xff, 0xff, ...inner]);
  assert.deepEqual(
    await transcode(big, ExplicitVrBigEndian, ExplicitVrLittleEndian),
    source,
  );
});

Deno.test("transcoding 256 MB in explicit VR LE to BE holds memory constant", async () => {
  // Live memory after forced full collections, in a process of its own: the resident set size
  // also counts uncollected garbage and other tests' memory, and is not the same twice.
  const limit = 64 * 1024 * 1024;
  const report = await measureTranscodeMemory({
    valueLength: 256 * 1024 * 1024,
    sampleEvery: 16 * 1024 * 1024,
  });
  // The header in big endian, then the first 16-bit number swapped.
  assert.deepEqual(report.head, [
    ...[0x7f, 0xe0, 0x00, 0x10, 0x4f, 0x57, 0, 0, 0x10, 0, 0, 0],
    ...[0x01, 0x00],
  ]);
  assert.equal(report.bytes, 256 * 1024 * 1024 + 12);
  assert.equal(report.samples.length, 16);
  const grown = Math.max(...report.samples) - report.baseline;
  assert.ok(grown < limit, `live memory grew by ${(grown / 1048576).toFixed(1)} MiB`);
});
