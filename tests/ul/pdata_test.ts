import assert from "node:assert/strict";
import { concatBytes } from "../../src/dataset/writer.ts";
import {
  PDataWriter,
  type PduStreamEvent,
  PduStreamReader,
  type PduStreamReaderOptions,
} from "../../src/ul/pdata.ts";
import { PduError } from "../../src/ul/errors.ts";
import { decodeCommandSet } from "../../src/dimse/command_codec.ts";
import { CommandField } from "../../src/dimse/command.ts";
import { mulberry32 } from "./_pdu_random.ts";

function randomBytes(random: () => number, n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = (random() * 256) | 0;
  return bytes;
}

/** Cuts `bytes` into random pieces of 1..max bytes. */
function* pieces(random: () => number, bytes: Uint8Array, max: number): Generator<Uint8Array> {
  let off = 0;
  while (off < bytes.length) {
    const n = 1 + Math.floor(random() * max);
    yield bytes.subarray(off, off + n);
    off += n;
  }
}

/** What one PDV said and carried. */
interface Pdv {
  presentationContextId: number;
  isCommand: boolean;
  isLast: boolean;
  data: Uint8Array;
}

/** What a stream of events held: P-DATA-TF lengths, PDVs and other PDUs. */
interface Reassembled {
  pDataLengths: number[];
  pdvsPerPdu: number[];
  pdvs: Pdv[];
  others: { pduType: number; bytes: Uint8Array }[];
}

/** Checks the event grammar and gathers what the events carried. */
function reassemble(events: PduStreamEvent[]): Reassembled {
  const result: Reassembled = { pDataLengths: [], pdvsPerPdu: [], pdvs: [], others: [] };
  let open: { pdv: Pdv; parts: Uint8Array[]; length: number } | undefined;
  for (const e of events) {
    if (e.kind === "pdv-data") {
      assert.ok(open, "pdv-data follows a pdv");
      open.parts.push(e.bytes);
      if (e.endOfPdv) {
        open.pdv.data = concatBytes(open.parts);
        assert.equal(open.pdv.data.length, open.length, "a PDV carries its announced length");
        result.pdvs.push(open.pdv);
        open = undefined;
      }
      continue;
    }
    assert.equal(open, undefined, `${e.kind} does not interrupt a PDV`);
    if (e.kind === "pdu") result.others.push({ pduType: e.pduType, bytes: e.bytes });
    else if (e.kind === "p-data-tf") {
      result.pDataLengths.push(e.length);
      result.pdvsPerPdu.push(0);
    } else {
      result.pdvsPerPdu[result.pdvsPerPdu.length - 1]++;
      open = {
        pdv: {
          presentationContextId: e.presentationContextId,
          isCommand: e.isCommand,
          isLast: e.isLast,
          data: new Uint8Array(0),
        },
        parts: [],
        length: e.length,
      };
    }
  }
  assert.equal(open, undefined, "no PDV left open");
  return result;
}

/** Feeds `bytes` to a reader in random pieces, through push or writable/commit. */
function readAll(
  random: () => number,
  bytes: Uint8Array,
  maxPiece: number,
  options: PduStreamReaderOptions = {},
): PduStreamEvent[] {
  const reader = new PduStreamReader(options);
  const events: PduStreamEvent[] = [];
  const viaCommit = random() < 0.5;
  for (const piece of pieces(random, bytes, maxPiece)) {
    if (viaCommit) {
      const view = reader.writable(piece.length);
      assert.ok(view.length >= piece.length, "writable offers at least minBytes");
      view.set(piece);
      events.push(...reader.commit(piece.length));
    } else {
      events.push(...reader.push(piece));
    }
  }
  assert.equal(reader.midPdu, false, "the stream ends between PDUs");
  return events;
}

/** Writes a command then a data set in random chunks; returns every PDU written. */
function writeMessage(
  random: () => number,
  writer: PDataWriter,
  pcId: number,
  command: Uint8Array,
  data: Uint8Array | undefined,
  maxChunk: number,
): Uint8Array {
  const out: Uint8Array[] = [];
  const stream = (isCommand: boolean, bytes: Uint8Array) => {
    const endApart = random() < 0.2;
    const chunks = [...pieces(random, bytes, maxChunk)];
    chunks.forEach((chunk, i) => {
      const isLast = !endApart && i === chunks.length - 1;
      out.push(writer.write(pcId, isCommand, chunk, isLast).slice());
    });
    if (endApart || chunks.length === 0) {
      out.push(writer.write(pcId, isCommand, new Uint8Array(0), true).slice());
    }
  };
  stream(true, command);
  if (data) stream(false, data);
  out.push(writer.flush().slice());
  return concatBytes(out);
}

