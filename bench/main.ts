/**
 * Runs every benchmark of the project, one after another. Each bench module exports
 * `run(): Promise<void>` and prints its own table; add new ones to {@link BENCHES}.
 *
 * @module
 */

/** A bench module: `run` measures and prints one table. */
export interface BenchModule {
  /** Measures and prints. */
  run(): Promise<void>;
}

/** The bench modules, in the order they run. */
export const BENCHES: readonly (() => Promise<BenchModule>)[] = [
  () => import("./codec_bench.ts"),
];

if (import.meta.main) {
  for (const load of BENCHES) await (await load()).run();
}
