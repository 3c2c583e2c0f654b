// A CliIo that records what a command prints, for running the CLI in-process.
import { type CliIo, run } from "../../cli/main.ts";

const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;

/** `scp` on a free port of 127.0.0.1 with its status endpoint as `http` says (a port, or off). */
export function cliScpArgs(http: string): string[] {
  return ["scp", "--port", "0", "--host", "127.0.0.1", "--http", http];
}

/**
 * Starts `dimse scp --port 0 --host 127.0.0.1 --http 0 --dir store` (then `options.args`) as a
 * process of its own, with `options.env` added to its environment, stdout and stderr piped.
 */
export function spawnCliScp(
  store: string,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...cliScpArgs("0"), "--dir", store, ...options.args ?? []],
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Records each line a spawned process prints on stdout into `io`; resolves at its end. */
export async function recordStdout(child: Deno.ChildProcess, io: RecordingIo): Promise<void> {
  const decoder = new TextDecoder();
  let partial = "";
  for await (const chunk of child.stdout) {
    const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
    partial = lines.pop()!;
    for (const line of lines) if (line) io.out(line);
  }
  if (partial) io.out(partial);
}

/** Recorded output of one in-process run. */
export interface RecordingIo extends CliIo {
  /** Lines written to stdout. */
  stdout: string[];
  /** Lines written to stderr. */
  stderr: string[];
}

/** A CliIo that records lines; `signal` stops long-running commands. */
export function recordingIo(signal?: AbortSignal): RecordingIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    signal,
    out(line: string) {
      stdout.push(...line.split("\n"));
    },
    err(line: string) {
      stderr.push(...line.split("\n"));
    },
  };
}

/**
 * Waits until a line `io` recorded (stdout, then stderr) matches `pattern` and returns the
 * match; throws with every recorded line after 10 s.
 */
export async function waitForLine(io: RecordingIo, pattern: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + 10_000;
  while (true) {
    for (const line of [...io.stdout, ...io.stderr]) {
      const match = pattern.exec(line);
      if (match) return match;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `No line matching ${pattern}; got:\n${[...io.stdout, ...io.stderr].join("\n")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Runs `dimse scp --port 0 --host 127.0.0.1 --http off …args` in-process, waits for its
 * "listening on" line, and runs `fn` with its port and what it prints; then stops it and
 * resolves with its exit code.
 */
export async function withCliScp(
  args: string[],
  fn: (port: string, io: RecordingIo) => Promise<void>,
): Promise<number> {
  // Without --dir the store would be ./dicom-store in the working folder: give it a temp one.
  const store = args.includes("--dir") ? undefined : await Deno.makeTempDir();
  const stop = new AbortController();
  const io = recordingIo(stop.signal);
  const running = run(
    [...cliScpArgs("off"), ...(store === undefined ? [] : ["--dir", store]), ...args],
    io,
  );
  try {
    const [, port] = await waitForLine(io, /^listening on 127\.0\.0\.1:(\d+) as /);
    await fn(port, io);
  } finally {
    stop.abort();
  }
  try {
    return await running;
  } finally {
    if (store !== undefined) await Deno.remove(store, { recursive: true });
  }
}
