// The Storage SCP's synchronous head parser against the general reader: the same DICOM JSON for
// the same bytes, or no answer (the caller then uses the general reader).
import assert from "node:assert/strict";
import { readDataSetHead, scanDataSetHead } from "../../src/store/_data_set_head.ts";
import { readWholeDataSet } from "../../src/dataset/reader.ts";
import { writeDataSet } from "../../src/dataset/writer.ts";
import type { DataSet } from "../../src/dataset/dataset.ts";
import { transferSyntaxOf } from "../../src/dataset/transfer_syntax.ts";
import { PixelDataTag } from "../../src/dataset/tag.ts";
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
