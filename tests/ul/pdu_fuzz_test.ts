// Bounded fuzzing of the PDU decoder: mutated valid PDUs and random bytes either decode or throw
// PduError, never anything else; whatever decodes re-encodes and decodes to the same value.
import assert from "node:assert/strict";
import { decodePdu, encodePdu } from "../../src/ul/codec.ts";
import { PduError } from "../../src/ul/errors.ts";
import { mulberry32, randomInt, randomPdu, type Rng } from "./_pdu_random.ts";

const FIXTURES = new URL("../fixtures/dcmtk/", import.meta.url);

function fixtureSeeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const entry of Deno.readDirSync(FIXTURES)) {
    if (entry.name.endsWith(".bin")) out.push(Deno.readFileSync(new URL(entry.name, FIXTURES)));
  }
  return out;
}

function setPduLength(bytes: Uint8Array): void {
  if (bytes.length >= 6) new DataView(bytes.buffer).setUint32(2, bytes.length - 6);
}

function mutate(rng: Rng, seed: Uint8Array): Uint8Array {
  let bytes = seed.slice();
  const edits = randomInt(rng, 1, 4);
  for (let e = 0; e < edits; e++) {
    const at = randomInt(rng, 0, Math.max(0, bytes.length - 1));
    switch (randomInt(rng, 0, 5)) {
      case 0: // flip a byte
        if (bytes.length > 0) bytes[at] = randomInt(rng, 0, 255);
        break;
      case 1: // truncate
        bytes = bytes.slice(0, at);
        break;
      case 2: { // insert random bytes
        const extra = new Uint8Array(randomInt(rng, 1, 8)).map(() => randomInt(rng, 0, 255));
        const next = new Uint8Array(bytes.length + extra.length);
        next.set(bytes.subarray(0, at));
        next.set(extra, at);
        next.set(bytes.subarray(at), at + extra.length);
        bytes = next;
        break;
      }
      case 3: // an extreme 16-bit length somewhere
        if (at + 1 < bytes.length) {
          const v = [0, 1, 2, 3, 0x7fff, 0xffff][randomInt(rng, 0, 5)];
          bytes[at] = v >> 8;
          bytes[at + 1] = v & 0xff;
        }
        break;
      case 4: // an extreme 32-bit length somewhere
        if (at + 3 < bytes.length) {
          const v = [0, 1, 2, 0xffffffff, 0x7fffffff][randomInt(rng, 0, 4)];
          new DataView(bytes.buffer).setUint32(at, v);
        }
        break;
      default: // delete a range
        bytes = new Uint8Array([
          ...bytes.subarray(0, at),
          ...bytes.subarray(at + randomInt(rng, 1, 8)),
        ]);
    }
  }
  // Most of the time keep the PDU length right, so the mutation reaches the items.
  if (randomInt(rng, 0, 3) > 0) setPduLength(bytes);
  return bytes;
}

/** Decodes; on success checks encode/decode stability. Returns whether it decoded. */
function decodeOrPduError(bytes: Uint8Array): boolean {
  let pdu;
  try {
    pdu = decodePdu(bytes);
  } catch (err) {
    if (!(err instanceof PduError)) throw err;
    assert.ok(err.code.length > 0 && err.field.length > 0);
    assert.ok([1, 4, 5, 6].includes(err.abortReason), `abort reason ${err.abortReason}`);
    return false;
  }
  const again = encodePdu(pdu);
  assert.deepEqual(decodePdu(again), pdu);
  return true;
}

Deno.test("mutated DCMTK and random PDUs either decode or throw PduError", () => {
  const rng = mulberry32(0xd1c0);
  const seeds = fixtureSeeds();
  assert.ok(seeds.length > 0, "DCMTK fixtures present");
  let decoded = 0;
  let rejected = 0;
  for (let i = 0; i < 6000; i++) {
    const seed = i % 2 === 0
      ? seeds[randomInt(rng, 0, seeds.length - 1)]
      : encodePdu(randomPdu(rng, { maxPdvData: 32 }));
    if (decodeOrPduError(mutate(rng, seed))) decoded++;
    else rejected++;
  }
  // Both outcomes occur, so the mutations reach past the header checks.
  assert.ok(decoded > 100, `decoded ${decoded}`);
  assert.ok(rejected > 100, `rejected ${rejected}`);
});

Deno.test("random bytes behind a valid PDU header either decode or throw PduError", () => {
  const rng = mulberry32(0xbeef);
  for (let i = 0; i < 4000; i++) {
    const length = randomInt(rng, 0, i % 10 === 0 ? 300 : 90);
    const bytes = new Uint8Array(6 + length).map(() => randomInt(rng, 0, 255));
    bytes[0] = randomInt(rng, 0, 8);
    if (i % 5 !== 0) setPduLength(bytes);
    decodeOrPduError(bytes);
  }
});

Deno.test("inputs shorter than a PDU header throw PduError", () => {
  for (let n = 0; n < 6; n++) {
    assert.throws(() => decodePdu(new Uint8Array(n).fill(1)), PduError);
  }
});
