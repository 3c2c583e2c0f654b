/**
 * Storage throughput, side by side on the same generated data: DCMTK storescu → storescp (the
 * reference), DCMTK ↔ ours in both directions, ours → ours (fsync off and on), dcmjs-dimse's
 * client → its server, and the disk's own ceiling (a write-temp[-fsync]-rename loop). Every
 * peer is a separate process; lines are interleaved over several rounds, in a shuffled order
 * each round, because the disk's speed drifts between runs, and the median per line is reported
 * with each process's peak RSS. Each round of each size class starts with one unmeasured DCMTK
 * transfer, so that no measured line is the round's first storescp.
 *
 * Options (after `deno task bench`): `--quick` (or `DIMSE_BENCH_QUICK=1`) for a small run
 * (2 rounds of 200 × 64 KiB and 20 × 512 KiB), `--rounds N` to change the number of rounds
 * (default 5).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type GeneratedSet, generateSet, type SizeClass } from "./_generate.ts";
import {
  type ClientRun,
  freePort,
  hasGnuTime,
  runClient,
  type ServerProcess,
  startServer,
} from "./_process.ts";

/** The size classes of a full run. */
const FULL_SIZES: SizeClass[] = [
  { label: "64 KiB", count: 1000, rows: 128, columns: 256, frames: 1 },
  { label: "512 KiB", count: 200, rows: 512, columns: 512, frames: 1 },
  { label: "256 MiB", count: 2, rows: 512, columns: 512, frames: 512 },
];

/** The size classes of `--quick`. */
const QUICK_SIZES: SizeClass[] = [
  { label: "64 KiB", count: 200, rows: 128, columns: 256, frames: 1 },
  { label: "512 KiB", count: 20, rows: 512, columns: 512, frames: 1 },
];

/**
 * Sets of at least this many files have the files each line wrote emptied, not deleted, until
 * the run ends. ext4 without a journal (such as this machine's root file system) does not reuse
 * an inode freed in the last minute (five while its inode table block is unwritten): every create
 * steps over each of them. Deleting a line's thousand files right before the next line made each
 * create cost 0.2–0.7 ms instead of 0.015–0.03, a cost that grew over a run and fell on whichever
 * line came next. Emptying them frees their pages and blocks for the next line as deleting did.
 */
const KEEP_FILES_FROM = 100;

/** DCMTK 3.6.7 leaves Nagle on unless told; the reference must not wait on it. */
const DCMTK_ENV = { TCP_NODELAY: "1" };
const DENO = Deno.execPath();
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** Seconds one client run may take before it is killed and counted as failed. */
const RUN_TIMEOUT_MS = 180_000;

/** One measurement: how long it took and how much memory each side needed. */
interface Sample {
  seconds: number;
  serverRssKiB: number;
  clientRssKiB: number;
}

/** One line of the table: a way of getting a set from a folder into another folder. */
interface Line {
  /** Label in the table. */
  name: string;
  /** Measures one transfer of `set` into the empty folder `out`; throws on failure. */
  measure(set: GeneratedSet, out: string): Promise<Sample>;
}

/** A network line: a server process receiving into `out`, a client process sending `set`. */
interface NetworkPeers {
  server(out: string): Promise<ServerProcess>;
  client(port: number, set: GeneratedSet): Promise<ClientRun>;
}

function storescp(maxPdu?: number) {
  return async (out: string) => {
    const port = freePort();
    const pdu = maxPdu === undefined ? [] : ["--max-pdu", String(maxPdu)];
    return await startServer("storescp", [...pdu, "-od", out, String(port)], { port }, {
      env: DCMTK_ENV,
    });
  };
}

function ourScp(fsync: boolean) {
  return async (out: string) => {
    return await startServer(
      DENO,
      [
        "run",
        "-A",
        `${ROOT}/cli/main.ts`,
        "scp",
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        "--http",
        "off",
        "--dir",
        out,
        "--fsync",
        fsync ? "on" : "off",
      ],
      { portPattern: /listening on [^\s:]+:(\d+)/ },
    );
  };
}

