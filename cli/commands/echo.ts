/**
 * `dimse echo HOST:PORT [--aet ME] [--aec THEM] [--repeat N] [--max-pdu N]`: opens one
 * association, sends N C-ECHO requests (Verification, PS3.4 Annex A), and releases it.
 *
 * @module
 */
import {
  consoleIo,
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  parseAssociationArgs,
  parseHostPort,
  parseInteger,
  parseMaxPdu,
  parseRequest,
  stringOption,
  targetOf,
  UsageError,
} from "../_args.ts";
import { associate } from "../_associate.ts";
import type { CliIo } from "../_args.ts";

const HELP = `Usage: dimse echo HOST:PORT [options]

Sends C-ECHO (Verification) to an SCP and reports the status of each response.

Options:
  --aet ME         calling AE title (default DIMSE-SCU)
  --aec THEM       called AE title (default ANY-SCP)
  --repeat N       send N C-ECHO requests on the one association (default 1)
  --max-pdu N      maximum PDU length we receive, 0 for unlimited (default 16384)
  --timeout S      seconds to wait for the connection and each answer (default 30)
  -h, --help       show this help`;

/** Runs `echo`; returns 0 when every C-ECHO succeeded, 1 on any failure, 2 on bad arguments. */
export async function main(args: string[], io: CliIo = consoleIo): Promise<number> {
  const parsed = parseRequest("echo", args, io, {
    options: {
      aet: { type: "string" },
      aec: { type: "string" },
      repeat: { type: "string" },
      "max-pdu": { type: "string" },
      timeout: { type: "string" },
    },
    help: HELP,
  }, (values, positionals) => {
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length === 0
          ? "Missing HOST:PORT (see dimse echo --help)"
          : `Expected one HOST:PORT, got ${positionals.length} arguments`,
      );
    }
    return {
      ...parseHostPort(positionals[0]),
      ...parseAssociationArgs(values, 30),
      repeat: parseInteger("repeat", stringOption(values, "repeat", "1"), 1, 1_000_000),
      maxPduLength: parseMaxPdu("max-pdu", stringOption(values, "max-pdu", "16384")),
    };
  });
  if ("exitCode" in parsed) return parsed.exitCode;
  const { request } = parsed;

  const target = targetOf(request);
  const association = await associate("echo", io, request, {
    maxPduLength: request.maxPduLength,
  });
  if (!association) return EXIT_FAILURE;
  try {
    for (let i = 1; i <= request.repeat; i++) {
      const started = performance.now();
      const status = await association.echo({ timeoutMs: request.timeoutMs });
      const ms = (performance.now() - started).toFixed(1);
      const code = `0x${status.toString(16).padStart(4, "0")}`;
      if (status !== 0x0000) {
        io.err(`dimse echo: C-ECHO ${i} to ${target} failed with status ${code}`);
        await association.release();
        return EXIT_FAILURE;
      }
      io.out(`C-ECHO ${i}/${request.repeat} to ${target}: success (${code}) in ${ms} ms`);
    }
    await association.release();
    return EXIT_OK;
  } catch (error) {
    io.err(`dimse echo: C-ECHO to ${target} failed: ${describeError(error)}`);
    try {
      await association.abort();
    } catch {
      // The association is already gone; the failure above is the one to report.
    }
    return EXIT_FAILURE;
  }
}
