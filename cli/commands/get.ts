/**
 * `dimse get HOST:PORT --dir OUT --level L -k Keyword=Value …`: C-GET of the matching
 * instances into a folder; they come back as C-STORE sub-operations on the same association
 * (Storage contexts proposed with SCP role). Ctrl-C sends C-CANCEL-RQ and releases.
 *
 * @module
 */
import { Association } from "../../src/client.ts";
import { getConnectOptions } from "../../src/services/query_retrieve_scu.ts";
import {
  consoleIo,
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  listOption,
  parseCommandArgs,
  parseHostPort,
  stringOption,
  UsageError,
} from "../_args.ts";
import type { CliIo } from "../_args.ts";
import {
  formatCounts,
  interruptSignal,
  parseQueryArgs,
  QUERY_OPTIONS,
  QUERY_OPTIONS_HELP,
  reportRetrieve,
  StatusLine,
} from "../_query_args.ts";

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
  let request;
  try {
    const { values, positionals } = parseCommandArgs(args, {
      ...QUERY_OPTIONS,
      dir: { type: "string" },
      "sop-class": { type: "string", multiple: true },
    });
    if (values.help === true) {
      io.out(HELP);
      return EXIT_OK;
    }
    if (positionals.length !== 1) {
      throw new UsageError("Expected HOST:PORT (see dimse get --help)");
    }
    const dir = stringOption(values, "dir");
    if (dir === undefined || dir === "") throw new UsageError("Option --dir is required");
    const sopClasses = listOption(values, "sop-class");
    for (const uid of sopClasses) {
      if (!/^[0-9]+(\.[0-9]+)*$/.test(uid) || uid.length > 64) {
        throw new UsageError(`Option --sop-class must be a UID, got "${uid}"`);
      }
    }
    request = {
      ...parseHostPort(positionals[0]),
      ...parseQueryArgs(values, "study", false),
      dir,
      sopClasses,
    };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`dimse get: ${error.message}`);
    return EXIT_USAGE;
  }
  const target = `${request.calledAeTitle}@${request.host}:${request.port}`;
  try {
    await Deno.mkdir(request.dir, { recursive: true });
  } catch (error) {
    io.err(`dimse get: cannot create ${request.dir}: ${describeError(error)}`);
    return EXIT_FAILURE;
  }
  const interrupt = interruptSignal(io);
  const status = new StatusLine(io);
  let association;
  try {
    association = await Association.connect({
      host: request.host,
      port: request.port,
      callingAeTitle: request.callingAeTitle,
      calledAeTitle: request.calledAeTitle,
      ...(request.sopClasses.length > 0
        ? getConnectOptions([request.model], request.sopClasses)
        : getConnectOptions([request.model])),
      timeouts: { connect: request.timeoutMs, artim: request.timeoutMs, dimse: request.timeoutMs },
    });
  } catch (error) {
    interrupt.dispose();
    io.err(`dimse get: cannot associate with ${target}: ${describeError(error)}`);
    return EXIT_FAILURE;
  }
  let code: number;
  try {
    const result = await association.get(request.model, request.identifier, {
      dir: request.dir,
      level: request.level,
      signal: interrupt.signal,
      timeoutMs: request.timeoutMs,
      onProgress: (progress) => status.show(`get: ${formatCounts(progress)}`),
    });
    status.clear();
    code = reportRetrieve("get", io, result, `get from ${target} into ${request.dir}`);
  } catch (error) {
    status.clear();
    io.err(`dimse get: get failed: ${describeError(error)}`);
    code = EXIT_FAILURE;
  } finally {
    interrupt.dispose();
  }
  try {
    await association.release();
  } catch {
    await association.abort().catch(() => {});
  }
  return code;
}
