/**
 * `dimse commit HOST:PORT [PATH…] [--uid CLASS:INSTANCE …] [--listen PORT]`: asks an SCP to
 * commit to storing instances (Storage Commitment Push Model, PS3.4 J.3) and waits for its
 * result, on the same association or, with `--listen`, on a new one the SCP requests.
 *
 * @module
 */
import type { Association } from "../../src/client.ts";
import { Scp } from "../../src/scp.ts";
import { type FileToInspect, inspectFiles } from "../../src/services/storage_scu.ts";
import { isValidUid } from "../../src/ul/uids.ts";
import {
  type CommitmentReference,
  failureReasonName,
  STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS,
} from "../../src/services/storage_commitment.ts";
import {
  type ReceivedStorageCommitmentResult,
  requestStorageCommitment,
  storageCommitmentReceiver,
} from "../../src/services/storage_commitment_scu.ts";
import {
  consoleIo,
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  listOption,
  parseAssociationArgs,
  parseHostPort,
  parseMaxPdu,
  parsePort,
  parseRequest,
  parseUid,
  stringOption,
  targetOf,
  UsageError,
} from "../_args.ts";
import { associate, littleEndianContext, releaseOrAbort } from "../_associate.ts";
import type { CliIo } from "../_args.ts";
import { collectFiles } from "../_files.ts";

const HELP = `Usage: dimse commit HOST:PORT [PATH...] [options]

Asks the SCP at HOST:PORT to commit to storing instances (Storage Commitment Push Model,
N-ACTION) and waits for its result (N-EVENT-REPORT). The instances are the DICOM Part 10
files given (folders recursively) and those named with --uid. Prints each instance as
committed or failed with the reason; exits 1 when any failed or no result came in time.

Options:
  --uid CLASS:INSTANCE  an instance by SOP Class UID and SOP Instance UID (repeatable)
  --listen PORT         take the result on a new association the SCP requests to PORT,
                        calling us by --aet (the SCP's AE table must have us); the request's
                        association is released at once
  --listen-host ADDR    address --listen binds (default 0.0.0.0)
  --transaction UID     Transaction UID of the request (default: a new one)
  --aet ME              calling AE title (default DIMSE-SCU)
  --aec THEM            called AE title (default ANY-SCP)
  --max-pdu N           maximum PDU length we receive, 0 for unlimited (default 16384)
  --timeout S           seconds to wait for the connection, each answer and the result
                        (default 60)
  -h, --help            show this help`;

/** Parses `--uid CLASS:INSTANCE`. */
function parseUidPair(text: string): CommitmentReference {
  const colon = text.indexOf(":");
  const sopClassUid = text.slice(0, colon).trim();
  const sopInstanceUid = text.slice(colon + 1).trim();
  if (colon <= 0 || !isValidUid(sopClassUid) || !isValidUid(sopInstanceUid)) {
    throw new UsageError(`Option --uid must read SOPClassUID:SOPInstanceUID, got "${text}"`);
  }
  return { sopClassUid, sopInstanceUid };
}

