import assert from "node:assert/strict";
import { PDataWriter, PduStreamReader } from "../../src/ul/pdata.ts";
import { PduError } from "../../src/ul/errors.ts";
import { mulberry32 } from "./_pdu_random.ts";
import { concatBytes } from "../../src/dataset/writer.ts";

/** A valid stream: a few messages through a writer, then an A-RELEASE-RQ. */
function validStream(random: () => number): Uint8Array {
  const writer = new PDataWriter({ maxPduLength: 7 + Math.floor(random() * 300) });
  const parts: Uint8Array[] = [];
  for (let m = 0; m < 3; m++) {
    const command = new Uint8Array(1 + Math.floor(random() * 100)).map(() => random() * 256);
    parts.push(writer.write(1, true, command, true).slice());
    const data = new Uint8Array(Math.floor(random() * 1000)).map(() => random() * 256);
    parts.push(writer.write(3, false, data, true).slice(), writer.flush().slice());
  }
  parts.push(new Uint8Array([5, 0, 0, 0, 0, 4, 0, 0, 0, 0]));
  return concatBytes(parts);
}

/** Feeds bytes in random pieces; returns "ok" or the PduError, failing on anything else. */
function feed(random: () => number, bytes: Uint8Array): "ok" | PduError {
  const reader = new PduStreamReader({ maxPDataTfLength: 4096, maxOtherPduLength: 4096 });
  let expected = -1;
  let got = 0;
  try {
    let off = 0;
    while (off < bytes.length) {
      const n = 1 + Math.floor(random() * 64);
      const piece = bytes.subarray(off, off + n);
      off += n;
      const events = random() < 0.5 ? reader.push(piece) : (() => {
        reader.writable(piece.length).set(piece);
        return reader.commit(piece.length);
      })();
      for (const e of events) {
        if (e.kind === "pdv") {
          assert.equal(expected, -1, "a PDV starts after the previous one ended");
          assert.equal(e.presentationContextId % 2, 1, "context ids are odd");
          expected = e.length;
          got = 0;
        } else if (e.kind === "pdv-data") {
          got += e.bytes.length;
          assert.ok(got <= expected, "a PDV never carries more than its length");
          if (e.endOfPdv) {
            assert.equal(got, expected, "a PDV carries exactly its length");
            expected = -1;
          }
        } else if (e.kind === "pdu") {
          assert.ok(e.bytes.length <= 4096 + 6, "other PDUs stay within their bound");
          assert.ok([1, 2, 3, 5, 6, 7].includes(e.pduType));
        } else {
          assert.ok(e.length >= 1 && e.length <= 4096, "P-DATA-TF length within the maximum");
        }
      }
    }
    return "ok";
  } catch (e) {
    assert.ok(e instanceof PduError, `only PduError escapes, got ${e}`);
    assert.ok([1, 6].includes(e.abortReason), `abort reason ${e.abortReason}`);
    return e;
  }
}

Deno.test("2000 mutated valid streams give events or a PduError, nothing else", () => {
  const random = mulberry32(0xf022);
  let errors = 0;
  for (let i = 0; i < 2000; i++) {
    const bytes = validStream(random);
    const flips = 1 + Math.floor(random() * 4);
    for (let f = 0; f < flips; f++) {
      bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    }
    if (feed(random, bytes) !== "ok") errors++;
  }
  assert.ok(errors > 0, "some mutations are caught");
});

Deno.test("unmutated streams from the writer always frame without error", () => {
  const random = mulberry32(0x900d);
  for (let i = 0; i < 300; i++) assert.equal(feed(random, validStream(random)), "ok");
});

Deno.test("2000 random byte strings give events or a PduError, nothing else", () => {
  const random = mulberry32(0xbad);
  for (let i = 0; i < 2000; i++) {
    const bytes = new Uint8Array(Math.floor(random() * 512)).map(() => random() * 256);
    // Steer half of them towards plausible headers.
    if (random() < 0.5 && bytes.length > 12) {
      bytes[0] = 4;
      bytes[2] = bytes[3] = bytes[4] = 0;
      bytes[6] = bytes[7] = bytes[8] = 0;
    }
    feed(random, bytes);
  }
});
