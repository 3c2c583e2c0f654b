/**
 * The Storage SCP's head step per received instance: `scanDataSetHead` (structure up to Pixel
 * Data checked, the UIDs read) and `copyHead` (the head kept for the index row), on CT-like and
 * MR-like instances of 64 KiB in explicit and implicit VR little endian, beside the head parser
 * that decodes every element (`readDataSetHead`, run later for the index) and the general
 * reader. Each call gets another instance, in a buffer of its own with its pixels after the
 * head, as a PDV holds it. "Warm" is the median per call over rounds of back-to-back calls;
 * "caches overwritten" times single calls with 8 MiB written between them, as the SCP's other
 * work between two instances does, and gives their median.
 *
 * @module
 */
import type { DataElement, DataSet } from "../src/dataset/dataset.ts";
import { readWholeDataSet } from "../src/dataset/reader.ts";
import { PixelDataTag } from "../src/dataset/tag.ts";
import { transferSyntaxOf } from "../src/dataset/transfer_syntax.ts";
import { toBase64 } from "../src/dataset/value.ts";
import { writeDataSet } from "../src/dataset/writer.ts";
import { copyHead, readDataSetHead, scanDataSetHead } from "../src/store/_data_set_head.ts";

/** The tags the Storage SCP reads before its response (src/services/storage.ts). */
const UID_TAGS: ReadonlySet<number> = new Set([0x00080016, 0x00080018, 0x0020000d, 0x0020000e]);
const HEAD_OPTIONS = { stopAtTag: PixelDataTag, bulkThreshold: 4096 };
const EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1";
const IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2";
/** Instances per input, each in its own buffer. */
const INSTANCES = 64;
const PIXEL_BYTES = 65536;

function value(vr: DataElement["vr"], ...values: (string | number)[]): DataElement {
  return { vr, Value: values };
}

function name(alphabetic: string): DataElement {
  return { vr: "PN", Value: [{ Alphabetic: alphabetic }] };
}

function code(codeValue: string, scheme: string, meaning: string): DataSet {
  return {
    "00080100": value("SH", codeValue),
    "00080102": value("SH", scheme),
    "00080104": value("LO", meaning),
  };
}

function bytes(length: number): DataElement {
  return { vr: "OB", InlineBinary: toBase64(new Uint8Array(length).map((_, i) => i * 31)) };
}

