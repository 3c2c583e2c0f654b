/**
 * `dimse find HOST:PORT --level L [-k Keyword=Value …] [--model patient|study|worklist]
 * [--json]`: C-FIND on a Query/Retrieve or Modality Worklist model; each match is printed as it
 * arrives, Ctrl-C sends C-CANCEL-RQ and releases.
 *
 * @module
 */
import { toJson } from "../../src/dataset/dataset.ts";
import { findSopClassOf } from "../../src/services/query_retrieve_scu.ts";
import {
  consoleIo,
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  parseHostPort,
  parseRequest,
  targetOf,
  UsageError,
} from "../_args.ts";
import { associate, littleEndianContext, releaseOrAbort } from "../_associate.ts";
import type { CliIo } from "../_args.ts";
import {
  formatMatch,
  interruptSignal,
  parseQueryArgs,
  QUERY_OPTIONS,
  QUERY_OPTIONS_HELP,
  StatusLine,
} from "../_query_args.ts";

const HELP =
  `Usage: dimse find HOST:PORT --level PATIENT|STUDY|SERIES|IMAGE [-k KEY=VALUE ...] [options]

Sends C-FIND and prints each match as it arrives: Keyword=value pairs on one line (the -k
syntax), or one DICOM JSON object per line with --json. With --model worklist it queries a
Modality Worklist (no --level). Ctrl-C cancels (C-CANCEL) and releases. A summary goes to
stderr. Exits 1 when the query failed or was cancelled.

Options:
${QUERY_OPTIONS_HELP}
  --json           print matches as DICOM JSON, one per line

Examples:
  dimse find pacs:104 --level STUDY -k PatientID=12345 -k StudyInstanceUID= -k StudyDate=
  dimse find ris:104 --model worklist -k ScheduledProcedureStepSequence[0].Modality=MR \\
    -k ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20240101-20240131 -k PatientName=`;

/** Runs `find`; returns 0 when the query completed, 1 on failure or cancel, 2 on bad arguments. */
export async function main(args: string[], io: CliIo = consoleIo): Promise<number> {
  const parsed = parseRequest("find", args, io, {
    options: { ...QUERY_OPTIONS, json: { type: "boolean" } },
    help: HELP,
  }, (values, positionals) => {
    if (positionals.length !== 1) {
      throw new UsageError("Expected HOST:PORT (see dimse find --help)");
    }
    return {
      ...parseHostPort(positionals[0]),
      ...parseQueryArgs(values),
      json: values.json === true,
    };
  });
  if ("exitCode" in parsed) return parsed.exitCode;
  const { request } = parsed;
  const target = targetOf(request);
  const interrupt = interruptSignal(io);
  const status = new StatusLine(io);
  const association = await associate("find", io, request, {
    presentationContexts: [littleEndianContext(findSopClassOf(request.model))],
  });
  if (!association) {
    interrupt.dispose();
    return EXIT_FAILURE;
  }
  let count = 0;
  let code = EXIT_OK;
  let summary: string;
  try {
    const matches = association.find(request.model, request.identifier, {
      level: request.level,
      signal: interrupt.signal,
      timeoutMs: request.timeoutMs,
    });
    let result;
    while (true) {
      const next = await matches.next();
      if (next.done) {
        result = next.value;
        break;
      }
      count++;
      status.clear();
      io.out(request.json ? toJson(next.value) : formatMatch(next.value));
      status.show(`${count} match(es)…`);
    }
    if (result.status === 0xfe00) {
      code = EXIT_FAILURE;
      summary = `cancelled after ${count} match(es) from ${target}`;
    } else {
      summary = `${count} match(es) from ${target}`;
    }
  } catch (error) {
    code = EXIT_FAILURE;
    summary = `query failed after ${count} match(es): ${describeError(error)}`;
  } finally {
    interrupt.dispose();
  }
  status.clear();
  await releaseOrAbort(association);
  io.err(`dimse find: ${summary}`);
  return code;
}
