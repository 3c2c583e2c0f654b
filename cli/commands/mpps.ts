/**
 * `dimse mpps create|set|get HOST:PORT …`: Modality Performed Procedure Step as SCU (PS3.4
 * Annex F): N-CREATE a step IN PROGRESS, N-SET it COMPLETED or DISCONTINUED, N-GET it back.
 *
 * @module
 */
import type { Association } from "../../src/client.ts";
import { statusCategory } from "../../src/dimse/status.ts";
import { type KeywordDataSet, toJson } from "../../src/dataset/dataset.ts";
import { tagOf } from "../../src/dataset/dictionary.ts";
import { isValidUid } from "../../src/ul/uids.ts";
import type { NormalizedResult } from "../../src/services/normalized_scu.ts";
import {
  MPPS_RETRIEVE_SOP_CLASS,
  MPPS_SOP_CLASS,
  PerformedProcedureStepStatus,
} from "../../src/services/mpps.ts";
import {
  createMpps,
  dicomDateTime,
  getMpps,
  mppsCreateAttributes,
  setMpps,
} from "../../src/services/mpps_scu.ts";
import {
  consoleIo,
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  listOption,
  parseAssociationArgs,
  parseHostPort,
  parseRequest,
  stringOption,
  targetOf,
  UsageError,
} from "../_args.ts";
import { associate, littleEndianContext } from "../_associate.ts";
import type { CliIo, HostPort, OptionSpec, ParsedValues } from "../_args.ts";
import { printable } from "../../src/log_line.ts";

const HELP = `Usage: dimse mpps create HOST:PORT [-k Keyword=Value …] [options]
       dimse mpps set HOST:PORT UID --status COMPLETED|DISCONTINUED|"IN PROGRESS" [-k …] [options]
       dimse mpps get HOST:PORT UID [-k Keyword …] [options]

Modality Performed Procedure Step (PS3.4 Annex F) as SCU.
  create  N-CREATE a step IN PROGRESS and print its SOP Instance UID. Every required attribute
          gets a default (start now, modality OT, a new Study Instance UID); -k sets any of
          them, e.g. -k PatientID=123 -k Modality=CT -k AccessionNumber=A1.
  set     N-SET the step; with COMPLETED or DISCONTINUED the end date and time default to now.
  get     N-GET the step (MPPS Retrieve) and print it as DICOM JSON; -k Keyword limits the
          attributes returned.

Options:
  -k, --key K=V    an attribute by keyword (repeatable)
  --uid UID        create: the SOP Instance UID to use (default: the SCP assigns one)
  --status S       set: the new Performed Procedure Step Status
  --aet ME         calling AE title (default DIMSE-SCU); also the Performed Station AE Title
  --aec THEM       called AE title (default ANY-SCP)
  --timeout S      seconds to wait for the connection and each answer (default 30)
  -h, --help       show this help`;

interface Request extends HostPort {
  action: "create" | "set" | "get";
  uid?: string;
  status?: string;
  keys: string[];
  callingAeTitle: string;
  calledAeTitle: string;
  timeoutMs: number;
}

function parseKeys(keys: string[]): KeywordDataSet {
  const out: KeywordDataSet = {};
  for (const key of keys) {
    const at = key.indexOf("=");
    if (at <= 0) throw new UsageError(`Expected -k Keyword=Value, got "${key}"`);
    const keyword = key.slice(0, at);
    if (tagOf(keyword) === undefined) {
      throw new UsageError(`Unknown keyword ${keyword} in -k ${key}`);
    }
    out[keyword] = key.slice(at + 1);
  }
  return out;
}

/** The options of `mpps`, for parseCommandArgs. */
const OPTIONS: OptionSpec = {
  key: { type: "string", short: "k", multiple: true },
  uid: { type: "string" },
  status: { type: "string" },
  aet: { type: "string" },
  aec: { type: "string" },
  timeout: { type: "string" },
};

