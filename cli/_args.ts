// Shared helpers of the CLI commands: argument parsing on node:util parseArgs, value checks that
// fail with one clear line, output streams and exit codes.
import { parseArgs } from "node:util";
import { isValidUid } from "../src/ul/uids.ts";
import { printable } from "../src/log_line.ts";

/** Exit code of a command that succeeded. */
export const EXIT_OK = 0;
/** Exit code of a command that ran and failed (network, peer, file). */
export const EXIT_FAILURE = 1;
/** Exit code of a command given bad arguments. */
export const EXIT_USAGE = 2;

/**
 * Where a command writes and what stops it. The default writes to stdout/stderr and stops on
 * SIGINT/SIGTERM; tests pass their own to run a command in-process.
 */
export interface CliIo {
  /** Writes one line of normal output. */
  out(line: string): void;
  /** Writes one line of diagnostics (errors, log lines). */
  err(line: string): void;
  /** When aborted, a long-running command (scp) closes gracefully and returns. */
  signal?: AbortSignal;
}

/** The entry point of one command. */
export type CommandMain = (args: string[], io?: CliIo) => Promise<number>;

/**
 * Output to the process's stdout and stderr. What a peer sent (values, comments, UIDs) may be
 * part of a line: control characters other than the line feeds of multi-line text are written
 * as `\xHH`, so that none reaches the terminal as a control.
 */
export const consoleIo: CliIo = {
  out(line: string) {
    console.log(printableLines(line));
  },
  err(line: string) {
    console.error(printableLines(line));
  },
};

function printableLines(text: string): string {
  return text.includes("\n") ? text.split("\n").map(printable).join("\n") : printable(text);
}

/** Bad command-line arguments: reported as one line, exit code 2. */
export class UsageError extends Error {
  /** Creates the error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Option declarations as node:util parseArgs takes them. */
export type OptionSpec = Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean; default?: string | boolean }
>;

/** Parsed values: strings, booleans, or string lists for `multiple` options. */
export type ParsedValues = Record<string, string | boolean | string[] | undefined>;

/**
 * Parses a command's arguments into its request: `build` turns the parsed values and
 * positionals into it, throwing UsageError on bad ones. With --help the command's help is
 * printed (exit code 0); a UsageError is printed as `dimse COMMAND: message` (exit code 2).
 */
export function parseRequest<T>(
  command: string,
  args: string[],
  io: CliIo,
  spec: { options: OptionSpec; help: string },
  build: (values: ParsedValues, positionals: string[]) => T,
): { request: T } | { exitCode: number } {
  try {
    const { values, positionals } = parseCommandArgs(args, spec.options);
    if (values.help === true) {
      io.out(spec.help);
      return { exitCode: EXIT_OK };
    }
    return { request: build(values, positionals) };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`dimse ${command}: ${error.message}`);
    return { exitCode: EXIT_USAGE };
  }
}

/** Parses strictly (unknown options are errors); throws UsageError with one line on failure. */
export function parseCommandArgs(
  args: string[],
  options: OptionSpec,
): { values: ParsedValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { help: { type: "boolean", short: "h" }, ...options },
      strict: true,
      allowPositionals: true,
    });
    return { values: values as ParsedValues, positionals };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(firstLine(message));
  }
}

/** The first line of a message, without a trailing period. */
export function firstLine(message: string): string {
  const line = message.split("\n")[0].trim();
  return line.endsWith(".") ? line.slice(0, -1) : line;
}

/** A string option's value, or the default when absent. */
export function stringOption(values: ParsedValues, name: string, fallback: string): string;
/** A string option's value, or undefined when absent. */
export function stringOption(values: ParsedValues, name: string): string | undefined;
export function stringOption(
  values: ParsedValues,
  name: string,
  fallback?: string,
): string | undefined {
  const value = values[name];
  if (value === undefined) return fallback;
  if (typeof value !== "string") throw new UsageError(`Option --${name} needs a value`);
  return value;
}