/** Checks PDVs: one command then one data set, flags and bytes as written. */
function assertMessage(
  got: Reassembled,
  pcId: number,
  command: Uint8Array,
  data: Uint8Array | undefined,
  maxLength: number,
): void {
  for (const length of got.pDataLengths) {
    assert.ok(length <= maxLength, `PDU length ${length} is within the maximum ${maxLength}`);
  }
  const commandPdvs = got.pdvs.filter((p) => p.isCommand);
  const dataPdvs = got.pdvs.filter((p) => !p.isCommand);
  assert.ok(got.pdvs.every((p) => p.presentationContextId === pcId), "context id kept");
  assert.equal(
    got.pdvs.findIndex((p) => !p.isCommand),
    data ? commandPdvs.length : -1,
    "command fragments come first",
  );
  for (const [name, pdvs] of [["command", commandPdvs], ["data set", dataPdvs]] as const) {
    pdvs.forEach((p, i) => {
      assert.equal(p.isLast, i === pdvs.length - 1, `${name} last bit only on its final PDV`);
    });
  }
  assert.deepEqual(concatBytes(commandPdvs.map((p) => p.data)), command, "command reassembled");
  if (data) {
    const joined = concatBytes(dataPdvs.map((p) => p.data));
    assert.equal(joined.length, data.length, "data set length");
    assert.ok(joined.every((b, i) => b === data[i]), "data set reassembled");
  }
}

const MAX_PDUS = [0, 7, 8, 9, 13, 100, 4096, 16384, 16385];

Deno.test("every max PDU and data set size around its boundaries fragments and reassembles intact", () => {
  const random = mulberry32(1);
  let combinations = 0;
  for (const max of MAX_PDUS) {
    const effective = max === 0 ? 1048576 : max;
    const small = effective <= 100;
    const sizes = new Set([0, 1, 2, 1000, small ? 3000 : 300_000]);
    for (const k of [1, 2, 3]) {
      for (const d of [-7, -6, -5]) if (k * effective + d >= 0) sizes.add(k * effective + d);
    }
    if (max === 0) { for (const s of [...sizes]) if (s > 2_200_000) sizes.delete(s); }
    const commandSizes = [1, 78, Math.max(1, effective - 6), effective + 1].filter((s) =>
      s <= 5000
    );
    for (const dataSize of sizes) {
      for (const commandSize of commandSizes) {
        const pcId = 1 + 2 * Math.floor(random() * 128);
        const command = randomBytes(random, commandSize);
        const data = randomBytes(random, dataSize);
        const writer = new PDataWriter({ maxPduLength: max });
        const maxChunk = Math.max(1, Math.floor(random() * Math.min(dataSize + 2, 70000)));
        const wire = writeMessage(random, writer, pcId, command, data, maxChunk);
        const maxPiece = wire.length < 3000 && random() < 0.5 ? 1 : 1 + (random() * 20000 | 0);
        const events = readAll(random, wire, maxPiece, { maxPDataTfLength: max });
        assertMessage(reassemble(events), pcId, command, data, effective);
        combinations++;
      }
    }
  }
  assert.ok(combinations > 200, `${combinations} combinations ran`);
});

Deno.test("the last command fragment and the first data fragment share a PDU when they fit", () => {
  const writer = new PDataWriter({ maxPduLength: 100 });
  const out = [
    writer.write(3, true, new Uint8Array(20).fill(1), true).slice(),
    writer.write(3, false, new Uint8Array(30).fill(2), true).slice(),
    writer.flush().slice(),
  ];
  assert.equal(out[0].length, 0, "nothing is sent before the PDU is full or flushed");
  assert.equal(out[1].length, 0);
  const wire = concatBytes(out);
  assert.deepEqual([...wire.subarray(0, 12)], [4, 0, 0, 0, 0, 62, 0, 0, 0, 22, 3, 3]);
  assert.deepEqual([...wire.subarray(32, 38)], [0, 0, 0, 32, 3, 2]);
  assert.equal(wire.length, 68, "one PDU with two PDVs");
});

