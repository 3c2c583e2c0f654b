/**
 * Spawning the benchmark's peers as separate processes and recording each one's peak resident
 * set size: clients run under `/usr/bin/time -f %M` when it is installed (the kernel's
 * `ru_maxrss` at exit), otherwise `/proc/<pid>/status` VmHWM is polled; servers have VmHWM read
 * from `/proc/<pid>/status` while idle, just before they are told to stop.
 *
 * @module
 */

/** What one client run did. */
export interface ClientRun {
  /** Exit code. */
  code: number;
  /** Wall time from spawn to exit, in seconds. */
  seconds: number;
  /** Peak resident set size in KiB (0 when unknown). */
  peakRssKiB: number;
  /** stdout and stderr, interleaved by stream (stdout first). */
  output: string;
  /** True when the run was killed for exceeding its timeout. */
  timedOut: boolean;
}

/** A server running in the background. */
export interface ServerProcess {
  /** The port it listens on. */
  port: number;
  /** Its process id. */
  pid: number;
  /** What it wrote so far. */
  output(): string;
  /** Reads VmHWM, asks it to stop (SIGTERM, SIGKILL after 15 s) and returns the peak RSS in KiB. */
  stop(): Promise<number>;
}

/** Options of a spawn. */
export interface SpawnOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Kill the process after this many milliseconds; default 10 minutes. */
  timeoutMs?: number;
}

const TIME = "/usr/bin/time";
let timeChecked: boolean | undefined;

/** Whether GNU time is installed (it gives a client's exact peak RSS at exit). */
export async function hasGnuTime(): Promise<boolean> {
  if (timeChecked !== undefined) return timeChecked;
  try {
    const out = await new Deno.Command(TIME, {
      args: ["-f", "%M", "true"],
      stdout: "null",
      stderr: "piped",
    }).output();
    timeChecked = out.success && /^\d+\s*$/.test(new TextDecoder().decode(out.stderr));
  } catch {
    timeChecked = false;
  }
  return timeChecked;
}

/** VmHWM (peak resident set size) of a live process in KiB, or 0 when it cannot be read. */
export function peakRssOf(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** A port that was free a moment ago, for servers that cannot listen on port 0. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function collect(stream: ReadableStream<Uint8Array>, sink: (text: string) => void) {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink(decoder.decode(chunk, { stream: true }));
}

function killQuietly(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // Already exited.
  }
}

/** Runs a client to completion and measures its wall time and peak RSS. */
export async function runClient(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): Promise<ClientRun> {
  const timed = await hasGnuTime();
  const rssFile = timed ? await Deno.makeTempFile({ prefix: "dimse-bench-rss-" }) : "";
  const started = performance.now();
  const child = new Deno.Command(timed ? TIME : command, {
    args: timed ? ["-f", "%M", "-o", rssFile, command, ...args] : args,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const collecting = Promise.all([
    collect(child.stdout, (t) => out += t),
    collect(child.stderr, (t) => err += t),
  ]);
  let polled = 0;
  const poller = timed ? undefined : setInterval(() => {
    polled = Math.max(polled, peakRssOf(child.pid));
  }, 20);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killQuietly(child, "SIGKILL");
  }, options.timeoutMs ?? 600_000);
  const status = await child.status;
  const seconds = (performance.now() - started) / 1000;
  clearTimeout(timer);
  if (poller !== undefined) clearInterval(poller);
  await collecting;
  let peakRssKiB = polled;
  if (timed) {
    const text = await Deno.readTextFile(rssFile).catch(() => "");
    const lines = text.trim().split("\n");
    peakRssKiB = Number(lines[lines.length - 1]) || 0;
    await Deno.remove(rssFile).catch(() => {});
  }
  return { code: status.code, seconds, peakRssKiB, output: out + err, timedOut };
}

/** How a server tells where it listens. */
export type ListenWhere =
  /** It was told this port: wait until it accepts a TCP connection there. */
  | { port: number }
  /** It prints its port: the first capture group of this pattern on stdout or stderr. */
  | { portPattern: RegExp };

/** Starts a server and waits until it listens (up to `timeoutMs`, default 20 s). */
export async function startServer(
  command: string,
  args: string[],
  where: ListenWhere,
  options: SpawnOptions = {},
): Promise<ServerProcess> {
  const child = new Deno.Command(command, {
    args,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const collecting = Promise.all([
    collect(child.stdout, (t) => text += t),
    collect(child.stderr, (t) => text += t),
  ]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  async function stop(): Promise<number> {
    const peak = peakRssOf(child.pid);
    if (!exited) {
      killQuietly(child, "SIGTERM");
      const timer = setTimeout(() => killQuietly(child, "SIGKILL"), 15_000);
      await status;
      clearTimeout(timer);
    }
    await collecting;
    return peak;
  }

  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  let port = 0;
  while (port === 0) {
    if (exited) {
      await collecting;
      throw new Error(`${command} exited before listening: ${text.trim()}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${command} did not listen in time: ${text.trim()}`);
    }
    if ("port" in where) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: where.port });
        conn.close();
        port = where.port;
        break;
      } catch {
        // Not listening yet.
      }
    } else {
      const match = where.portPattern.exec(text);
      if (match) {
        port = Number(match[1]);
        break;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { port, pid: child.pid, output: () => text, stop };
}
