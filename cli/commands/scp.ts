/**
 * `dimse scp`: a one-off SCP with the status endpoint beside it. Services come from
 * {@linkcode SERVICE_FACTORIES}: adding a service to the command is one line there.
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };
import { Scp } from "../../src/scp.ts";
import type { AssociationStatus, ScpEventMap } from "../../src/scp.ts";
import type { Service } from "../../src/services/service.ts";
import type { InstanceIndex } from "../../src/store/instance_index.ts";
import { verification } from "../../src/services/verification.ts";
import { storage } from "../../src/services/storage.ts";
import { answerFindExtendedNegotiation, queryRetrieveFind } from "../../src/services/qr_find.ts";
import { openSqliteIndex, type SqliteIndex } from "../../src/store/sqlite_index.ts";
import { reindex } from "../../src/store/reindex.ts";
import { mpps } from "../../src/services/mpps.ts";
import { storageCommitment } from "../../src/services/storage_commitment.ts";
import { queryRetrieveMove } from "../../src/services/qr_move.ts";
import { queryRetrieveGet } from "../../src/services/qr_get.ts";
import { modalityWorklist } from "../../src/services/worklist.ts";
import {
  DUPLICATE_POLICIES,
  type DuplicatePolicy,
  leftoverRemover,
  STORAGE_LAYOUTS,
  type StorageLayout,
} from "../../src/services/storage_layout.ts";
import { createStatusApp } from "../../src/status/app.ts";
import { serveStatus } from "../../src/status/serve.ts";
import type { StatusServer } from "../../src/status/serve.ts";
import { scpStatusSource } from "../../src/status/scp_source.ts";
import { warmUp } from "../_warm_up.ts";
import { printable } from "../../src/log_line.ts";
import {
  consoleIo,
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  listOption,
  parseAeTitle,
  parseCommandArgs,
  parseHostPort,
  parseInteger,
  parseMaxPdu,
  parsePort,
  parseUid,
  stringOption,
  UsageError,
} from "../_args.ts";
import type { CliIo, HostPort, ParsedValues } from "../_args.ts";

export type { HostPort } from "../_args.ts";

/** The settings of one `scp` run, from defaults, `--config` and options (in that order). */
export interface ScpSettings {
  /** DICOM port; 0 picks a free one. */
  port: number;
  /** Our AE title. */
  aeTitle: string;
  /** Folder for received instances (Storage). */
  dir: string;
  /** Status endpoint port, or null when disabled. */
  httpPort: number | null;
  /** Address the status endpoint binds. */
  httpHostname: string;
  /** Address the DICOM port binds. */
  hostname: string;
  /** Maximum PDU length we receive; 0 means unlimited. */
  maxPduLength: number;
  /** Concurrent associations allowed. */
  maxAssociations: number;
  /** Operations performed at once on one association, when the requestor proposes a window. */
  window: number;
  /** Reject associations whose called AE title is not ours. */
  requireCalledAeTitle: boolean;
  /** Calling AE titles allowed; empty allows any. */
  allowedCallingAeTitles: string[];
  /** Move destinations by AE title (Q/R C-MOVE). */
  destinations: Record<string, HostPort>;
  /** Log every DIMSE message as well as association events. */
  verbose: boolean;
  /** Rebuild the store index from the files on start, instead of the quick check. */
  reindex: boolean;
  /** Folder layout of the store (Storage). */
  layout: StorageLayout;
  /** What a SOP Instance UID already stored does (Storage). */
  duplicates: DuplicatePolicy;
  /** Flush each received file to disk before acknowledging it (Storage). */
  fsync: boolean;
  /**
   * Transfer syntaxes Storage accepts, in preference order; undefined for every standard one
   * (Explicit VR Little Endian first).
   */
  transferSyntaxes?: string[];
  /** Folder of Modality Worklist items (.json or Part 10); default `<dir>/worklist`. */
  worklist?: string;
  /** Instances the warm-up stores (into a scratch folder) before the SCP listens; 0 for none. */
  warmUp: number;
}

/** What the services of one run share. */
export interface ScpContext {
  /** The store's index (Query/Retrieve, Storage Commitment), when open. */
  index?: InstanceIndex;
}

/** Builds a service of the SCP from the settings and the shared context. */
export type ServiceFactory = (settings: ScpSettings, context: ScpContext) => Service;