function parse(values: ParsedValues, positionals: string[]): Request {
  const [action, target, uid, ...rest] = positionals;
  if (action !== "create" && action !== "set" && action !== "get") {
    throw new UsageError(
      action === undefined
        ? "Missing action create, set or get (see dimse mpps --help)"
        : `Unknown action "${action}"; expected create, set or get`,
    );
  }
  if (target === undefined) throw new UsageError(`Missing HOST:PORT (see dimse mpps --help)`);
  const request: Request = {
    action,
    ...parseHostPort(target),
    keys: listOption(values, "key"),
    ...parseAssociationArgs(values, 30),
  };
  if (action === "create") {
    if (uid !== undefined) throw new UsageError(`Unexpected argument "${uid}"; use --uid UID`);
    request.uid = stringOption(values, "uid");
  } else {
    if (uid === undefined) throw new UsageError(`Missing the UID of the step to ${action}`);
    if (rest.length > 0) throw new UsageError(`Unexpected argument "${rest[0]}"`);
    request.uid = uid;
  }
  if (request.uid !== undefined && !isValidUid(request.uid)) {
    throw new UsageError(`"${request.uid}" is not a valid UID`);
  }
  if (action === "set") {
    const status = stringOption(values, "status");
    const allowed: string[] = Object.values(PerformedProcedureStepStatus);
    if (status !== undefined && !allowed.includes(status)) {
      throw new UsageError(`Option --status must be one of ${allowed.join(", ")}, got "${status}"`);
    }
    if (status === undefined && request.keys.length === 0) {
      throw new UsageError("Nothing to set: give --status or -k Keyword=Value");
    }
    request.status = status;
  } else if (values.status !== undefined) {
    throw new UsageError(`Option --status is only for mpps set`);
  }
  return request;
}

function statusText(result: NormalizedResult): string {
  const code = `0x${result.status.toString(16).padStart(4, "0")}`;
  const comment = result.command.errorComment;
  return comment ? `${code} (${printable(comment)})` : code;
}

async function perform(association: Association, request: Request, io: CliIo): Promise<number> {
  const options = { timeoutMs: request.timeoutMs };
  let result: NormalizedResult;
  if (request.action === "create") {
    const attributes = mppsCreateAttributes(parseKeys(request.keys), {
      aeTitle: request.callingAeTitle,
    });
    result = await createMpps(association, attributes, { ...options, sopInstanceUid: request.uid });
  } else if (request.action === "set") {
    const modifications: KeywordDataSet = {};
    if (request.status !== undefined) {
      modifications.PerformedProcedureStepStatus = request.status;
      if (request.status !== PerformedProcedureStepStatus.IN_PROGRESS) {
        const { date, time } = dicomDateTime();
        modifications.PerformedProcedureStepEndDate = date;
        modifications.PerformedProcedureStepEndTime = time;
      }
    }
    Object.assign(modifications, parseKeys(request.keys));
    result = await setMpps(association, {
      sopInstanceUid: request.uid!,
      modificationList: modifications,
    }, options);
  } else {
    result = await getMpps(association, request.uid!, {
      ...options,
      attributeIdentifierList: request.keys,
    });
  }
  const category = statusCategory(result.status);
  if (category !== "success" && category !== "warning") {
    io.err(
      `dimse mpps: N-${request.action.toUpperCase()} failed with status ${statusText(result)}`,
    );
    return EXIT_FAILURE;
  }
  if (category === "warning") {
    io.err(`dimse mpps: N-${request.action.toUpperCase()} warning ${statusText(result)}`);
  }
  if (request.action === "create") io.out(result.command.affectedSopInstanceUid ?? request.uid!);
  else if (request.action === "set") io.out(request.uid!);
  else io.out(toJson(result.dataSet ?? {}));
  return EXIT_OK;
}

/** Runs `mpps`; returns 0 on success, 1 on any failure, 2 on bad arguments. */
export async function main(args: string[], io: CliIo = consoleIo): Promise<number> {
  const parsed = parseRequest(
    "mpps",
    args,
    io,
    { options: OPTIONS, help: HELP },
    (values, positionals) => {
      const request = parse(values, positionals);
      if (request.action !== "get") parseKeys(request.keys);
      else {
        for (const k of request.keys) {
          if (tagOf(k) === undefined) throw new UsageError(`Unknown keyword ${k} in -k`);
        }
      }
      return request;
    },
  );
  if ("exitCode" in parsed) return parsed.exitCode;
  const { request } = parsed;
  const target = targetOf(request);
  const association = await associate("mpps", io, request, {
    presentationContexts: [
      littleEndianContext(request.action === "get" ? MPPS_RETRIEVE_SOP_CLASS : MPPS_SOP_CLASS),
    ],
  });
  if (!association) return EXIT_FAILURE;
  try {
    const code = await perform(association, request, io);
    await association.release();
    return code;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`dimse mpps: ${error.message}`);
      await association.release().catch(() => {});
      return EXIT_USAGE;
    }
    io.err(`dimse mpps: ${request.action} on ${target} failed: ${describeError(error)}`);
    try {
      await association.abort();
    } catch {
      // Already gone; the failure above is the one to report.
    }
    return EXIT_FAILURE;
  }
}
