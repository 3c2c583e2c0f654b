/**
 * Runs every benchmark of the project, one after another. Each bench module exports
 * `run(args): Promise<void>` and prints its own table; add new ones to {@link BENCHES}.
 * `deno task bench --quick` (or `DIMSE_BENCH_QUICK=1`) makes the storage table small;
 * `--only codec`, `--only head` or `--only storage` runs one table.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** A bench module: `run` measures and prints one table. */
export interface BenchModule {
  /** Measures and prints; `args` are the command line's (each bench picks its options). */
  run(args: string[]): Promise<void>;
}

/** The bench modules by name, in the order they run. */
export const BENCHES: Readonly<Record<string, () => Promise<BenchModule>>> = {
  codec: () => import("./codec_bench.ts"),
  head: () => import("./head_bench.ts"),
  storage: () => import("./storage_bench.ts"),
};

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { only: { type: "string" } },
    strict: false,
  });
  const only = typeof values.only === "string" ? values.only : undefined;
  if (only !== undefined && !(only in BENCHES)) {
    console.error(`Unknown bench "${only}"; known: ${Object.keys(BENCHES).join(", ")}`);
    Deno.exit(2);
  }
  for (const [name, load] of Object.entries(BENCHES)) {
    if (only === undefined || only === name) await (await load()).run(Deno.args);
  }
}