/** The services of `dimse scp`, one line each. */
export const SERVICE_FACTORIES: ServiceFactory[] = [
  () => verification(),
  (s, c) =>
    storage({
      dir: s.dir,
      index: c.index,
      layout: s.layout,
      duplicates: s.duplicates,
      fsync: s.fsync,
      spareTempFile: true,
      transferSyntaxes: s.transferSyntaxes,
    }),
  (settings) => mpps({ dir: settings.dir }),
  (s, c) => queryRetrieveFind({ index: c.index!, retrieveAeTitle: s.aeTitle }),
  (s, c) =>
    storageCommitment({
      aeTitle: s.aeTitle,
      dir: s.dir,
      index: () => c.index,
      destinations: s.destinations,
    }),
  (s, c) =>
    queryRetrieveMove({
      index: c.index!,
      dir: s.dir,
      destinations: s.destinations,
      aeTitle: s.aeTitle,
    }),
  (s, c) => queryRetrieveGet({ index: c.index!, dir: s.dir }),
  (s) => modalityWorklist({ dir: s.worklist ?? `${s.dir}/worklist` }),
];

const DEFAULTS: ScpSettings = {
  port: 11112,
  aeTitle: "DIMSE",
  dir: "./dicom-store",
  httpPort: 8080,
  httpHostname: "127.0.0.1",
  hostname: "0.0.0.0",
  // The largest DCMTK accepts: peers send fewer, larger PDUs (storescu is about a quarter faster
  // with 512 KiB instances than at 16384), and the data set is streamed whatever the size.
  maxPduLength: 131072,
  maxAssociations: 16,
  window: 16,
  requireCalledAeTitle: false,
  allowedCallingAeTitles: [],
  destinations: {},
  verbose: false,
  reindex: false,
  layout: "flat",
  duplicates: "overwrite",
  fsync: true,
  warmUp: 300,
};

const HELP = `Usage: dimse scp [options]

Runs an SCP and the HTTP status endpoint (/health, /status, /metrics, /) until SIGINT or
SIGTERM, then closes gracefully. Services: Verification; Storage (Part 10 files under --dir,
indexed in <dir>/.dimse-index.sqlite); Query/Retrieve FIND, MOVE and GET (patient and study root)
over what was stored; Modality Worklist; Storage Commitment Push Model; MPPS.

Options:
  --port N              DICOM port, 0 for any free port (default 11112)
  --host ADDR           address the DICOM port binds (default 0.0.0.0)
  --aet AE              our AE title (default DIMSE)
  --dir DIR             folder for received instances (default ./dicom-store)
  --http N|off          status endpoint port, 0 for any free port, off to disable (default 8080)
  --http-host ADDR      address the status endpoint binds (default 127.0.0.1)
  --max-pdu N           maximum PDU length we receive, 0 for unlimited (default 131072)
  --max-associations N  concurrent associations allowed (default 16)
  --window N            operations performed at once on one association when the requestor
                        proposes an asynchronous operations window (default 16)
  --require-called-ae   reject associations calling an AE title other than --aet
                        (default: answer any called AE title)
  --allow AE            accept only this calling AE title (repeatable; default any)
  --dest AE=HOST:PORT   a move destination or Storage Commitment requestor (repeatable)
                        (Q/R C-MOVE to an AE title not listed is refused with A801)
  --layout flat|hierarchical
                        store files as DIR/<SOP Instance UID>.dcm (flat, default) or
                        DIR/<Study UID>/<Series UID>/<SOP Instance UID>.dcm
  --duplicates overwrite|keep-first|keep-both
                        a SOP Instance UID already stored: replace it (default), keep the
                        stored one and discard the new, or store the new as <uid>.<n>.dcm
  --fsync on|off        flush each file to disk before acknowledging it (default on)
  --transfer-syntax UID
                        a transfer syntax Storage accepts (repeatable, in order of preference,
                        which wins over the peer's; default every standard one, Explicit VR
                        Little Endian first, then the other uncompressed ones)
  --worklist DIR        Modality Worklist items, DICOM JSON (.json) or Part 10 files, read
                        for each query (default <dir>/worklist)
  --config FILE         JSON file with any of the settings above, e.g.
                        {"port": 104, "aet": "PACS", "allow": ["CT1"], "dest": {"WS": "ws:104"}}
                        (options on the command line win)
  --verbose             log every DIMSE message too
  --reindex             rebuild the Q/R index from every file in DIR on start (default: only
                        drop rows whose file is gone and index files that have no row)
  --warm-up N           before listening, store N instances from our own SCU over loopback
                        into a scratch folder, so that the first peer is served at full
                        speed; 0 for none (default 300, about a quarter of a second)
  -h, --help            show this help`;

