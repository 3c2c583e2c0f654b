// Finding and running DCMTK tools for the interop tests. When a tool is missing the tests that
// need it are skipped with a loud banner; under CI=true a missing tool is a failing test.
import assert from "node:assert/strict";

/** The outcome of one DCMTK tool run. */
export interface DcmtkResult {
  /** Exit code (a timed-out run reports the code of the killed process). */
  code: number;
  /** Everything the tool wrote to stdout. */
  stdout: string;
  /** Everything the tool wrote to stderr. */
  stderr: string;
  /** True when the run was killed for taking longer than its timeout. */
  timedOut: boolean;
}

/** Environment DCMTK runs with: TCP_NODELAY=1 so small PDUs are not delayed by Nagle. */
export const DCMTK_ENV: Record<string, string> = { TCP_NODELAY: "1" };

const found = new Map<string, boolean>();

/** Whether a DCMTK tool runs (looked up once per tool). */
export async function hasTool(tool: string): Promise<boolean> {
  const known = found.get(tool);
  if (known !== undefined) return known;
  let ok = false;
  try {
    const out = await new Deno.Command(tool, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
      env: DCMTK_ENV,
    }).output();
    ok = out.success;
  } catch {
    ok = false;
  }
  found.set(tool, ok);
  return ok;
}

/**
 * Checks that every tool is present. When one is missing it prints a loud banner and returns
 * false, so the caller's tests are ignored; under CI=true it also registers a failing test.
 */
export async function requireDcmtk(tools: string[], suite: string): Promise<boolean> {
  const missing: string[] = [];
  for (const tool of tools) if (!(await hasTool(tool))) missing.push(tool);
  if (missing.length === 0) return true;
  const line = "!".repeat(78);
  console.error(
    `\n${line}\n!! DCMTK MISSING: ${missing.join(", ")} not found on PATH.\n` +
      `!! SKIPPING the DCMTK interop tests of ${suite}. Install DCMTK (apt-get install dcmtk).\n` +
      `${line}\n`,
  );
  if (Deno.env.get("CI") === "true") {
    Deno.test(`DCMTK tools ${missing.join(", ")} are installed (required when CI=true)`, () => {
      throw new Error(`DCMTK tools missing under CI=true: ${missing.join(", ")}`);
    });
  }
  return false;
}

/** Runs a DCMTK tool to completion, killing it after `timeoutMs`. */
export async function runDcmtk(
  tool: string,
  args: string[],
  options: { timeoutMs?: number } = {},
): Promise<DcmtkResult> {
  const child = new Deno.Command(tool, {
    args,
    env: DCMTK_ENV,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }, options.timeoutMs ?? 20_000);
  const out = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
    timedOut,
  };
}

/** A DCMTK server (storescp, …) running in the background. */
export interface DcmtkServer {
  /** The port it listens on. */
  port: number;
  /** Output collected so far (stdout and stderr interleaved). */
  output(): string;
  /** Kills it and waits for it to exit. */
  stop(): Promise<void>;
}

/** A port that was free a moment ago, for tools that cannot listen on port 0. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Starts a DCMTK server with `args` (the port is appended) and waits until it accepts TCP
 * connections, failing after `timeoutMs`.
 */
export async function startDcmtkServer(
  tool: string,
  args: string[],
  options: { timeoutMs?: number } = {},
): Promise<DcmtkServer> {
  const port = freePort();
  const child = new Deno.Command(tool, {
    args: [...args, String(port)],
    env: DCMTK_ENV,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  async function collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  }
  const collecting = Promise.all([collect(child.stdout), collect(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  async function stop(): Promise<void> {
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }
    await status;
    await collecting;
  }
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (true) {
    if (exited) {
      await collecting;
      throw new Error(`${tool} exited before listening: ${text.trim()}`);
    }
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`${tool} did not listen on port ${port} in time`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { port, output: () => text, stop };
}

/**
 * Runs `body` with a DCMTK storescp, called `aeTitle`, that writes what it receives into a new
 * temporary folder; stops it and removes the folder after.
 */
export async function withStorescp(
  aeTitle: string,
  body: (storescp: DcmtkServer, dir: string) => Promise<void>,
  options: { prefix?: string } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: options.prefix });
  const storescp = await startDcmtkServer("storescp", ["-aet", aeTitle, "-od", dir]);
  try {
    await body(storescp, dir);
  } finally {
    await storescp.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** dcmdump of the data set (no file meta group), one line per element, for comparison. */
export async function dumpDataSet(path: string): Promise<string[]> {
  const result = await runDcmtk("dcmdump", ["-q", "+L", path]);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.split("\n")
    .filter((l) => /^\s*\(/.test(l) && !/^\s*\(0002,/.test(l))
    .map((l) => l.replace(/\s+#.*$/, ""));
  assert.ok(lines.some((l) => l.startsWith("(0008,0018)")), `dcmdump of ${path}`);
  return lines;
}

/** Timeouts DCMTK SCUs run with here: 10 s each to connect, for ACSE and for DIMSE. */
export const SCU_TIMEOUTS: readonly string[] = ["-to", "10", "-ta", "10", "-td", "10"];

/**
 * A function that registers tests named `DCMTK: …`, skipped unless `enabled` (the answer of
 * {@linkcode requireDcmtk}, which under CI=true fails instead of skipping).
 */
export function interopTest(enabled: boolean): (name: string, fn: () => Promise<void>) => void {
  return (name, fn) => Deno.test({ name: `DCMTK: ${name}`, ignore: !enabled, fn });
}
