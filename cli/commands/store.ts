/**
 * `dimse store HOST:PORT PATH… [--aet ME] [--aec THEM]`: sends Part 10 files and folders
 * (recursive) with C-STORE, over as few associations as the 128 presentation contexts of one
 * association allow (PS3.8 §9.3.2.2: ids 1–255, odd).
 *
 * @module
 */
import { Association } from "../../src/client.ts";
import { statusCategory } from "../../src/dimse/status.ts";
import {
  type FileToInspect,
  inspectFiles,
  planAssociations,
  type StorableFile,
  storageContexts,
  storeFiles,
} from "../../src/services/storage_scu.ts";
import {
  consoleIo,
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  parseAeTitle,
  parseCommandArgs,
  parseHostPort,
  parseInteger,
  parseMaxPdu,
  stringOption,
  UsageError,
} from "../_args.ts";
import type { CliIo } from "../_args.ts";
import { collectFiles } from "../_files.ts";
import { ProgressBar } from "../_progress.ts";
import { printable } from "../../src/log_line.ts";

const HELP = `Usage: dimse store HOST:PORT PATH... [options]

Sends DICOM Part 10 files, and every such file under the folders given, with C-STORE.
Files that are not DICOM are skipped with a message. A file whose transfer syntax the peer
refuses is converted on the fly to an uncompressed one it accepts (compressed files are not
converted). Shows progress when stdout is a terminal. Exits 1 when any instance failed.

Options:
  --aet ME         calling AE title (default DIMSE-SCU)
  --aec THEM       called AE title (default ANY-SCP)
  --max-pdu N      maximum PDU length we receive, 0 for unlimited (default 16384)
  --timeout S      seconds to wait for the connection and each answer (default 60)
  --window N       C-STOREs outstanding at once, proposed as an asynchronous operations
                   window; used only as far as the peer accepts it, else one at a time
                   (default 16; 1 proposes none)
  -h, --help       show this help`;

/** Runs `store`; returns 0 when every instance was stored, 1 on any failure, 2 on bad arguments. */
export async function main(args: string[], io: CliIo = consoleIo): Promise<number> {
  let request;
  try {
    const { values, positionals } = parseCommandArgs(args, {
      aet: { type: "string" },
      aec: { type: "string" },
      "max-pdu": { type: "string" },
      timeout: { type: "string" },
      window: { type: "string" },
    });
    if (values.help === true) {
      io.out(HELP);
      return EXIT_OK;
    }
    if (positionals.length < 2) {
      throw new UsageError("Expected HOST:PORT and at least one PATH (see dimse store --help)");
    }
    request = {
      ...parseHostPort(positionals[0]),
      paths: positionals.slice(1),
      callingAeTitle: parseAeTitle("aet", stringOption(values, "aet", "DIMSE-SCU")),
      calledAeTitle: parseAeTitle("aec", stringOption(values, "aec", "ANY-SCP")),
      maxPduLength: parseMaxPdu("max-pdu", stringOption(values, "max-pdu", "16384")),
      timeoutMs: 1000 * parseInteger("timeout", stringOption(values, "timeout", "60"), 1, 86400),
      window: parseInteger("window", stringOption(values, "window", "16"), 1, 65535),
    };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`dimse store: ${error.message}`);
    return EXIT_USAGE;
  }

  const files: StorableFile[] = [];
  let failed = 0;
  for (const root of request.paths) {
    const found: FileToInspect[] = [];
    try {
      collectFiles(root, found);
    } catch (error) {
      io.err(`dimse store: cannot read ${root}: ${describeError(error)}`);
      failed++;
    }
    const inspected = await inspectFiles(found);
    for (let i = 0; i < found.length; i++) {
      const file = inspected[i];
      if (file) files.push(file);
      else io.err(`dimse store: skipping ${found[i].path}: not a DICOM Part 10 file`);
    }
  }

  const target = `${request.calledAeTitle}@${request.host}:${request.port}`;
  const totalBytes = files.reduce((n, f) => n + (f.size ?? 0), 0);
  const progress = io === consoleIo && Deno.stdout.isTerminal()
    ? new ProgressBar({ totalInstances: files.length, totalBytes })
    : undefined;
  const report = (line: string) => {
    progress?.clear();
    io.err(`dimse store: ${line}`);
  };
  let stored = 0;
  let bytes = 0;
  const started = performance.now();
  for (const group of planAssociations(files)) {
    let association;
    try {
      association = await Association.connect({
        host: request.host,
        port: request.port,
        callingAeTitle: request.callingAeTitle,
        calledAeTitle: request.calledAeTitle,
        maxPduLength: request.maxPduLength,
        presentationContexts: storageContexts(group),
        // PS3.7 Annex D.3.3.3: a peer that does not answer the item works synchronously.
        asyncOpsWindow: request.window > 1
          ? { maxOperationsInvoked: request.window, maxOperationsPerformed: 1 }
          : undefined,
        timeouts: {
          connect: request.timeoutMs,
          artim: request.timeoutMs,
          dimse: request.timeoutMs,
        },
      });
    } catch (error) {
      report(`cannot associate with ${target}: ${describeError(error)}`);
      failed += group.length;
      for (const file of group) {
        progress?.addBytes(file.size ?? 0);
        progress?.addInstance();
      }
      continue;
    }
    await storeFiles(association, group, {
      maxOutstanding: request.window,
      onBytes(count) {
        progress?.addBytes(count);
      },
      onOutcome({ file, result, error }) {
        const what = `${file.path} (SOP Instance UID ${file.sopInstanceUid})`;
        if (result) {
          const code = `0x${result.status.toString(16).toUpperCase().padStart(4, "0")}`;
          const comment = result.command.errorComment
            ? `: ${printable(result.command.errorComment)}`
            : "";
          const category = statusCategory(result.status);
          if (category === "success" || category === "warning") {
            stored++;
            bytes += file.size ?? 0;
            if (category === "warning") report(`${what} stored with warning ${code}${comment}`);
          } else {
            failed++;
            report(`${what} failed with status ${code}${comment}`);
          }
        } else {
          failed++;
          report(`${what} failed: ${describeError(error)}`);
        }
        progress?.addInstance();
      },
    });
    try {
      await association.release();
    } catch {
      await association.abort().catch(() => {});
    }
  }
  progress?.finish();
  const seconds = (performance.now() - started) / 1000;
  io.out(
    `stored ${stored} instance(s), ${(bytes / 1048576).toFixed(1)} MiB in ${
      seconds.toFixed(2)
    } s to ${target}; ${failed} failed`,
  );
  return failed === 0 && stored > 0 ? EXIT_OK : EXIT_FAILURE;
}