/** A CT image: 55 top level elements, two sequences, private tags, then its pixels. */
function ctImage(instance: number): DataSet {
  return {
    "00080005": value("CS", "ISO_IR 100"),
    "00080008": value("CS", "ORIGINAL", "PRIMARY", "AXIAL"),
    "00080012": value("DA", "20260101"),
    "00080013": value("TM", "120000.000000"),
    "00080016": value("UI", "1.2.840.10008.5.1.4.1.1.2"),
    "00080018": value("UI", `1.2.826.0.1.3680043.10.1.${instance}.1.2.3.4.5.6.7`),
    "00080020": value("DA", "20260101"),
    "00080021": value("DA", "20260101"),
    "00080030": value("TM", "115500"),
    "00080031": value("TM", "115600"),
    "00080050": value("SH", "ACC0001"),
    "00080060": value("CS", "CT"),
    "00080070": value("LO", "ACME Medical"),
    "00080090": name("Referring^Doctor"),
    "00081030": value("LO", "CT CHEST W/O CONTRAST"),
    "0008103E": value("LO", "AXIAL 5mm"),
    "00081032": { vr: "SQ", Value: [code("71250", "DCM", "CT Chest")] },
    "00081140": {
      vr: "SQ",
      Value: [1, 2].map((i) => ({
        "00081150": value("UI", "1.2.840.10008.5.1.4.1.1.2"),
        "00081155": value("UI", `1.2.826.0.1.3680043.10.1.9.${i}`),
      })),
    },
    "00090010": value("LO", "ACME CT 1.0"),
    "00091001": value("LO", "private text"),
    "00091002": bytes(200),
    "00091003": value("UL", 7, 8),
    "00100010": name("Doe^Jane"),
    "00100020": value("LO", "PID-0001"),
    "00100030": value("DA", "19700101"),
    "00100040": value("CS", "F"),
    "00180015": value("CS", "CHEST"),
    "00180050": value("DS", 5),
    "00180060": value("DS", 120),
    "00181150": value("IS", 1000),
    "00181151": value("IS", 200),
    "00185100": value("CS", "HFS"),
    "0020000D": value("UI", "1.2.826.0.1.3680043.10.1.1"),
    "0020000E": value("UI", "1.2.826.0.1.3680043.10.1.1.2"),
    "00200010": value("SH", "1"),
    "00200011": value("IS", 2),
    "00200013": value("IS", instance),
    "00200032": value("DS", -200, -200, instance * 5),
    "00200037": value("DS", 1, 0, 0, 0, 1, 0),
    "00200052": value("UI", "1.2.826.0.1.3680043.10.1.1.3"),
    "00201041": value("DS", instance * 5),
    "00280002": value("US", 1),
    "00280004": value("CS", "MONOCHROME2"),
    "00280010": value("US", 128),
    "00280011": value("US", 256),
    "00280030": value("DS", 0.7, 0.7),
    "00280100": value("US", 16),
    "00280101": value("US", 12),
    "00280102": value("US", 11),
    "00280103": value("US", 0),
    "00281050": value("DS", 40),
    "00281051": value("DS", 400),
    "00281052": value("DS", -1024),
    "00281053": value("DS", 1),
    "7FE00010": { vr: "OW", InlineBinary: toBase64(new Uint8Array(PIXEL_BYTES)) },
  };
}

/** An MR image: 31 top level elements, a sequence nested in a sequence, then its pixels. */
function mrImage(instance: number): DataSet {
  return {
    "00080008": value("CS", "ORIGINAL", "PRIMARY", "M", "ND"),
    "00080016": value("UI", "1.2.840.10008.5.1.4.1.1.4"),
    "00080018": value("UI", `1.2.826.0.1.3680043.10.2.${instance}`),
    "00080020": value("DA", "20260101"),
    "00080060": value("CS", "MR"),
    "00080070": value("LO", "ACME"),
    "00081110": {
      vr: "SQ",
      Value: [{
        "00081150": value("UI", "1.2.840.10008.3.1.2.3.1"),
        "00081155": value("UI", "1.2.3.5"),
        "00400008": { vr: "SQ", Value: [code("X", "99", "Inner"), code("Y", "99", "Other")] },
      }],
    },
    "00100010": name("Roe^Richard"),
    "00100020": value("LO", "PID-0002"),
    "00180020": value("CS", "SE"),
    "00180080": value("DS", 500),
    "00180081": value("DS", 15),
    "00180087": value("DS", 1.5),
    "00190010": value("LO", "ACME MR"),
    "00191010": { vr: "UN" },
    "0020000D": value("UI", "1.2.826.0.1.3680043.10.2.1"),
    "0020000E": value("UI", "1.2.826.0.1.3680043.10.2.1.2"),
    "00200013": value("IS", instance),
    "00200032": value("DS", -120, -120, 0),
    "00200037": value("DS", 1, 0, 0, 0, 1, 0),
    "00280002": value("US", 1),
    "00280004": value("CS", "MONOCHROME2"),
    "00280010": value("US", 256),
    "00280011": value("US", 128),
    "00280030": value("DS", 0.9, 0.9),
    "00280100": value("US", 16),
    "00280101": value("US", 16),
    "00280102": value("US", 15),
    "00280103": value("US", 0),
    "7FE00010": { vr: "OW", InlineBinary: toBase64(new Uint8Array(PIXEL_BYTES)) },
  };
}

/** One input: instances of one kind in one transfer syntax. */
interface Input {
  label: string;
  transferSyntax: string;
  instances: Uint8Array[];
}

