/**
 * `dimse move HOST:PORT --dest AE --level L -k Keyword=Value …`: C-MOVE of the matching
 * instances to a third AE, with progress from the pending responses on a terminal; Ctrl-C
 * sends C-CANCEL-RQ and releases.
 *
 * @module
 */
import { moveSopClassOf } from "../../src/services/query_retrieve_scu.ts";
import {
  consoleIo,
  parseAeTitle,
  parseHostPort,
  parseRequest,
  stringOption,
  targetOf,
  UsageError,
} from "../_args.ts";
import { littleEndianContext } from "../_associate.ts";
import type { CliIo } from "../_args.ts";
import { parseQueryArgs, QUERY_OPTIONS, QUERY_OPTIONS_HELP, runRetrieve } from "../_query_args.ts";

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
  const parsed = parseRequest("move", args, io, {
    options: { ...QUERY_OPTIONS, dest: { type: "string" } },
    help: HELP,
  }, (values, positionals) => {
    if (positionals.length !== 1) {
      throw new UsageError("Expected HOST:PORT (see dimse move --help)");
    }
    const dest = stringOption(values, "dest");
    if (dest === undefined) throw new UsageError("Option --dest is required");
    return {
      ...parseHostPort(positionals[0]),
      ...parseQueryArgs(values, "study", false),
      destination: parseAeTitle("dest", dest),
    };
  });
  if ("exitCode" in parsed) return parsed.exitCode;
  const { request } = parsed;
  return await runRetrieve("move", io, {
    request,
    connect: { presentationContexts: [littleEndianContext(moveSopClassOf(request.model))] },
    label: `move to ${request.destination}`,
    what: `move from ${targetOf(request)} to ${request.destination}`,
    retrieve: (association, signal, onProgress) =>
      association.move(request.model, request.identifier, {
        destination: request.destination,
        level: request.level,
        signal,
        timeoutMs: request.timeoutMs,
        onProgress,
      }),
  });
}
