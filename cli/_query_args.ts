// Shared by find, move and get: `-k` query keys, levels and models, the common connection
// options, Ctrl-C as C-CANCEL, progress on a terminal, and match formatting.
//
// Key syntax (`-k`): `Keyword=Value` or `ggggeeee=Value` (also `gggg,eeee` and `(gggg,eeee)`);
// `Keyword=` or a bare `Keyword` is a return key (asked for, matched universally, PS3.4
// C.2.2.2.3); a sequence item attribute is `Sequence[i].Keyword=Value` (`Sequence.Keyword` is
// item 0), nested to any depth; a bare `Sequence` or `Sequence=` asks for the whole sequence.
import { type DataElement, type DataSet, fromKeywords } from "../src/dataset/dataset.ts";
import { keywordOf, tagOf, vrOf } from "../src/dataset/dictionary.ts";
import { parseTag, tagToHex } from "../src/dataset/tag.ts";
import {
  isCompleteSuccess,
  type RetrieveResult,
  type SubOperationProgress,
} from "../src/services/query_retrieve_scu.ts";
import type { Association } from "../src/client.ts";
import { statusHex } from "../src/dimse/status.ts";
import {
  type AssociationArgs,
  type CliIo,
  consoleIo,
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  parseAssociationArgs,
  stringOption,
  UsageError,
} from "./_args.ts";
import { associate, releaseOrAbort } from "./_associate.ts";
import type { OptionSpec, ParsedValues } from "./_args.ts";
import { printable } from "../src/log_line.ts";

/** Query/Retrieve levels (PS3.4 C.3). */
export const LEVELS = ["PATIENT", "STUDY", "SERIES", "IMAGE"] as const;

/** A Query/Retrieve level. */
export type Level = typeof LEVELS[number];

/** Options every query command takes, for parseCommandArgs. */
export const QUERY_OPTIONS: OptionSpec = {
  aet: { type: "string" },
  aec: { type: "string" },
  level: { type: "string" },
  key: { type: "string", short: "k", multiple: true },
  model: { type: "string" },
  timeout: { type: "string" },
};

/** Help text of the options in {@linkcode QUERY_OPTIONS}. */
export const QUERY_OPTIONS_HELP =
  `  --level L        PATIENT, STUDY, SERIES or IMAGE (Query/Retrieve Level)
  -k KEY[=VALUE]   a query key: Keyword=Value or ggggeeee=Value; Keyword= (or Keyword) asks for
                   the attribute back; Sequence[0].Keyword=Value for a key inside a sequence item
  --model M        patient or study root (default study; patient for --level PATIENT)
  --aet ME         calling AE title (default DIMSE-SCU)
  --aec THEM       called AE title (default ANY-SCP)
  --timeout S      seconds to wait for the connection and each answer (default 60)
  -h, --help       show this help`;

/** The connection and query common to find, move and get. */
export interface QueryArgs {
  /** Calling AE title. */
  callingAeTitle: string;
  /** Called AE title. */
  calledAeTitle: string;
  /** The level, absent for the worklist model. */
  level?: Level;
  /** The model. */
  model: "patient" | "study" | "worklist";
  /** The identifier built from the keys (without the level). */
  identifier: DataSet;
  /** Timeout in ms for connect, ARTIM and each response. */
  timeoutMs: number;
}