Deno.test("a PDU of the minimum max length 7 carries one byte per PDV", () => {
  const writer = new PDataWriter({ maxPduLength: 7 });
  const wire = concatBytes([
    writer.write(1, true, new Uint8Array([9, 8]), true).slice(),
    writer.flush().slice(),
  ]);
  assert.deepEqual([...wire], [
    ...[4, 0, 0, 0, 0, 7, 0, 0, 0, 3, 1, 1, 9],
    ...[4, 0, 0, 0, 0, 7, 0, 0, 0, 3, 1, 3, 8],
  ]);
});

Deno.test("a maximum PDU length below 7 is refused", () => {
  assert.throws(() => new PDataWriter({ maxPduLength: 6 }), RangeError);
  assert.throws(() => new PDataWriter({ maxPduLength: -1 }), RangeError);
});

Deno.test("many small writes fill one PDV up to the maximum length", () => {
  const writer = new PDataWriter({ maxPduLength: 1000 });
  const random = mulberry32(3);
  const data = randomBytes(random, 5000);
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += 10) {
    out.push(writer.write(5, false, data.subarray(i, i + 10), i + 10 >= data.length).slice());
  }
  out.push(writer.flush().slice());
  const got = reassemble(readAll(random, concatBytes(out), 4096, { maxPDataTfLength: 1000 }));
  assert.deepEqual(got.pDataLengths, [1000, 1000, 1000, 1000, 1000, 36]);
  assert.deepEqual(got.pdvsPerPdu, [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(concatBytes(got.pdvs.map((p) => p.data)), data);
});

Deno.test("a flush mid data set sends what was written and the end comes as an empty last PDV", () => {
  const writer = new PDataWriter({ maxPduLength: 64 });
  const wire = concatBytes([
    writer.write(1, false, new Uint8Array(10).fill(7), false).slice(),
    writer.flush().slice(),
    writer.write(1, false, new Uint8Array(0), true).slice(),
    writer.flush().slice(),
  ]);
  const got = reassemble(readAll(mulberry32(4), wire, 5));
  assert.deepEqual(got.pdvs.map((p) => [p.isLast, p.data.length]), [[false, 10], [true, 0]]);
});

Deno.test("writes of 64 KiB into 16 KiB PDUs stay packed across calls and wrap of the buffer", () => {
  const random = mulberry32(5);
  const writer = new PDataWriter({ maxPduLength: 16384 });
  const data = randomBytes(random, 8 * 1024 * 1024 + 12345);
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += 65536) {
    out.push(writer.write(1, false, data.subarray(i, i + 65536), i + 65536 >= data.length).slice());
  }
  out.push(writer.flush().slice());
  const got = reassemble(readAll(random, concatBytes(out), 65536, { maxPDataTfLength: 16384 }));
  const full = got.pDataLengths.filter((l) => l === 16384).length;
  assert.ok(full >= got.pDataLengths.length * 0.9, `${full} of ${got.pDataLengths.length} full`);
  assert.ok(concatBytes(got.pdvs.map((p) => p.data)).every((b, i) => b === data[i]));
});

// ---- reader errors (PS3.8 Table 9-26) ----

function assertPduError(
  bytes: number[],
  code: string,
  field: string,
  abortReason: number,
  options: PduStreamReaderOptions = {},
): void {
  for (const split of [bytes.length, 1]) {
    const reader = new PduStreamReader(options);
    assert.throws(() => {
      for (const piece of pieces(() => 0, new Uint8Array(bytes), split)) reader.push(piece);
    }, (e: unknown) => {
      assert.ok(e instanceof PduError, `a PduError, got ${e}`);
      assert.equal(e.code, code);
      assert.equal(e.field, field);
      assert.equal(e.abortReason, abortReason);
      return true;
    });
    assert.throws(() => reader.push(new Uint8Array([4])), PduError, "the reader stays failed");
  }
}