const OPTIONS = {
  port: { type: "string" },
  host: { type: "string" },
  aet: { type: "string" },
  dir: { type: "string" },
  http: { type: "string" },
  "http-host": { type: "string" },
  "max-pdu": { type: "string" },
  "max-associations": { type: "string" },
  window: { type: "string" },
  "require-called-ae": { type: "boolean" },
  allow: { type: "string", multiple: true },
  dest: { type: "string", multiple: true },
  config: { type: "string" },
  verbose: { type: "boolean" },
  reindex: { type: "boolean" },
  layout: { type: "string" },
  duplicates: { type: "string" },
  fsync: { type: "string" },
  "transfer-syntax": { type: "string", multiple: true },
  worklist: { type: "string" },
  "warm-up": { type: "string" },
} as const;

/** Reads `--config`: a JSON object whose keys are the long option names. */
async function readConfig(path: string): Promise<ParsedValues> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new UsageError(`Cannot read config file ${path}: ${describeError(error)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`Config file ${path} is not JSON: ${describeError(error)}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new UsageError(`Config file ${path} must hold a JSON object`);
  }
  const values: ParsedValues = {};
  for (const [key, value] of Object.entries(data)) {
    if (!(key in OPTIONS) || key === "config") {
      throw new UsageError(`Config file ${path} has an unknown key "${key}"`);
    }
    if (key === "dest" && typeof value === "object" && value !== null && !Array.isArray(value)) {
      values.dest = Object.entries(value).map(([ae, where]) => `${ae}=${where}`);
    } else if (Array.isArray(value)) {
      values[key] = value.map(String);
    } else if (
      typeof value === "boolean" &&
      (key === "verbose" || key === "require-called-ae" || key === "reindex")
    ) {
      values[key] = value;
    } else if (typeof value === "string" || typeof value === "number") {
      values[key] = String(value);
    } else {
      throw new UsageError(`Config file ${path} has an invalid value for "${key}"`);
    }
  }
  return values;
}

/** Turns parsed option values into settings, checking each; throws UsageError. */
function settingsFrom(values: ParsedValues): ScpSettings {
  const s: ScpSettings = { ...DEFAULTS, destinations: {} };
  const port = stringOption(values, "port");
  if (port !== undefined) s.port = parsePort("port", port);
  s.hostname = stringOption(values, "host", s.hostname);
  const aet = stringOption(values, "aet");
  if (aet !== undefined) s.aeTitle = parseAeTitle("aet", aet);
  s.dir = stringOption(values, "dir", s.dir);
  const http = stringOption(values, "http");
  if (http !== undefined) s.httpPort = http === "off" ? null : parsePort("http", http);
  s.httpHostname = stringOption(values, "http-host", s.httpHostname);
  const maxPdu = stringOption(values, "max-pdu");
  if (maxPdu !== undefined) s.maxPduLength = parseMaxPdu("max-pdu", maxPdu);
  const maxAssociations = stringOption(values, "max-associations");
  if (maxAssociations !== undefined) {
    s.maxAssociations = parseInteger("max-associations", maxAssociations, 1, 10_000);
  }
  const window = stringOption(values, "window");
  if (window !== undefined) s.window = parseInteger("window", window, 1, 65_535);
  s.allowedCallingAeTitles = listOption(values, "allow").map((ae) => parseAeTitle("allow", ae));
  for (const dest of listOption(values, "dest")) {
    const eq = dest.indexOf("=");
    if (eq <= 0) throw new UsageError(`Option --dest must read AE=HOST:PORT, got "${dest}"`);
    s.destinations[parseAeTitle("dest", dest.slice(0, eq))] = parseHostPort(dest.slice(eq + 1));
  }
  s.requireCalledAeTitle = values["require-called-ae"] === true;
  s.verbose = values.verbose === true;
  s.reindex = values.reindex === true;
  s.layout = oneOf("layout", stringOption(values, "layout", s.layout), STORAGE_LAYOUTS);
  s.duplicates = oneOf(
    "duplicates",
    stringOption(values, "duplicates", s.duplicates),
    DUPLICATE_POLICIES,
  );
  s.fsync = oneOf("fsync", stringOption(values, "fsync", "on"), ["on", "off"]) === "on";
  const transferSyntaxes = listOption(values, "transfer-syntax").map((uid) =>
    parseUid("transfer-syntax", uid)
  );
  if (transferSyntaxes.length > 0) s.transferSyntaxes = [...new Set(transferSyntaxes)];
  s.worklist = stringOption(values, "worklist");
  const warm = stringOption(values, "warm-up");
  if (warm !== undefined) s.warmUp = parseInteger("warm-up", warm, 0, 100_000);
  return s;
}

