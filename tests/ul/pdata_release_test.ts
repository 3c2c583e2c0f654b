// Reuse of the buffers pdv-data bytes are copied into, once a consumer gives every view back.
import assert from "node:assert/strict";
import { PDataWriter, PduStreamReader, releasePdvBytes } from "../../src/ul/pdata.ts";
import type { PduStreamEvent } from "../../src/ul/pdata.ts";
import { concatBytes } from "../../src/dataset/writer.ts";

/** One P-DATA-TF with two data set PDVs of `length` bytes each, filled with `fill`. */
function twoPdvs(length: number, fill: number): Uint8Array {
  const writer = new PDataWriter({ maxPduLength: 1 << 20 });
  const parts = [
    writer.write(1, false, new Uint8Array(length).fill(fill), true).slice(),
    writer.write(1, false, new Uint8Array(length).fill(fill + 1), true).slice(),
    writer.flush().slice(),
  ];
  return concatBytes(parts);
}

function pdvBytes(reader: PduStreamReader, input: Uint8Array): Uint8Array[] {
  reader.writable(input.length).set(input);
  return reader.commit(input.length)
    .filter((e): e is Extract<PduStreamEvent, { kind: "pdv-data" }> => e.kind === "pdv-data")
    .map((e) => e.bytes);
}

Deno.test("a pdv-data buffer is reused only once every view of it is given back, and a second give-back is ignored", () => {
  const reader = new PduStreamReader({ maxPDataTfLength: 0 });
  const [a, b] = pdvBytes(reader, twoPdvs(10_000, 1));
  assert.equal(a.buffer, b.buffer, "one buffer per read");
  assert.ok(a.every((x) => x === 1) && b.every((x) => x === 2));

  releasePdvBytes(a);
  releasePdvBytes(a);
  const [c, d] = pdvBytes(reader, twoPdvs(10_000, 3));
  assert.notEqual(c.buffer, a.buffer, "b is still out: its buffer is not reused");
  assert.ok(b.every((x) => x === 2), "b unchanged");

  releasePdvBytes(b);
  const [e, f] = pdvBytes(reader, twoPdvs(10_000, 5));
  assert.equal(e.buffer, a.buffer, "all views given back: the buffer takes the next read");
  assert.ok(e.every((x) => x === 5) && f.every((x) => x === 6));
  assert.ok(c.every((x) => x === 3) && d.every((x) => x === 4), "c and d unchanged");
});

Deno.test("small pdv-data reads get buffers of their own, never reused", () => {
  const reader = new PduStreamReader({ maxPDataTfLength: 0 });
  const [a, b] = pdvBytes(reader, twoPdvs(100, 1));
  releasePdvBytes(a);
  releasePdvBytes(b);
  const [c] = pdvBytes(reader, twoPdvs(100, 3));
  assert.notEqual(c.buffer, a.buffer);
  assert.equal(a.buffer.byteLength, 200);
  assert.ok(a.every((x) => x === 1), "a given-back small view is left as it was");
});
