/**
 * `dimse store HOST:PORT PATH… [--aet ME] [--aec THEM]`: sends Part 10 files and folders
 * (recursive) with C-STORE, over as few associations as the 128 presentation contexts of one
 * association allow (PS3.8 §9.3.2.2: ids 1–255, odd).
 *
 * @module
 */
import { Association } from "../../src/client.ts";
import {
  inspectFile,
  type StorableFile,
  storageContextKey,
  storageContexts,
  storeFile,
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

const HELP = `Usage: dimse store HOST:PORT PATH... [options]

Sends DICOM Part 10 files, and every such file under the folders given, with C-STORE.
Files that are not DICOM are skipped with a message. Exits 1 when any instance failed.

Options:
  --aet ME         calling AE title (default DIMSE-SCU)
  --aec THEM       called AE title (default ANY-SCP)
  --max-pdu N      maximum PDU length we receive, 0 for unlimited (default 16384)
  --timeout S      seconds to wait for the connection and each answer (default 60)
  -h, --help       show this help`;

/** Presentation contexts one association can carry (odd ids 1–255). */
const MAX_CONTEXTS = 128;

async function* walk(path: string): AsyncGenerator<string> {
  const info = await Deno.stat(path);
  if (info.isDirectory) {
    const names = [];
    for await (const entry of Deno.readDir(path)) names.push(entry.name);
    for (const name of names.sort()) yield* walk(`${path.replace(/\/+$/, "")}/${name}`);
  } else if (info.isFile) {
    yield path;
  }
}

/** Runs `store`; returns 0 when every instance was stored, 1 on any failure, 2 on bad arguments. */
export async function main(args: string[], io: CliIo = consoleIo): Promise<number> {
  let request;
  try {
    const { values, positionals } = parseCommandArgs(args, {
      aet: { type: "string" },
      aec: { type: "string" },
      "max-pdu": { type: "string" },
      timeout: { type: "string" },
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
    };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`dimse store: ${error.message}`);
    return EXIT_USAGE;
  }

  const files: StorableFile[] = [];
  let failed = 0;
  for (const root of request.paths) {
    try {
      for await (const path of walk(root)) {
        const file = await inspectFile(path);
        if (file) files.push(file);
        else io.err(`dimse store: skipping ${path}: not a DICOM Part 10 file`);
      }
    } catch (error) {
      io.err(`dimse store: cannot read ${root}: ${describeError(error)}`);
      failed++;
    }
  }

  // Group files so that each association needs at most 128 contexts.
  const batches: StorableFile[][] = [];
  let batch: StorableFile[] = [];
  let batchContexts = new Set<string>();
  for (const file of files) {
    const key = storageContextKey(file);
    if (!batchContexts.has(key) && batchContexts.size === MAX_CONTEXTS) {
      batches.push(batch);
      batch = [];
      batchContexts = new Set();
    }
    batchContexts.add(key);
    batch.push(file);
  }
  if (batch.length > 0) batches.push(batch);

  const target = `${request.calledAeTitle}@${request.host}:${request.port}`;
  let stored = 0;
  let bytes = 0;
  const started = performance.now();
  for (const group of batches) {
    let association;
    try {
      association = await Association.connect({
        host: request.host,
        port: request.port,
        callingAeTitle: request.callingAeTitle,
        calledAeTitle: request.calledAeTitle,
        maxPduLength: request.maxPduLength,
        presentationContexts: storageContexts(group),
        timeouts: {
          connect: request.timeoutMs,
          artim: request.timeoutMs,
          dimse: request.timeoutMs,
        },
      });
    } catch (error) {
      io.err(`dimse store: cannot associate with ${target}: ${describeError(error)}`);
      failed += group.length;
      continue;
    }
    for (const file of group) {
      try {
        const status = await storeFile(association, file);
        const code = `0x${status.toString(16).padStart(4, "0")}`;
        if (status === 0 || (status & 0xf000) === 0xb000) {
          stored++;
          bytes += (await Deno.stat(file.path)).size;
          if (status !== 0) io.err(`dimse store: ${file.path} stored with warning ${code}`);
        } else {
          failed++;
          io.err(`dimse store: ${file.path} failed with status ${code}`);
        }
      } catch (error) {
        failed++;
        io.err(`dimse store: ${file.path} failed: ${describeError(error)}`);
      }
    }
    try {
      await association.release();
    } catch {
      await association.abort().catch(() => {});
    }
  }
  const seconds = (performance.now() - started) / 1000;
  io.out(
    `stored ${stored} instance(s), ${(bytes / 1048576).toFixed(1)} MiB in ${
      seconds.toFixed(2)
    } s to ${target}; ${failed} failed`,
  );
  return failed === 0 && stored > 0 ? EXIT_OK : EXIT_FAILURE;
}