/** Runs `commit`; 0 when every instance was committed, 1 on any failure, 2 on bad arguments. */
export async function main(args: string[], io: CliIo = consoleIo): Promise<number> {
  const parsed = parseRequest("commit", args, io, {
    options: {
      uid: { type: "string", multiple: true },
      listen: { type: "string" },
      "listen-host": { type: "string" },
      transaction: { type: "string" },
      aet: { type: "string" },
      aec: { type: "string" },
      "max-pdu": { type: "string" },
      timeout: { type: "string" },
    },
    help: HELP,
  }, (values, positionals) => {
    if (positionals.length < 1) {
      throw new UsageError("Expected HOST:PORT (see dimse commit --help)");
    }
    const uids = listOption(values, "uid").map(parseUidPair);
    if (positionals.length < 2 && uids.length === 0) {
      throw new UsageError("Expected at least one PATH or --uid (see dimse commit --help)");
    }
    const transactionUid = stringOption(values, "transaction");
    if (transactionUid !== undefined) parseUid("transaction", transactionUid);
    const listen = stringOption(values, "listen");
    return {
      ...parseHostPort(positionals[0]),
      paths: positionals.slice(1),
      uids,
      transactionUid,
      listenPort: listen === undefined ? undefined : parsePort("listen", listen),
      listenHost: stringOption(values, "listen-host", "0.0.0.0"),
      ...parseAssociationArgs(values, 60),
      maxPduLength: parseMaxPdu("max-pdu", stringOption(values, "max-pdu", "16384")),
    };
  });
  if ("exitCode" in parsed) return parsed.exitCode;
  const { request } = parsed;

  // The instances, and how to name each in the output (its path when it came from a file).
  const instances: CommitmentReference[] = [];
  const names = new Map<string, string>();
  let unreadable = 0;
  for (const root of request.paths) {
    const found: FileToInspect[] = [];
    try {
      collectFiles(root, found);
    } catch (error) {
      io.err(`dimse commit: cannot read ${root}: ${describeError(error)}`);
      unreadable++;
    }
    const inspected = await inspectFiles(found);
    for (let i = 0; i < found.length; i++) {
      const file = inspected[i];
      if (!file) {
        io.err(`dimse commit: skipping ${found[i].path}: not a DICOM Part 10 file`);
        continue;
      }
      if (names.has(file.sopInstanceUid)) continue;
      instances.push({ sopClassUid: file.sopClassUid, sopInstanceUid: file.sopInstanceUid });
      names.set(file.sopInstanceUid, found[i].path);
    }
  }
  for (const reference of request.uids) {
    if (names.has(reference.sopInstanceUid)) continue;
    instances.push(reference);
    names.set(reference.sopInstanceUid, reference.sopInstanceUid);
  }
  if (instances.length === 0) {
    io.err("dimse commit: no instance to commit");
    return EXIT_FAILURE;
  }

  const receiver = storageCommitmentReceiver();
  let listener: Scp | undefined;
  if (request.listenPort !== undefined) {
    listener = new Scp({
      aeTitle: request.callingAeTitle,
      port: request.listenPort,
      hostname: request.listenHost,
      services: [receiver],
      timeouts: { artim: request.timeoutMs, dimse: request.timeoutMs },
    });
    try {
      await listener.listen();
    } catch (error) {
      io.err(
        `dimse commit: cannot listen on ${request.listenHost}:${request.listenPort}: ${
          describeError(error)
        }`,
      );
      return EXIT_FAILURE;
    }
    io.err(
      `dimse commit: listening on ${listener.hostname}:${listener.port} as ${request.callingAeTitle}`,
    );
  }

  const target = targetOf(request);
  let association: Association | undefined;
  try {
    association = await associate("commit", io, request, {
      maxPduLength: request.maxPduLength,
      presentationContexts: [littleEndianContext(STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS)],
      services: [receiver],
    });
    if (!association) return EXIT_FAILURE;
    let transactionUid: string;
    try {
      const accepted = await requestStorageCommitment(association, {
        transactionUid: request.transactionUid,
        instances,
      });
      transactionUid = accepted.transactionUid;
    } catch (error) {
      io.err(`dimse commit: ${target}: ${describeError(error)}`);
      return EXIT_FAILURE;
    }
    io.err(
      `dimse commit: ${target} took transaction ${transactionUid} (${instances.length} instance(s)); waiting for the result`,
    );
    // PS3.4 J.3.2.1.2: the SCU may release once the N-ACTION is answered.
    if (listener) await releaseQuietly(association);

    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), request.timeoutMs);
    const stop = io.signal ? AbortSignal.any([timeout.signal, io.signal]) : timeout.signal;
    const waits: Promise<ReceivedStorageCommitmentResult | string>[] = [
      receiver.wait(transactionUid, { signal: stop }).catch(() =>
        io.signal?.aborted ? "stopped" : "timeout"
      ),
    ];
    // Without a listener the result can only come on our association: its end ends the wait.
    if (!listener) waits.push(association.closed.then(() => "closed"));
    const outcome = await Promise.race(waits);
    clearTimeout(timer);
    timeout.abort();
    if (typeof outcome === "string") {
      io.err(
        `dimse commit: no result for transaction ${transactionUid} ${
          outcome === "closed"
            ? `before ${target} ended the association`
            : outcome === "stopped"
            ? "(stopped)"
            : `within ${request.timeoutMs / 1000} s`
        }`,
      );
      return EXIT_FAILURE;
    }
    return printResult(outcome, instances, names, io) && unreadable === 0 ? EXIT_OK : EXIT_FAILURE;
  } finally {
    if (association) await releaseQuietly(association);
    await listener?.close({ timeoutMs: 1000 });
  }
}

/** Prints one line per instance and a summary; true when every instance was committed. */
function printResult(
  result: ReceivedStorageCommitmentResult,
  instances: readonly CommitmentReference[],
  names: ReadonlyMap<string, string>,
  io: CliIo,
): boolean {
  const name = (uid: string) => names.get(uid) ?? uid;
  const committed = new Set(result.committed.map((r) => r.sopInstanceUid));
  const failed = new Map(result.failed.map((f) => [f.sopInstanceUid, f.failureReason]));
  let good = 0;
  let bad = 0;
  for (const instance of instances) {
    const reason = failed.get(instance.sopInstanceUid);
    if (reason !== undefined) {
      bad++;
      io.out(
        `failed ${name(instance.sopInstanceUid)}: ${failureReasonName(reason)} (0x${
          reason.toString(16).padStart(4, "0")
        })`,
      );
    } else if (committed.has(instance.sopInstanceUid)) {
      good++;
      io.out(`committed ${name(instance.sopInstanceUid)}`);
    } else {
      bad++;
      io.out(`failed ${name(instance.sopInstanceUid)}: not in the result`);
    }
  }
  const via = result.association.requestedByScp ? "a new association" : "the same association";
  io.out(
    `transaction ${result.transactionUid}: ${good} committed, ${bad} failed (event type ${result.eventTypeId}, on ${via})`,
  );
  return bad === 0 && result.eventTypeId === 1;
}

async function releaseQuietly(association: Association): Promise<void> {
  if (association.state === "Sta1") return;
  await releaseOrAbort(association);
}