Deno.test("an unknown PDU type is refused with abort reason 1", () => {
  assertPduError([0x08, 0, 0, 0, 0, 4, 0, 0, 0, 0], "pdu-type-unrecognized", "pdu.type", 1);
  assertPduError([0x00, 0, 0, 0, 0, 0], "pdu-type-unrecognized", "pdu.type", 1);
});

Deno.test("a P-DATA-TF longer than our maximum length is refused with abort reason 6", () => {
  assertPduError(
    [4, 0, 0, 0, 0x40, 1],
    "pdu-length-exceeds-maximum",
    "p-data-tf.length",
    6,
    { maxPDataTfLength: 16384 },
  );
});

Deno.test("an A-ASSOCIATE-RQ longer than the bound is refused with abort reason 6", () => {
  assertPduError(
    [1, 0, 0, 0x10, 0, 1],
    "pdu-length-exceeds-maximum",
    "a-associate-rq.length",
    6,
  );
});

Deno.test("a P-DATA-TF with no PDV is refused with abort reason 6", () => {
  assertPduError([4, 0, 0, 0, 0, 0], "missing-item", "presentation-data-value-item", 6);
});

Deno.test("a PDV item length below 2 is refused with abort reason 6", () => {
  assertPduError(
    [4, 0, 0, 0, 0, 6, 0, 0, 0, 1, 1, 3],
    "item-too-short",
    "presentation-data-value-item.length",
    6,
  );
});

Deno.test("a PDV overrunning its P-DATA-TF is refused with abort reason 6", () => {
  assertPduError(
    [4, 0, 0, 0, 0, 8, 0, 0, 0, 5, 1, 3, 0, 0],
    "length-overrun",
    "presentation-data-value-item.length",
    6,
  );
  assertPduError(
    [4, 0, 0, 0, 0, 10, 0, 0, 0, 2, 1, 3, 0, 0, 0, 9],
    "item-too-short",
    "presentation-data-value-item.header",
    6,
  );
});

Deno.test("a PDV with an even or zero presentation context id is refused with abort reason 6", () => {
  for (const id of [0, 2, 254]) {
    assertPduError(
      [4, 0, 0, 0, 0, 7, 0, 0, 0, 3, id, 3, 0xaa],
      "invalid-value",
      "presentation-data-value-item.presentation-context-id",
      6,
    );
  }
});

Deno.test("midPdu is true inside a PDU and false between PDUs", () => {
  const reader = new PduStreamReader();
  assert.equal(reader.midPdu, false);
  reader.push(new Uint8Array([5, 0, 0]));
  assert.equal(reader.midPdu, true, "inside a PDU header");
  const events = reader.push(new Uint8Array([0, 0, 4, 0, 0]));
  assert.equal(events.length, 0);
  assert.equal(reader.midPdu, true, "inside a PDU body");
  const done = reader.push(new Uint8Array([0, 1]));
  assert.deepEqual(done.map((e) => e.kind), ["pdu"]);
  assert.equal(reader.midPdu, false);
});

Deno.test("PDUs with empty bodies and back-to-back PDUs in one chunk are each delivered whole", () => {
  const release = [5, 0, 0, 0, 0, 4, 0, 0, 0, 0];
  const abort = [7, 0, 0, 0, 0, 4, 0, 0, 2, 6];
  const odd = [6, 0, 0, 0, 0, 0];
  const events = new PduStreamReader().push(new Uint8Array([...release, ...odd, ...abort]));
  assert.deepEqual(
    events.map((e) => e.kind === "pdu" ? [e.pduType, [...e.bytes]] : e.kind),
    [[5, release], [6, odd], [7, abort]],
  );
});

Deno.test("an empty PDV yields its header and an empty end", () => {
  const events = new PduStreamReader().push(
    new Uint8Array([4, 0, 0, 0, 0, 6, 0, 0, 0, 2, 1, 2]),
  );
  assert.deepEqual(events.map((e) => e.kind), ["p-data-tf", "pdv", "pdv-data"]);
  const end = events[2];
  assert.ok(end.kind === "pdv-data" && end.endOfPdv && end.bytes.length === 0);
});

// ---- DCMTK conversations (tests/fixtures/dcmtk/) ----

const FIXTURES = new URL("../fixtures/dcmtk/", import.meta.url);