function dcmjsScp() {
  return async (out: string) => {
    const port = freePort();
    return await startServer(
      DENO,
      ["run", "-A", "--no-lock", `${ROOT}/bench/_dcmjs_dimse.ts`, "server", String(port), out],
      { port },
    );
  };
}

function storescu() {
  return async (port: number, set: GeneratedSet) =>
    await runClient("storescu", ["+sd", "-aec", "ANY-SCP", "127.0.0.1", String(port), set.dir], {
      env: DCMTK_ENV,
      timeoutMs: RUN_TIMEOUT_MS,
    });
}

function ourStore() {
  return async (port: number, set: GeneratedSet) =>
    await runClient(
      DENO,
      ["run", "-A", `${ROOT}/cli/main.ts`, "store", `127.0.0.1:${port}`, set.dir],
      { timeoutMs: RUN_TIMEOUT_MS },
    );
}

function dcmjsStore() {
  return async (port: number, set: GeneratedSet) =>
    await runClient(
      DENO,
      [
        "run",
        "-A",
        "--no-lock",
        `${ROOT}/bench/_dcmjs_dimse.ts`,
        "client",
        "127.0.0.1",
        String(port),
        set.dir,
      ],
      { timeoutMs: RUN_TIMEOUT_MS },
    );
}

/** The last line of a process's output (the last matching `pattern` when one does), shortened. */
function lastLine(output: string, pattern?: RegExp): string {
  const lines = output.trim().split("\n").filter((l) => l.trim() !== "");
  const matching = pattern ? lines.filter((l) => pattern.test(l)) : [];
  const line = matching.at(-1) ?? lines.at(-1) ?? "(no output)";
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/** Regular files under `dir`, recursively, leaving out dot files (temp files, the index). */
async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    if (entry.isDirectory) n += await countFiles(`${dir}/${entry.name}`);
    else if (entry.isFile) n++;
  }
  return n;
}

function networkLine(name: string, peers: NetworkPeers): Line {
  return {
    name,
    async measure(set, out) {
      await Deno.mkdir(out);
      const server = await peers.server(out);
      let run: ClientRun;
      let serverRssKiB = 0;
      try {
        run = await peers.client(server.port, set);
      } finally {
        serverRssKiB = await server.stop();
      }
      const stored = await countFiles(out);
      if (run.code !== 0 || stored !== set.files.length) {
        const why = run.timedOut ? "client timed out" : `client exit ${run.code}`;
        throw new Error(
          `${why}, ${stored} of ${set.files.length} stored; client: ${
            lastLine(run.output)
          }; server: ${lastLine(server.output(), /^(E:|error|.*fail)/i)}`,
        );
      }
      return { seconds: run.seconds, serverRssKiB, clientRssKiB: run.peakRssKiB };
    },
  };
}

/**
 * The disk's ceiling: the same bytes written file by file to a temp name, optionally flushed,
 * then renamed (and with `folder`, the folder flushed after, which makes the new name durable),
 * with synchronous calls so that only the file system's cost is measured.
 */
function diskLine(name: string, fsync: boolean, folder = false): Line {
  return {
    name,
    async measure(set, out) {
      await Deno.mkdir(out);
      const block = new Uint8Array(1 << 20);
      const sizes = await Promise.all(set.files.map(async (f) => (await Deno.stat(f)).size));
      const started = performance.now();
      for (let i = 0; i < sizes.length; i++) {
        const temp = `${out}/.${i}.tmp`;
        const file = Deno.openSync(temp, { write: true, createNew: true });
        for (let at = 0; at < sizes[i];) {
          at += file.writeSync(block.subarray(0, Math.min(block.length, sizes[i] - at)));
        }
        if (fsync) file.syncDataSync();
        file.close();
        Deno.renameSync(temp, `${out}/${i}.dcm`);
        if (folder) {
          const dir = Deno.openSync(out, { read: true });
          dir.syncDataSync();
          dir.close();
        }
      }
      return { seconds: (performance.now() - started) / 1000, serverRssKiB: 0, clientRssKiB: 0 };
    },
  };
}

