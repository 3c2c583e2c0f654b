/**
 * The `dimse` command line: `deno run -A cli/main.ts <command> [options]`. Each command lives
 * in `cli/commands/<name>.ts`; `run` is the in-process entry point (tests call it with their own
 * {@linkcode CliIo}).
 *
 * @module
 */
import { consoleIo, EXIT_OK, EXIT_USAGE } from "./_args.ts";
import type { CliIo, CommandMain } from "./_args.ts";

export type { CliIo } from "./_args.ts";

/** One command: a one-line summary and how to load it. */
interface CommandEntry {
  summary: string;
  load(): Promise<{ main: CommandMain }>;
}

/** The commands, in the order `--help` lists them. */
const COMMANDS: Record<string, CommandEntry> = {
  scp: {
    summary:
      "run an SCP (Verification, Storage, Q/R, Worklist, Commitment, MPPS) with a status page",
    load: () => import("./commands/scp.ts"),
  },
  echo: {
    summary: "send C-ECHO to HOST:PORT",
    load: () => import("./commands/echo.ts"),
  },
  store: {
    summary: "send DICOM files and folders to HOST:PORT with C-STORE",
    load: () => import("./commands/store.ts"),
  },
  mpps: {
    summary: "create, set or get a Modality Performed Procedure Step on HOST:PORT",
    load: () => import("./commands/mpps.ts"),
  },
  commit: {
    summary: "ask HOST:PORT to commit to storing instances and wait for the result",
    load: () => import("./commands/commit.ts"),
  },
  find: {
    summary: "query HOST:PORT with C-FIND (Q/R or Modality Worklist)",
    load: () => import("./commands/find.ts"),
  },
  move: {
    summary: "have HOST:PORT send matching instances to an AE with C-MOVE",
    load: () => import("./commands/move.ts"),
  },
  get: {
    summary: "retrieve matching instances from HOST:PORT into a folder with C-GET",
    load: () => import("./commands/get.ts"),
  },
};

const USAGE = [
  "Usage: dimse <command> [options]",
  "",
  "Commands:",
  ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`),
  "",
  "Run `dimse <command> --help` for the options of a command.",
].join("\n");

/**
 * Runs one command line (without the program name) and returns its exit code: 0 on success,
 * 1 on failure, 2 on bad arguments or an unknown command.
 */
export async function run(args: string[], io: CliIo = consoleIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    io.err(USAGE);
    return EXIT_USAGE;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    io.out(USAGE);
    return EXIT_OK;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (entry === undefined) {
    io.err(`Unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(", ")}`);
    return EXIT_USAGE;
  }
  const { main } = await entry.load();
  return await main(rest, io);
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}
