// A CliIo that records what a command prints, for running the CLI in-process.
import type { CliIo } from "../../cli/main.ts";

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