/** The value when it is one of `allowed`; throws UsageError naming the option otherwise. */
function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) {
    throw new UsageError(`Option --${name} must be one of ${allowed.join(", ")}, got "${value}"`);
  }
  return found;
}

/** "CALLING@host:port -> CALLED" for log lines. */
function who(a: AssociationStatus): string {
  return printable(`${a.callingAeTitle || "?"}@${a.peerAddress} -> ${a.calledAeTitle || "?"}`);
}

/** Names of A-ASSOCIATE-RJ reasons by source (PS3.8 Table 9-21). */
const REJECT_REASONS: Record<number, Record<number, string>> = {
  1: {
    1: "no reason given",
    2: "application context name not supported",
    3: "calling AE title not recognized",
    7: "called AE title not recognized",
  },
  2: { 1: "no reason given", 2: "protocol version not supported" },
  3: { 1: "temporary congestion", 2: "local limit exceeded" },
};

/** Describes an A-ASSOCIATE-RJ (PS3.8 Table 9-21). */
function describeRejection(e: ScpEventMap["association-rejected"]): string {
  const result = e.result === 1 ? "permanent" : e.result === 2 ? "transient" : `result ${e.result}`;
  const reason = REJECT_REASONS[e.source]?.[e.reason] ?? `source ${e.source} reason ${e.reason}`;
  return `${reason} (${result})`;
}

/** Describes an A-ABORT (PS3.8 Table 9-26). */
function describeAbort(e: ScpEventMap["association-aborted"]): string {
  if (e.source === 0) return "service user";
  if (e.source === 2) return `service provider, reason ${e.reason}`;
  return `source ${e.source}, reason ${e.reason}`;
}

/** Writes one line per association event (and per message when verbose). */
function logScpEvents(scp: Scp, io: CliIo, verbose: boolean): void {
  scp.on("association-accepted", (e) => {
    const n = e.association.acceptedContexts.length;
    io.err(`association accepted: ${who(e.association)}, ${n} context(s)`);
  });
  scp.on("association-rejected", (e) => {
    io.err(`association rejected: ${who(e.association)}, ${describeRejection(e)}`);
  });
  scp.on("association-released", (e) => {
    const a = e.association;
    io.err(`association released: ${who(a)}, ${a.messagesIn} message(s) in, ${a.messagesOut} out`);
  });
  scp.on("association-aborted", (e) => {
    const a = e.association;
    io.err(
      `association aborted: ${who(a)}, ${
        describeAbort(e)
      }, ${a.messagesIn} message(s) in, ${a.messagesOut} out`,
    );
  });
  if (!verbose) return;
  scp.on("message-received", (e) => {
    io.err(`message received: ${who(e.association)}, command 0x${hex(e.command.commandField)}`);
  });
  scp.on("message-sent", (e) => {
    const status = e.command.status === undefined ? "" : `, status 0x${hex(e.command.status)}`;
    io.err(
      `message sent: ${who(e.association)}, command 0x${hex(e.command.commandField)}${status}`,
    );
  });
}

function hex(n: number): string {
  return n.toString(16).padStart(4, "0");
}

/** Resolves when the signal aborts, or on SIGINT/SIGTERM when there is no signal. */
function stopRequested(signal: AbortSignal | undefined): Promise<string> {
  return new Promise(function wait(resolve) {
    if (signal !== undefined) {
      if (signal.aborted) resolve("stop requested");
      signal.addEventListener("abort", () => resolve("stop requested"), { once: true });
      return;
    }
    const names: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
    const handlers = new Map<Deno.Signal, () => void>();
    for (const name of names) {
      const handler = function onSignal(): void {
        for (const [other, h] of handlers) Deno.removeSignalListener(other, h);
        resolve(name);
      };
      handlers.set(name, handler);
      Deno.addSignalListener(name, handler);
    }
  });
}

