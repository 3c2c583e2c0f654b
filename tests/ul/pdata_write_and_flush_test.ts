// PDataWriter.writeAndFlush: one view holding what write() then flush() would give.
import assert from "node:assert/strict";
import { concatBytes } from "../../src/dataset/writer.ts";
import { PDataWriter } from "../../src/ul/pdata.ts";
import { mulberry32 } from "./_pdu_random.ts";

Deno.test("writeAndFlush gives the same bytes as write then flush, at the end of a message and mid data set, for every PDU size", () => {
  const random = mulberry32(7);
  let messages = 0;
  for (const max of [7, 8, 9, 100, 4096, 16384, 16385, 0]) {
    for (let round = 0; round < 12; round++) {
      const separate = new PDataWriter({ maxPduLength: max });
      const combined = new PDataWriter({ maxPduLength: max });
      const expected: Uint8Array[] = [];
      const actual: Uint8Array[] = [];
      const command = new Uint8Array(1 + (random() * 200 | 0)).fill(0x11);
      expected.push(separate.write(1, true, command, true).slice());
      actual.push(combined.write(1, true, command, true).slice());
      const chunks = 1 + (random() * 4 | 0);
      for (let i = 0; i < chunks; i++) {
        const size = random() < 0.3 ? (random() * 20 | 0) : (random() * 400_000 | 0);
        const chunk = new Uint8Array(size);
        for (let j = 0; j < size; j++) chunk[j] = (j * 7 + i) & 0xff;
        const last = i === chunks - 1;
        // Mid-stream flushes too: the writer may hold back a byte there.
        const flushNow = last || random() < 0.4;
        expected.push(separate.write(1, false, chunk, last).slice());
        if (flushNow) {
          expected.push(separate.flush().slice());
          actual.push(combined.writeAndFlush(1, false, chunk, last).slice());
        } else {
          actual.push(combined.write(1, false, chunk, last).slice());
        }
      }
      assert.deepEqual(concatBytes(actual), concatBytes(expected), `max ${max}, round ${round}`);
      messages++;
    }
  }
  assert.equal(messages, 96);
});

Deno.test("writeAndFlush of a whole small message is one PDU, ready to send at once", () => {
  const writer = new PDataWriter({ maxPduLength: 16384 });
  assert.equal(writer.write(1, true, new Uint8Array(100), true).length, 0);
  const wire = writer.writeAndFlush(1, false, new Uint8Array(1000), true);
  // PS3.8 §9.3.5: 6-byte PDU header, then two PDVs of 4 + 2 header bytes each.
  assert.equal(wire.length, 6 + 6 + 100 + 6 + 1000);
  assert.deepEqual([...wire.subarray(0, 6)], [4, 0, 0, 0, 0x04, 0x58]);
  assert.deepEqual([...wire.subarray(112, 118)], [0, 0, 0x03, 0xea, 1, 2]);
});
