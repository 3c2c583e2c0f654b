/**
 * Codec throughput: command set encode + decode per second, and fragmenting + reassembling
 * data sets (P-DATA-TF writer → PDU stream reader) in MB/s beside a plain memcpy of the same
 * bytes as the ceiling.
 *
 * @module
 */
import { decodeCommandSet, encodeCommandSet } from "../src/dimse/command_codec.ts";
import { CommandField, type CommandSet } from "../src/dimse/command.ts";
import { PDataWriter, PduStreamReader } from "../src/ul/pdata.ts";

const CHUNK = 65536;

/** A 64 KiB source chunk reused for every write: the data set is never held whole. */
function sourceChunk(): Uint8Array {
  const chunk = new Uint8Array(CHUNK);
  for (let i = 0; i < CHUNK; i++) chunk[i] = (i * 31 + 7) & 0xff;
  return chunk;
}

/** Command sets encoded and decoded per second. */
function commandRate(): number {
  const command: CommandSet = {
    affectedSopClassUid: "1.2.840.10008.5.1.4.1.1.2",
    commandField: CommandField.C_STORE_RQ,
    messageId: 1,
    priority: 0,
    commandDataSetType: 0,
    affectedSopInstanceUid: "1.2.826.0.1.3680043.10.1.1.1",
  };
  for (let i = 0; i < 2000; i++) decodeCommandSet(encodeCommandSet(command));
  const n = 100_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) decodeCommandSet(encodeCommandSet(command));
  return n / ((performance.now() - t0) / 1000);
}

/** MB/s of writing `size` bytes through a writer and reading the PDUs back. */
function pdataRate(size: number, maxPdu: number, chunk: Uint8Array): number {
  const writer = new PDataWriter({ maxPduLength: maxPdu, unlimitedPduLength: maxPdu });
  const reader = new PduStreamReader({ maxPDataTfLength: maxPdu });
  let received = 0;
  const take = (view: Uint8Array) => {
    for (const e of reader.push(view)) if (e.kind === "pdv-data") received += e.bytes.length;
  };
  const t0 = performance.now();
  take(writer.write(1, true, chunk.subarray(0, 100), true));
  for (let off = 0; off < size; off += CHUNK) {
    const n = Math.min(CHUNK, size - off);
    take(writer.write(1, false, chunk.subarray(0, n), off + n >= size));
  }
  take(writer.flush());
  const seconds = (performance.now() - t0) / 1000;
  if (received !== size + 100) throw new Error(`Reassembled ${received} of ${size + 100} bytes`);
  return size / 1e6 / seconds;
}

/** MB/s of copying `size` bytes in 64 KiB Uint8Array.set calls. */
function memcpyRate(size: number, chunk: Uint8Array): number {
  const target = new Uint8Array(CHUNK);
  const t0 = performance.now();
  for (let off = 0; off < size; off += CHUNK) {
    target.set(chunk.subarray(0, Math.min(CHUNK, size - off)));
  }
  return size / 1e6 / ((performance.now() - t0) / 1000);
}

/** Runs the codec benchmarks and prints one table. */
export async function run(): Promise<void> {
  await Promise.resolve();
  const chunk = sourceChunk();
  const rows: string[][] = [];
  const rate = commandRate();
  rows.push(["command set encode+decode", "-", `${Math.round(rate).toLocaleString("en")} /s`, "-"]);
  for (const size of [1 << 20, 256 << 20]) {
    const ceiling = memcpyRate(size, chunk);
    const label = size === 1 << 20 ? "1 MiB" : "256 MiB";
    rows.push([`memcpy ${label} (64 KiB set)`, "-", `${ceiling.toFixed(0)} MB/s`, "1.00"]);
    for (const maxPdu of [16384, 1 << 20]) {
      if (size === 1 << 20) pdataRate(size, maxPdu, chunk); // warm up
      const r = pdataRate(size, maxPdu, chunk);
      rows.push([
        `fragment+reassemble ${label}`,
        maxPdu === 16384 ? "16 KiB" : "1 MiB",
        `${r.toFixed(0)} MB/s`,
        (r / ceiling).toFixed(2),
      ]);
    }
  }
  const header = ["codec", "max PDU", "rate", "vs memcpy"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join(" | ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const r of rows) console.log(line(r));
}