const REFERENCE = "DCMTK storescu → DCMTK storescp";
const OURS_FSYNC_ON = "ours → ours, fsync on (default)";
const OURS_FSYNC_OFF = "ours → ours, fsync off";
const DISK_FSYNC = "disk: write, fsync, rename";
const DISK_DURABLE = "disk: write, fsync, rename, fsync folder";

/** Whether a line needs DCMTK. */
function needsDcmtk(line: Line): boolean {
  return line.name.includes("DCMTK");
}

/** The lines, the reference first. */
function lines(): Line[] {
  return [
    networkLine(REFERENCE, { server: storescp(), client: storescu() }),
    // Our SCP offers 131072 by default; DCMTK's storescp offers 16384 unless told.
    networkLine("DCMTK storescu → DCMTK storescp -pdu 131072", {
      server: storescp(131072),
      client: storescu(),
    }),
    networkLine("DCMTK storescu → our SCP, fsync off", {
      server: ourScp(false),
      client: storescu(),
    }),
    networkLine("our store → DCMTK storescp", { server: storescp(), client: ourStore() }),
    networkLine(OURS_FSYNC_OFF, { server: ourScp(false), client: ourStore() }),
    networkLine(OURS_FSYNC_ON, { server: ourScp(true), client: ourStore() }),
    networkLine("dcmjs-dimse 0.3.3 → dcmjs-dimse", { server: dcmjsScp(), client: dcmjsStore() }),
    diskLine("disk: write, rename (no fsync)", false),
    diskLine(DISK_FSYNC, true),
    diskLine(DISK_DURABLE, true, true),
  ];
}

/** `items` in an order drawn from `seed` (Fisher–Yates with a small linear congruential generator). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    const j = Math.floor((state / 0x80000000) * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Results of one line on one size class over the rounds. */
interface Cell {
  samples: Sample[];
  failures: string[];
}

/**
 * Reads every file of the set once, so that each line starts with the set in the page cache:
 * otherwise whichever line comes first after a memory-hungry one (dcmjs-dimse holds gigabytes)
 * reads its input from the disk and the order of the lines shows in their times.
 */
async function warm(set: GeneratedSet): Promise<void> {
  const buffer = new Uint8Array(1 << 20);
  for (const path of set.files) {
    using file = await Deno.open(path, { read: true });
    while ((await file.read(buffer)) !== null) { /* read into the cache */ }
  }
}

/** Removes or empties (see KEEP_FILES_FROM) what a line wrote into `out`, then flushes. */
async function clearOutput(set: GeneratedSet, out: string): Promise<void> {
  if (set.files.length < KEEP_FILES_FROM) {
    await Deno.remove(out, { recursive: true }).catch(() => {});
  } else {
    await emptyFiles(out).catch(() => {});
  }
  await syncDisk();
}

/** Truncates every file under `dir` to nothing, recursively. */
async function emptyFiles(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) await emptyFiles(path);
    else if (entry.isFile) await Deno.truncate(path, 0);
  }
}

async function syncDisk(): Promise<void> {
  await new Deno.Command("sync", { stdout: "null", stderr: "null" }).output().catch(() => {});
}

/** DCMTK's version line ("storescu v3.6.7 2022-04-22"), or undefined when it is not installed. */
async function dcmtkVersion(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("storescu", {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
      env: DCMTK_ENV,
    }).output();
    const scp = await new Deno.Command("storescp", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
      env: DCMTK_ENV,
    }).output();
    if (!out.success || !scp.success) return undefined;
    const line = new TextDecoder().decode(out.stdout).split("\n")[0];
    return line.replace(/^\$dcmtk:\s*/, "").replace(/\s*\$$/, "");
  } catch {
    return undefined;
  }
}

