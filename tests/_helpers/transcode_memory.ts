// Live memory of a long streaming conversion, measured in a process of its own. The resident set
// size counts garbage not yet collected and, under `deno test --parallel`, whatever else shares
// the process, so it moves from run to run; the memory still reachable after a forced full
// collection does not. Run as a script, this file does the conversion and prints its report.
import { fileURLToPath } from "node:url";
import { transcodeDataSet } from "../../src/dataset/transcode.ts";
import { ExplicitVrBigEndian, ExplicitVrLittleEndian } from "../../src/dataset/transfer_syntax.ts";

/** What one conversion of a long OW value from explicit VR LE to BE kept alive. */
export interface TranscodeMemoryReport {
  /** Bytes yielded by the transcoder. */
  bytes: number;
  /** The first 14 bytes yielded: the element header and the first number. */
  head: number[];
  /** Live bytes (V8 heap used plus external memory) after a full collection, before starting. */
  baseline: number;
  /** Live bytes after a full collection, taken every `sampleEvery` bytes of output. */
  samples: number[];
  /** Resident set size at each sample, for information only. */
  rss: number[];
}

/** Options of {@linkcode measureTranscodeMemory}. */
export interface TranscodeMemoryOptions {
  /** Length of the (7FE0,0010) OW value, a multiple of 65536; default 256 MiB. */
  valueLength?: number;
  /** Output bytes between two samples, a multiple of 65536; default 16 MiB. */
  sampleEvery?: number;
}

// --expose-gc gives the script gc(); without concurrent array buffer sweeping, the buffers a
// full collection finds unreachable are freed, and leave external memory, before gc() returns.
const V8_FLAGS = "--v8-flags=--expose-gc,--no-concurrent-array-buffer-sweeping";

/** Runs the conversion in a child Deno process and returns what it measured. */
export async function measureTranscodeMemory(
  options: TranscodeMemoryOptions = {},
): Promise<TranscodeMemoryReport> {
  const valueLength = options.valueLength ?? 256 * 1024 * 1024;
  const sampleEvery = options.sampleEvery ?? 16 * 1024 * 1024;
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--config=${fileURLToPath(new URL("../../deno.json", import.meta.url))}`,
      V8_FLAGS,
      fileURLToPath(import.meta.url),
      String(valueLength),
      String(sampleEvery),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(child.stderr);
  if (!child.success) throw new Error(`Memory measurement failed: ${stderr.trim()}`);
  return JSON.parse(new TextDecoder().decode(child.stdout)) as TranscodeMemoryReport;
}

function liveBytes(gc: () => void): number {
  gc();
  const usage = Deno.memoryUsage();
  return usage.heapUsed + usage.external;
}

async function run(valueLength: number, sampleEvery: number): Promise<TranscodeMemoryReport> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("gc() is not exposed: run with --v8-flags=--expose-gc");
  const piece = new Uint8Array(65536).map((_, i) => i & 0xff);
  async function* source(): AsyncGenerator<Uint8Array> {
    // (7FE0,0010) OW in explicit VR LE, its value arriving in 64 KiB pieces.
    const header = new Uint8Array([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57, 0, 0, 0, 0, 0, 0]);
    new DataView(header.buffer).setUint32(8, valueLength, true);
    yield header;
    for (let sent = 0; sent < valueLength; sent += piece.length) yield piece;
  }
  const report: TranscodeMemoryReport = {
    bytes: 0,
    head: [],
    baseline: liveBytes(gc),
    samples: [],
    rss: [],
  };
  const chunks = transcodeDataSet(source(), {
    from: ExplicitVrLittleEndian,
    to: ExplicitVrBigEndian,
  });
  for await (const chunk of chunks) {
    if (report.head.length < 14) {
      report.head.push(...chunk.subarray(0, 14 - report.head.length));
    }
    report.bytes += chunk.length;
    if (report.bytes % sampleEvery === 0) {
      report.samples.push(liveBytes(gc));
      report.rss.push(Deno.memoryUsage().rss);
    }
  }
  return report;
}

if (import.meta.main) {
  const [valueLength, sampleEvery] = Deno.args.map(Number);
  console.log(JSON.stringify(await run(valueLength, sampleEvery)));
}