function tagKeyOf(name: string): string {
  const trimmed = name.trim();
  const bracketed = /^\(?([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)?$/.exec(trimmed);
  if (bracketed) return `${bracketed[1]}${bracketed[2]}`.toUpperCase();
  if (/^[0-9A-Fa-f]{8}$/.test(trimmed)) return trimmed.toUpperCase();
  const tag = tagOf(trimmed);
  if (tag === undefined) throw new UsageError(`Unknown keyword "${trimmed}" in -k`);
  return tagToHex(tag);
}

function leafElement(key: string, value: string | undefined): DataElement {
  const vr = vrOf(parseTag(key)!);
  if (value === undefined || value === "") return { vr };
  if (vr === "SQ") throw new UsageError(`Sequence ${key} takes no value; use ${key}[0].Keyword=…`);
  try {
    return fromKeywords({ [key]: value })[key];
  } catch (error) {
    throw new UsageError(`Bad value for ${key} in -k: ${(error as Error).message}`);
  }
}

/** Adds one `-k` key to an identifier (see the syntax at the top of this file). */
export function addQueryKey(identifier: DataSet, text: string): void {
  const eq = text.indexOf("=");
  const path = (eq < 0 ? text : text.slice(0, eq)).trim();
  const value = eq < 0 ? undefined : text.slice(eq + 1);
  if (path === "") throw new UsageError(`Empty key in -k "${text}"`);
  const steps = path.split(".");
  let target = identifier;
  for (let i = 0; i < steps.length; i++) {
    const match = /^([^[\]]+)(?:\[(\d+)\])?$/.exec(steps[i]);
    if (!match) throw new UsageError(`Bad key "${path}" in -k`);
    const key = tagKeyOf(match[1]);
    const last = i === steps.length - 1;
    if (last && match[2] === undefined) {
      target[key] = leafElement(key, value);
      return;
    }
    if (vrOf(parseTag(key)!) !== "SQ") {
      throw new UsageError(`${match[1]} in -k "${path}" is not a sequence`);
    }
    const index = Number(match[2] ?? 0);
    const element = target[key]?.vr === "SQ" ? target[key] : { vr: "SQ" as const, Value: [] };
    target[key] = element;
    const items = (element.Value ??= []) as (DataSet | null)[];
    while (items.length <= index) items.push({});
    const item = items[index] ?? {};
    items[index] = item;
    target = item;
    if (last) return;
  }
}

/** Parses the common options; throws UsageError on bad ones. */
export function parseQueryArgs(
  values: ParsedValues,
  defaultModel: "patient" | "study" | "worklist" = "study",
  allowWorklist = true,
): QueryArgs {
  const modelText = stringOption(values, "model");
  const levelText = stringOption(values, "level")?.toUpperCase();
  if (modelText !== undefined && !["patient", "study", "worklist"].includes(modelText)) {
    throw new UsageError(`Option --model must be patient, study or worklist, got "${modelText}"`);
  }
  if (modelText === "worklist" && !allowWorklist) {
    throw new UsageError("Option --model worklist is for find only");
  }
  let model = (modelText ?? (levelText === "PATIENT" ? "patient" : defaultModel)) as
    | "patient"
    | "study"
    | "worklist";
  if (modelText === undefined && levelText === undefined && defaultModel === "worklist") {
    model = "worklist";
  }
  let level: Level | undefined;
  if (model !== "worklist") {
    if (levelText === undefined) throw new UsageError("Option --level is required");
    if (!(LEVELS as readonly string[]).includes(levelText)) {
      throw new UsageError(
        `Option --level must be PATIENT, STUDY, SERIES or IMAGE, got "${levelText}"`,
      );
    }
    level = levelText as Level;
    if (model === "study" && level === "PATIENT") {
      throw new UsageError("The study root model has no PATIENT level; use --model patient");
    }
  } else if (levelText !== undefined) {
    throw new UsageError("Option --level does not apply to --model worklist");
  }
  const identifier: DataSet = {};
  const keys = values.key === undefined
    ? []
    : Array.isArray(values.key)
    ? values.key
    : [String(values.key)];
  for (const key of keys) addQueryKey(identifier, key);
  return { ...parseAssociationArgs(values, 60), level, model, identifier };
}

/**
 * An AbortSignal for Ctrl-C: `io.signal` when the caller gives one, otherwise SIGINT (and
 * SIGTERM) while the command runs; call `dispose` when done.
 */
export function interruptSignal(io: CliIo): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  if (io.signal) {
    if (io.signal.aborted) controller.abort();
    const onAbort = () => controller.abort();
    io.signal.addEventListener("abort", onAbort, { once: true });
    return {
      signal: controller.signal,
      dispose: () => io.signal?.removeEventListener("abort", onAbort),
    };
  }
  const names: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handler = () => controller.abort();
  for (const name of names) Deno.addSignalListener(name, handler);
  return {
    signal: controller.signal,
    dispose() {
      for (const name of names) Deno.removeSignalListener(name, handler);
    },
  };
}

const encoder = new TextEncoder();

/** A one-line status redrawn in place on a terminal's stderr; nothing elsewhere. */
export class StatusLine {
  #enabled: boolean;
  #shown = false;

  /** Enabled only for the console when stderr is a terminal. */
  constructor(io: CliIo) {
    this.#enabled = io === consoleIo && Deno.stderr.isTerminal();
  }

  /** Redraws the line. */
  show(text: string): void {
    if (!this.#enabled) return;
    Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${text}`));
    this.#shown = true;
  }

  /** Removes the line before other output. */
  clear(): void {
    if (!this.#enabled || !this.#shown) return;
    Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
    this.#shown = false;
  }
}

function valueText(element: DataElement): string {
  if (element.InlineBinary !== undefined) return `<${element.vr} binary>`;
  const values = element.Value ?? [];
  return values.map((v) => {
    if (v === null) return "";
    if (typeof v === "object") {
      const pn = v as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
      return [pn.Alphabetic ?? "", pn.Ideographic ?? "", pn.Phonetic ?? ""].join("=").replace(
        /=+$/,
        "",
      );
    }
    return String(v);
  }).join("\\");
}

/**
 * A match as `Keyword=value` pairs, the same syntax `-k` takes (sequence items as
 * `Sequence[i].Keyword=value`), separated by spaces; values with spaces are quoted.
 */
export function formatMatch(dataSet: DataSet): string {
  const parts: string[] = [];
  const walk = (ds: DataSet, prefix: string) => {
    for (const key of Object.keys(ds).sort()) {
      const element = ds[key];
      const name = `${prefix}${keywordOf(parseTag(key)!) ?? key}`;
      if (element.vr === "SQ") {
        const items = element.Value ?? [];
        if (items.length === 0) parts.push(`${name}=`);
        items.forEach((item, i) => walk((item ?? {}) as DataSet, `${name}[${i}].`));
        continue;
      }
      const text = valueText(element);
      parts.push(/[\s"]/.test(text) ? `${name}=${JSON.stringify(text)}` : `${name}=${text}`);
    }
  };
  walk(dataSet, "");
  return parts.join(" ");
}

/** The counts of a retrieve as one line. */
export function formatCounts(progress: SubOperationProgress): string {
  const remaining = progress.remaining === undefined ? "" : `remaining ${progress.remaining}, `;
  return `${remaining}completed ${progress.completed}, failed ${progress.failed}, warning ${progress.warning}`;
}

/**
 * Prints the outcome of a C-MOVE or C-GET (failed UIDs to stderr, the summary line to stdout)
 * and returns the exit code: 0 only when the status is success and no sub-operation failed or
 * warned.
 */
export function reportRetrieve(
  command: string,
  io: CliIo,
  result: RetrieveResult,
  what: string,
): number {
  for (const uid of result.failedSopInstanceUids) {
    io.err(`dimse ${command}: failed SOP Instance UID ${printable(uid)}`);
  }
  const status = statusHex(result.status);
  const comment = result.command.errorComment ? ` (${printable(result.command.errorComment)})` : "";
  const cancelled = result.status === 0xfe00 ? "cancelled, " : "";
  io.out(`${what}: ${cancelled}${formatCounts(result)}; status 0x${status}${comment}`);
  return isCompleteSuccess(result) ? EXIT_OK : EXIT_FAILURE;
}

/** What {@linkcode runRetrieve} connects with and runs. */
export interface RetrieveRun {
  /** The peer, AE titles and timeout. */
  request: AssociationArgs;
  /** What the association proposes (contexts, roles, services). */
  connect: Parameters<typeof associate>[3];
  /** The status line's label, before the counts. */
  label: string;
  /** What the summary line names, before the counts. */
  what: string;
  /** Runs the retrieve on the association, with Ctrl-C as `signal`. */
  retrieve(
    association: Association,
    signal: AbortSignal,
    onProgress: (progress: SubOperationProgress) => void,
  ): Promise<RetrieveResult>;
}

/**
 * Requests the association of a C-MOVE or C-GET command, runs the retrieve with its progress
 * on the status line and Ctrl-C as C-CANCEL, reports it ({@linkcode reportRetrieve}) and
 * releases the association. Resolves with the exit code.
 */
export async function runRetrieve(
  command: "move" | "get",
  io: CliIo,
  run: RetrieveRun,
): Promise<number> {
  const interrupt = interruptSignal(io);
  const status = new StatusLine(io);
  const association = await associate(command, io, run.request, run.connect);
  if (!association) {
    interrupt.dispose();
    return EXIT_FAILURE;
  }
  let code: number;
  try {
    const result = await run.retrieve(
      association,
      interrupt.signal,
      (progress) => status.show(`${run.label}: ${formatCounts(progress)}`),
    );
    status.clear();
    code = reportRetrieve(command, io, result, run.what);
  } catch (error) {
    status.clear();
    io.err(`dimse ${command}: ${command} failed: ${describeError(error)}`);
    code = EXIT_FAILURE;
  } finally {
    interrupt.dispose();
  }
  await releaseOrAbort(association);
  return code;
}