/** Wall time of a Deno process that loads the store command and exits: the startup cost. */
async function denoStartupSeconds(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const run = await runClient(DENO, ["run", "-A", `${ROOT}/cli/main.ts`, "store", "--help"]);
    times.push(run.seconds);
  }
  return median(times);
}

function mib(kib: number): string {
  return kib > 0 ? `${(kib / 1024).toFixed(0)} MiB` : "-";
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)]
    .join("\n");
}

/** Runs the storage benchmark and prints its table. */
export async function run(args: string[] = []): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { quick: { type: "boolean" }, rounds: { type: "string" } },
    strict: false,
  });
  const quick = values.quick === true || Deno.env.get("DIMSE_BENCH_QUICK") === "1";
  const rounds = typeof values.rounds === "string" ? Number(values.rounds) : quick ? 2 : 5;
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new RangeError(`Option --rounds must be a positive integer, got ${values.rounds}`);
  }
  const sizes = quick ? QUICK_SIZES : FULL_SIZES;
  const started = performance.now();
  const tmp = await Deno.makeTempDir({ prefix: "dimse-bench-" });
  try {
    console.log(`\nstorage: generating data in ${tmp}`);
    const sets: GeneratedSet[] = [];
    for (const size of sizes) {
      sets.push(await generateSet(`${tmp}/in-${size.label.replace(" ", "")}`, size));
    }
    await syncDisk();
    const startup = await denoStartupSeconds();
    const dcmtk = await dcmtkVersion();
    if (dcmtk === undefined) {
      const bar = "!".repeat(78);
      console.log(
        `${bar}\n!! DCMTK MISSING: storescu/storescp not found on PATH; the DCMTK lines (and the\n` +
          `!! reference ratio) are SKIPPED. Install DCMTK (apt-get install dcmtk).\n${bar}`,
      );
    }
    const all = lines().filter((line) => dcmtk !== undefined || !needsDcmtk(line));
    const reference = all.find((line) => line.name === REFERENCE);
    const cells = new Map<string, Cell>();
    const key = (l: Line, s: GeneratedSet) => `${l.name}|${s.size.label}`;
    let n = 0;
    for (let round = 0; round < rounds; round++) {
      for (const set of sets) {
        // One unmeasured transfer through storescp first: the first storescp of a round to
        // receive the 256 MiB instances took 1.3–2.3 s in most rounds, where the later ones took
        // 0.6–1.1 s, and the same shuffles every run made the reference one of the later ones in
        // most rounds.
        if (reference !== undefined) {
          const out = `${tmp}/out-${n++}`;
          await warm(set);
          const ahead = await reference.measure(set, out).then(
            (sample) => `${sample.seconds.toFixed(2)} s`,
            (error) => `FAILED: ${error instanceof Error ? error.message : String(error)}`,
          );
          console.log(
            `  round ${round + 1}/${rounds} ${set.size.label.padEnd(7)} ${
              "(not measured) DCMTK storescu → storescp".padEnd(38)
            } ${ahead}`,
          );
          await clearOutput(set, out);
        }
        // A shuffled order each round (the same shuffles every run): in a fixed or rotated
        // order each line would always follow the same other one, and inherit what that one
        // leaves behind (freed page cache, a disk still busy).
        for (const line of shuffled(all, round + 1)) {
          const cell = cells.get(key(line, set)) ?? { samples: [], failures: [] };
          cells.set(key(line, set), cell);
          const out = `${tmp}/out-${n++}`;
          await warm(set);
          try {
            const sample = await line.measure(set, out);
            cell.samples.push(sample);
            console.log(
              `  round ${round + 1}/${rounds} ${set.size.label.padEnd(7)} ${line.name.padEnd(38)} ${
                sample.seconds.toFixed(2)
              } s`,
            );
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            cell.failures.push(message);
            console.log(
              `  round ${round + 1}/${rounds} ${set.size.label.padEnd(7)} ${
                line.name.padEnd(38)
              } FAILED: ${message}`,
            );
          }
          await clearOutput(set, out);
        }
      }
    }

    const rows: string[][] = [];
    const notes: string[] = [];
    for (const set of sets) {
      const mb = set.bytes / 1e6;
      const ref = cells.get(`${REFERENCE}|${set.size.label}`);
      const refSeconds = ref && ref.samples.length > 0
        ? median(ref.samples.map((s) => s.seconds))
        : NaN;
      for (const line of all) {
        const cell = cells.get(key(line, set))!;
        const data = `${set.files.length} × ${set.size.label}`;
        if (cell.samples.length === 0) {
          rows.push([line.name, data, "failed", "failed", "-", "-", "-", "-"]);
          notes.push(`${line.name}, ${set.size.label}: ${cell.failures[0]}`);
          continue;
        }
        const times = cell.samples.map((s) => s.seconds);
        const seconds = median(times);
        const isDisk = line.name.startsWith("disk:");
        rows.push([
          line.name,
          data,
          (set.files.length / seconds).toFixed(set.files.length / seconds < 10 ? 2 : 0),
          (mb / seconds).toFixed(0),
          Number.isNaN(refSeconds) ? "-" : (refSeconds / seconds).toFixed(2),
          `${Math.min(...times).toFixed(2)}–${Math.max(...times).toFixed(2)}`,
          isDisk ? "-" : mib(Math.max(...cell.samples.map((s) => s.serverRssKiB))),
          isDisk ? "-" : mib(Math.max(...cell.samples.map((s) => s.clientRssKiB))),
        ]);
        if (cell.failures.length > 0) {
          notes.push(
            `${line.name}, ${set.size.label}: ${cell.failures.length} of ${rounds} run(s) failed (${
              cell.failures[0]
            })`,
          );
        }
      }
      const on = cells.get(`${OURS_FSYNC_ON}|${set.size.label}`);
      const seconds = (cell: Cell | undefined) =>
        cell && cell.samples.length > 0 ? median(cell.samples.map((s) => s.seconds)) : NaN;
      const percent = (ceiling: string) =>
        (100 * seconds(cells.get(`${ceiling}|${set.size.label}`)) / seconds(on)).toFixed(0);
      if (!Number.isNaN(seconds(on))) {
        notes.push(
          `${set.size.label}: ours with fsync on runs at ${percent(DISK_FSYNC)}% of the disk's ` +
            `write-fsync-rename loop and ${percent(DISK_DURABLE)}% of its ` +
            `write-fsync-rename-fsync-folder loop (the durable sequence, which ours follows), ` +
            `and at ${percent(OURS_FSYNC_OFF)}% of ours with fsync off`,
        );
      }
    }
    const minutes = (performance.now() - started) / 60000;
    console.log(
      `\nstorage: ${rounds} round(s), median per line (runs: fastest–slowest); ` +
        `vs DCMTK = reference time / line time ` +
        `(higher is faster); MB = 10^6 bytes of Part 10 files; client times include process ` +
        `start (a Deno process that loads the store command takes ${
          startup.toFixed(2)
        } s); peak RSS is the max over rounds${
          (await hasGnuTime()) ? " (clients: GNU time %M; servers: VmHWM)" : " (VmHWM, polled)"
        }\n`,
    );
    console.log(table(
      ["line", "data", "instances/s", "MB/s", "vs DCMTK", "runs (s)", "RSS server", "RSS client"],
      rows,
    ));
    if (notes.length > 0) console.log(`\n${notes.map((n) => `- ${n}`).join("\n")}`);
    const reproduce = `deno task bench${quick ? " --quick" : ""}${
      typeof values.rounds === "string" ? ` --rounds ${rounds}` : ""
    }`;
    console.log(
      `\nstorage: done in ${minutes.toFixed(1)} min on ${new Date().toISOString().slice(0, 10)}; ` +
        `${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}, DCMTK ${
          dcmtk ?? "missing"
        }; reproduce with \`${reproduce}\``,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await run(Deno.args);