/** A list option's values (empty when absent). */
export function listOption(values: ParsedValues, name: string): string[] {
  const value = values[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [String(value)];
}

/** Parses a decimal integer within [min, max]; the message names the option. */
export function parseInteger(name: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new UsageError(`Option --${name} must be a whole number, got "${text}"`);
  }
  const value = Number(text.trim());
  if (value < min || value > max) {
    throw new UsageError(`Option --${name} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

/** A TCP port option: 0–65535 (0 picks a free port). */
export function parsePort(name: string, text: string): number {
  return parseInteger(name, text, 0, 65535);
}

/**
 * A Maximum Length value (PS3.8 §D.1): 0 means unlimited; otherwise the standard's minimum
 * is not fixed, but below 4096 no implementation interoperates, so we ask for at least that.
 */
export function parseMaxPdu(name: string, text: string): number {
  const value = parseInteger(name, text, 0, 0xffffffff);
  if (value !== 0 && value < 4096) {
    throw new UsageError(`Option --${name} must be 0 (unlimited) or at least 4096, got ${value}`);
  }
  return value;
}

/** Checks a UID (PS3.5 §9.1) given as option `--name`; throws UsageError naming the option. */
export function parseUid(name: string, text: string): string {
  if (!isValidUid(text)) throw new UsageError(`Option --${name} must be a UID, got "${text}"`);
  return text;
}

/**
 * Checks an AE title (PS3.5 §6.2, VR AE): 1–16 characters of the default repertoire, no
 * backslash or control characters, not only spaces. Returns it without surrounding spaces.
 */
export function parseAeTitle(name: string, text: string): string {
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new UsageError(`Option --${name} must not be empty`);
  if (text.length > 16) {
    throw new UsageError(`Option --${name} must be at most 16 characters, got "${text}"`);
  }
  if (!/^[\x20-\x7e]+$/.test(text) || text.includes("\\")) {
    throw new UsageError(
      `Option --${name} may hold only printable ASCII without backslash, got "${text}"`,
    );
  }
  return trimmed;
}

/** A peer address given as HOST:PORT (IPv6 as [ADDR]:PORT). */
export interface HostPort {
  /** Host name or IP address. */
  host: string;
  /** TCP port, 1–65535. */
  port: number;
}

/** Parses HOST:PORT; the port is required. */
export function parseHostPort(text: string): HostPort {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:\s]+):(\d+)$/.exec(text);
  if (match === null) throw new UsageError(`Expected HOST:PORT, got "${text}"`);
  const port = Number(match[2]);
  if (port < 1 || port > 65535) {
    throw new UsageError(`Port must be between 1 and 65535, got ${match[2]}`);
  }
  return { host: match[1], port };
}

/** The peer, the AE titles and the one timeout of a command's association. */
export interface AssociationArgs extends HostPort {
  /** Calling AE title (--aet). */
  callingAeTitle: string;
  /** Called AE title (--aec). */
  calledAeTitle: string;
  /** Timeout in ms (--timeout): connect, ARTIM and each DIMSE response. */
  timeoutMs: number;
}

/**
 * Parses --aet, --aec and --timeout (in seconds, default `defaultTimeoutSeconds`); the AE
 * titles default to DIMSE-SCU and ANY-SCP.
 */
export function parseAssociationArgs(
  values: ParsedValues,
  defaultTimeoutSeconds: number,
): Omit<AssociationArgs, keyof HostPort> {
  return {
    callingAeTitle: parseAeTitle("aet", stringOption(values, "aet", "DIMSE-SCU")),
    calledAeTitle: parseAeTitle("aec", stringOption(values, "aec", "ANY-SCP")),
    timeoutMs: 1000 *
      parseInteger(
        "timeout",
        stringOption(values, "timeout", String(defaultTimeoutSeconds)),
        1,
        86400,
      ),
  };
}

/** The peer as commands name it: `CALLED-AE@HOST:PORT`. */
export function targetOf(request: AssociationArgs): string {
  return `${request.calledAeTitle}@${request.host}:${request.port}`;
}

/** Turns any error into one line for the user. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    return firstLine(error.message || error.name);
  }
  return firstLine(String(error));
}