/** Runs `scp` until stopped; returns 0 after a graceful close, 1 on failure, 2 on bad args. */
export async function main(args: string[], io: CliIo = consoleIo): Promise<number> {
  let settings: ScpSettings;
  try {
    const { values, positionals } = parseCommandArgs(args, OPTIONS);
    if (values.help === true) {
      io.out(HELP);
      return EXIT_OK;
    }
    if (positionals.length > 0) {
      throw new UsageError(`Unexpected argument "${positionals[0]}" (see dimse scp --help)`);
    }
    const config = stringOption(values, "config");
    const fromFile = config === undefined ? {} : await readConfig(config);
    settings = settingsFrom({ ...fromFile, ...values });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`dimse scp: ${error.message}`);
    return EXIT_USAGE;
  }

  let index: SqliteIndex;
  try {
    index = openSqliteIndex(settings.dir);
  } catch (error) {
    io.err(`dimse scp: cannot open the index of ${settings.dir}: ${describeError(error)}`);
    return EXIT_FAILURE;
  }
  try {
    const leftovers = leftoverRemover(settings.dir);
    const r = await reindex(index, settings.dir, {
      mode: settings.reindex ? "full" : "check",
      onHiddenFile: leftovers.visit,
    });
    if (leftovers.removed.length > 0) {
      io.err(`storage: removed ${leftovers.removed.length} temp file(s) left by an earlier run`);
    }
    io.out(
      `index: ${r.kept + r.added} instance(s); ${r.added} added, ${r.removed} dropped, ` +
        `${r.failed.length} unreadable file(s)`,
    );
  } catch (error) {
    io.err(`dimse scp: cannot index ${settings.dir}: ${describeError(error)}`);
    await index.close();
    return EXIT_FAILURE;
  }
  if (settings.warmUp > 0) {
    try {
      const done = await warmUp(
        (dir, index) =>
          SERVICE_FACTORIES.map((make) => make({ ...settings, dir, fsync: false }, { index })),
        {
          instances: settings.warmUp,
          aeTitle: settings.aeTitle,
          maxPduLength: settings.maxPduLength,
        },
      );
      io.out(`warm-up: ${done.instances} instance(s) in ${Math.round(done.ms)} ms`);
    } catch (error) {
      io.err(`dimse scp: warm-up failed, serving without it: ${describeError(error)}`);
    }
  }
  const context: ScpContext = { index };
  const scp = new Scp({
    aeTitle: settings.aeTitle,
    port: settings.port,
    hostname: settings.hostname,
    services: SERVICE_FACTORIES.map((make) => make(settings, context)),
    requireCalledAeTitle: settings.requireCalledAeTitle,
    allowedCallingAeTitles: settings.allowedCallingAeTitles.length > 0
      ? settings.allowedCallingAeTitles
      : undefined,
    maxAssociations: settings.maxAssociations,
    // PS3.7 D.3.3.3: we invoke one operation at a time and perform up to --window at once.
    asyncOpsWindow: { maxOperationsInvoked: 1, maxOperationsPerformed: settings.window },
    maxPduLength: settings.maxPduLength,
    // Relational queries and combined date-time matching (PS3.4 C.4.1.1.2), when asked for.
    extendedNegotiation: (items) =>
      answerFindExtendedNegotiation(items.sopClassExtendedNegotiations),
  });
  logScpEvents(scp, io, settings.verbose);
  const source = settings.httpPort === null
    ? undefined
    : scpStatusSource(scp, { version: denoJson.version });
  try {
    await scp.listen();
  } catch (error) {
    io.err(
      `dimse scp: cannot listen on ${settings.hostname}:${settings.port}: ${describeError(error)}`,
    );
    await index.close();
    return EXIT_FAILURE;
  }
  io.out(`listening on ${scp.hostname}:${scp.port} as ${settings.aeTitle}`);

  let status: StatusServer | undefined;
  if (source !== undefined && settings.httpPort !== null) {
    try {
      status = await serveStatus(createStatusApp(source), {
        port: settings.httpPort,
        hostname: settings.httpHostname,
      });
    } catch (error) {
      io.err(
        `dimse scp: cannot serve status on ${settings.httpHostname}:${settings.httpPort}: ${
          describeError(error)
        }`,
      );
      await scp.close({ timeoutMs: 1000 });
      await index.close();
      return EXIT_FAILURE;
    }
    io.out(`status on ${status.url}`);
  }

  const why = await stopRequested(io.signal);
  io.out(`closing (${why}): waiting up to 10 s for associations in progress`);
  try {
    await scp.close({ timeoutMs: 10_000 });
    await index.close();
    await status?.close();
  } catch (error) {
    io.err(`dimse scp: close failed: ${describeError(error)}`);
    return EXIT_FAILURE;
  }
  io.out("closed");
  return EXIT_OK;
}