Deno.test("the storescu side of a DCMTK conversation frames into its PDUs, command and data set", () => {
  const files = [
    "storescu_01_scu_a-associate-rq.bin",
    "storescu_03_scu_p-data-tf.bin",
    "storescu_04_scu_p-data-tf.bin",
    "storescu_06_scu_a-release-rq.bin",
  ].map((f) => Deno.readFileSync(new URL(f, FIXTURES)));
  const wire = concatBytes(files);
  for (const maxPiece of [1, 7, 100, wire.length]) {
    const got = reassemble(readAll(mulberry32(maxPiece), wire, maxPiece));
    assert.deepEqual(got.others.map((o) => o.pduType), [1, 5]);
    assert.deepEqual(got.others[0].bytes, files[0], "A-ASSOCIATE-RQ delivered byte-exact");
    assert.deepEqual(got.others[1].bytes, files[3], "A-RELEASE-RQ delivered byte-exact");
    assert.deepEqual(got.pDataLengths, [files[1].length - 6, files[2].length - 6]);
    const [command, data] = got.pdvs;
    assert.ok(command.isCommand && command.isLast && !data.isCommand && data.isLast);
    const decoded = decodeCommandSet(command.data);
    assert.equal(decoded.commandField, CommandField.C_STORE_RQ);
    assert.equal(decoded.affectedSopInstanceUid, "1.2.826.0.1.3680043.10.1.1.1");
    assert.deepEqual(data.data, files[2].subarray(12), "data set fragment byte-exact");
  }
});

// ---- over a real socket ----

Deno.test("a 4 MiB data set written to a TCP socket is read back through writable and commit", async () => {
  const random = mulberry32(9);
  const command = randomBytes(random, 120);
  const data = randomBytes(random, 4 * 1024 * 1024 + 3);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received = (async () => {
    const conn = await listener.accept();
    const reader = new PduStreamReader({ maxPDataTfLength: 16384 });
    const events: PduStreamEvent[] = [];
    while (true) {
      const n = await conn.read(reader.writable(32768));
      if (n === null) break;
      events.push(...reader.commit(n));
    }
    conn.close();
    assert.equal(reader.midPdu, false);
    return events;
  })();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  conn.setNoDelay(true);
  const writer = new PDataWriter({ maxPduLength: 16384 });
  const send = async (view: Uint8Array) => {
    let off = 0;
    while (off < view.length) off += await conn.write(view.subarray(off));
  };
  await send(writer.write(1, true, command, true));
  for (let i = 0; i < data.length; i += 65536) {
    await send(writer.write(1, false, data.subarray(i, i + 65536), i + 65536 >= data.length));
  }
  await send(writer.flush());
  conn.close();
  const events = await received;
  listener.close();
  assertMessage(reassemble(events), 1, command, data, 16384);
});

function pdvLengthsOf(pdus: Uint8Array, into: number[]): void {
  let at = 0;
  while (at < pdus.length) {
    const view = new DataView(pdus.buffer, pdus.byteOffset + at);
    const length = view.getUint32(2);
    for (let p = at + 6; p < at + 6 + length;) {
      const item = new DataView(pdus.buffer, pdus.byteOffset + p).getUint32(0);
      into.push(item - 2);
      p += 4 + item;
    }
    at += 6 + length;
  }
}

for (const maxPduLength of [16384, 16383, 4096]) {
  Deno.test(`P-DATA writer with max ${maxPduLength} keeps every data set PDV of even length (DCMTK aborts on an odd one)`, () => {
    const writer = new PDataWriter({ maxPduLength });
    const lengths: number[] = [];
    pdvLengthsOf(writer.write(1, true, new Uint8Array(120), true).slice(), lengths);
    const chunk = new Uint8Array(65536);
    for (let i = 0; i < 200; i++) {
      const size = i % 3 === 0 ? 65535 + (i % 2) * 2 : 65536; // odd-sized chunks too
      pdvLengthsOf(writer.write(1, false, chunk.subarray(0, size), false).slice(), lengths);
    }
    pdvLengthsOf(writer.write(1, false, new Uint8Array(0), true).slice(), lengths);
    pdvLengthsOf(writer.flush().slice(), lengths);
    const total = lengths.reduce((a, b) => a + b, 0);
    assert.equal(total % 2, 0);
    assert.deepEqual(lengths.filter((n) => n % 2 === 1), []);
  });
}
