/**
 * `dimse move HOST:PORT --dest AE --level L -k Keyword=Value …`: C-MOVE of the matching
 * instances to a third AE, with progress from the pending responses on a terminal; Ctrl-C
 * sends C-CANCEL-RQ and releases.
 *
 * @module
 */
import { Association } from "../../src/client.ts";
import { moveSopClassOf } from "../../src/services/query_retrieve_scu.ts";
import { TransferSyntax } from "../../src/ul/uids.ts";
import {
  consoleIo,
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  parseAeTitle,
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
  `Usage: dimse move HOST:PORT --dest AE --level STUDY|SERIES|IMAGE|PATIENT -k KEY=VALUE ... [options]

Sends C-MOVE: the peer sends the matching instances to the AE --dest (which it must know).
Shows remaining/completed/failed counts on a terminal and prints a summary line. Ctrl-C
cancels (C-CANCEL) and releases. Exits 1 when any sub-operation failed or warned, the move
was refused or cancelled.

Options:
  --dest AE        move destination AE title (required)
${QUERY_OPTIONS_HELP}

Example:
  dimse move pacs:104 --aec PACS --dest WORKSTATION --level STUDY -k StudyInstanceUID=1.2.3`;

/** Runs `move`; returns 0 when every sub-operation succeeded, 1 otherwise, 2 on bad arguments. */
export async function main(args: string[], io: CliIo = consoleIo): Promise<number> {
  let request;
  try {
    const { values, positionals } = parseCommandArgs(args, {
      ...QUERY_OPTIONS,
      dest: { type: "string" },
    });
    if (values.help === true) {
      io.out(HELP);
      return EXIT_OK;
    }
    if (positionals.length !== 1) {
      throw new UsageError("Expected HOST:PORT (see dimse move --help)");
    }
    const dest = stringOption(values, "dest");
    if (dest === undefined) throw new UsageError("Option --dest is required");
    request = {
      ...parseHostPort(positionals[0]),
      ...parseQueryArgs(values, "study", false),
      destination: parseAeTitle("dest", dest),
    };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`dimse move: ${error.message}`);
    return EXIT_USAGE;
  }
  const target = `${request.calledAeTitle}@${request.host}:${request.port}`;
  const interrupt = interruptSignal(io);
  const status = new StatusLine(io);
  let association;
  try {
    association = await Association.connect({
      host: request.host,
      port: request.port,
      callingAeTitle: request.callingAeTitle,
      calledAeTitle: request.calledAeTitle,
      presentationContexts: [{
        abstractSyntax: moveSopClassOf(request.model),
        transferSyntaxes: [
          TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN,
          TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN,
        ],
      }],
      timeouts: { connect: request.timeoutMs, artim: request.timeoutMs, dimse: request.timeoutMs },
    });
  } catch (error) {
    interrupt.dispose();
    io.err(`dimse move: cannot associate with ${target}: ${describeError(error)}`);
    return EXIT_FAILURE;
  }
  let code: number;
  try {
    const result = await association.move(request.model, request.identifier, {
      destination: request.destination,
      level: request.level,
      signal: interrupt.signal,
      timeoutMs: request.timeoutMs,
      onProgress: (progress) =>
        status.show(`move to ${request.destination}: ${formatCounts(progress)}`),
    });
    status.clear();
    code = reportRetrieve("move", io, result, `move from ${target} to ${request.destination}`);
  } catch (error) {
    status.clear();
    io.err(`dimse move: move failed: ${describeError(error)}`);
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