async function input(
  label: string,
  make: (instance: number) => DataSet,
  transferSyntax: string,
): Promise<Input> {
  const instances: Uint8Array[] = [];
  for (let i = 1; i <= INSTANCES; i++) {
    // Undefined length sequences, as most senders write them; an offset, as in a PDV.
    const encoded = await writeDataSet(make(i), { transferSyntax, sequenceLength: "undefined" });
    const buffer = new Uint8Array(encoded.length + 128);
    buffer.set(encoded, 64);
    instances.push(buffer.subarray(64, 64 + encoded.length));
  }
  return { label, transferSyntax, instances };
}

let sink = 0;

/** The SCP's step: the transfer syntax, the scan, the copy kept. */
function scanAndCopy(bytes: Uint8Array, transferSyntax: string): void {
  const scanned = scanDataSetHead(bytes, transferSyntaxOf(transferSyntax)!, UID_TAGS, HEAD_OPTIONS);
  if (scanned === undefined || !scanned.stopped) throw new Error("The head scan declined");
  sink += copyHead(bytes, scanned.length).length;
}

function readHead(bytes: Uint8Array, transferSyntax: string): void {
  const read = readDataSetHead(bytes, transferSyntaxOf(transferSyntax)!, HEAD_OPTIONS);
  if (read === undefined) throw new Error("The head parser declined");
  sink += read.length;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

/** Median µs per call over rounds of back-to-back calls, after as many to warm up. */
function warm(step: (bytes: Uint8Array, ts: string) => void, data: Input): number {
  const calls = 2000;
  const rounds: number[] = [];
  for (let round = 0; round < 11; round++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) step(data.instances[i % INSTANCES], data.transferSyntax);
    if (round > 0) rounds.push((performance.now() - t0) * 1000 / calls);
  }
  return median(rounds);
}

const elsewhere = new Uint8Array(8 << 20);

/** Median µs of single calls with 8 MiB written between them (the first 500 not counted). */
function cachesOverwritten(data: Input): number {
  const times: number[] = [];
  for (let i = 0; i < 2500; i++) {
    elsewhere.fill(i);
    const t0 = performance.now();
    scanAndCopy(data.instances[i % INSTANCES], data.transferSyntax);
    if (i >= 500) times.push((performance.now() - t0) * 1000);
  }
  return median(times);
}

/** Median µs per call of the general reader up to Pixel Data, skipping bulk values. */
async function generalReader(data: Input): Promise<number> {
  const calls = 500;
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) {
      const read = await readWholeDataSet([data.instances[i % INSTANCES]], {
        transferSyntax: data.transferSyntax,
        bulk: "skip",
        ...HEAD_OPTIONS,
      });
      sink += Object.keys(read.dataSet).length;
    }
    if (round > 0) rounds.push((performance.now() - t0) * 1000 / calls);
  }
  return median(rounds);
}

/** Runs the head benchmark and prints one table. */
export async function run(): Promise<void> {
  const inputs = [
    await input("CT, explicit VR", ctImage, EXPLICIT_VR_LITTLE_ENDIAN),
    await input("CT, implicit VR", ctImage, IMPLICIT_VR_LITTLE_ENDIAN),
    await input("MR, explicit VR", mrImage, EXPLICIT_VR_LITTLE_ENDIAN),
    await input("MR, implicit VR", mrImage, IMPLICIT_VR_LITTLE_ENDIAN),
  ];
  const header = [
    "data set",
    "scan+copy warm",
    "scan+copy, caches overwritten",
    "readDataSetHead warm",
    "general reader warm",
  ];
  const rows: string[][] = [];
  for (const data of inputs) {
    const micros = (n: number) => `${n.toFixed(2)} µs`;
    rows.push([
      data.label,
      micros(warm(scanAndCopy, data)),
      micros(cachesOverwritten(data)),
      micros(warm(readHead, data)),
      micros(await generalReader(data)),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join(" | ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const r of rows) console.log(line(r));
  if (sink === 0) console.log("(nothing measured)");
}
