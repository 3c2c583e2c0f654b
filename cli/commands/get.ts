/**
 * `dimse get HOST:PORT --dir OUT --level L -k Keyword=Value …`: C-GET of the matching
 * instances into a folder; they come back as C-STORE sub-operations on the same association
 * (Storage contexts proposed with SCP role). Ctrl-C sends C-CANCEL-RQ and releases.
 *
 * @module
 */
import { getConnectOptions } from "../../src/services/query_retrieve_scu.ts";
import { isSafeUidForPath } from "../../src/store/safe_uid.ts";
import {
  consoleIo,
  describeError,
  EXIT_FAILURE,
  listOption,
  parseHostPort,
  parseRequest,
  stringOption,
  targetOf,
  UsageError,
} from "../_args.ts";
import type { CliIo } from "../_args.ts";
import { parseQueryArgs, QUERY_OPTIONS, QUERY_OPTIONS_HELP, runRetrieve } from "../_query_args.ts";

const HELP =
  `Usage: dimse get HOST:PORT --dir OUT --level STUDY|SERIES|IMAGE|PATIENT -k KEY=VALUE ... [options]

Sends C-GET and writes the instances the peer sends back as Part 10 files
<SOP Instance UID>.dcm under OUT. Storage contexts are proposed, with our SCP role, for the
common image, SR, presentation state and document classes (or the --sop-class ones), in
explicit and implicit VR little endian. Shows counts on a terminal and prints a summary line.
Ctrl-C cancels (C-CANCEL) and releases. Exits 1 when any sub-operation failed or warned.

Options:
  --dir OUT        folder to write the instances to (required; created when missing)
  --sop-class UID  a Storage SOP Class UID to accept (repeatable; replaces the default set)
${QUERY_OPTIONS_HELP}

Example:
  dimse get pacs:104 --aec PACS --dir ./out --level SERIES -k SeriesInstanceUID=1.2.3.4`;

/** Runs `get`; returns 0 when every sub-operation succeeded, 1 otherwise, 2 on bad arguments. */
export async function main(args: string[], io: CliIo = consoleIo): Promise<number> {
  const parsed = parseRequest("get", args, io, {
    options: {
      ...QUERY_OPTIONS,
      dir: { type: "string" },
      "sop-class": { type: "string", multiple: true },
    },
    help: HELP,
  }, (values, positionals) => {
    if (positionals.length !== 1) {
      throw new UsageError("Expected HOST:PORT (see dimse get --help)");
    }
    const dir = stringOption(values, "dir");
    if (dir === undefined || dir === "") throw new UsageError("Option --dir is required");
    const sopClasses = listOption(values, "sop-class");
    for (const uid of sopClasses) {
      if (!isSafeUidForPath(uid)) {
        throw new UsageError(`Option --sop-class must be a UID, got "${uid}"`);
      }
    }
    return {
      ...parseHostPort(positionals[0]),
      ...parseQueryArgs(values, "study", false),
      dir,
      sopClasses,
    };
  });
  if ("exitCode" in parsed) return parsed.exitCode;
  const { request } = parsed;
  try {
    await Deno.mkdir(request.dir, { recursive: true });
  } catch (error) {
    io.err(`dimse get: cannot create ${request.dir}: ${describeError(error)}`);
    return EXIT_FAILURE;
  }
  return await runRetrieve("get", io, {
    request,
    connect: request.sopClasses.length > 0
      ? getConnectOptions([request.model], request.sopClasses)
      : getConnectOptions([request.model]),
    label: "get",
    what: `get from ${targetOf(request)} into ${request.dir}`,
    retrieve: (association, signal, onProgress) =>
      association.get(request.model, request.identifier, {
        dir: request.dir,
        level: request.level,
        signal,
        timeoutMs: request.timeoutMs,
        onProgress,
      }),
  });
}
