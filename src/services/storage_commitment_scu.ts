/**
 * The Storage Commitment Push Model SOP Class as SCU (PS3.4 J.3.2.1.2, J.3.3.1.3): ask an SCP
 * to commit to storing instances (N-ACTION), and receive its result (N-EVENT-REPORT), either on
 * the same association or on one the SCP requests later, taking the SCP role. A
 * {@linkcode StorageCommitmentReceiver} is the service that takes the reports: give it to the
 * client `Association` (`services`) for the first case, to a listening `Scp` for the second,
 * or to both.
 *
 * @module
 */
import { Status } from "../dimse/status.ts";
import {
  type CommitmentReference,
  decodeEventInformation,
  encodeActionInformation,
  REQUEST_STORAGE_COMMITMENT,
  STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS,
  STORAGE_COMMITMENT_PUSH_MODEL_SOP_INSTANCE,
  type StorageCommitmentResult,
  StorageCommitmentResultError,
} from "./storage_commitment.ts";
import { DimseStatusError, normalizedService } from "./normalized.ts";
import { generateUid, isValidUid } from "../ul/uids.ts";
import { nAction, type NormalizedRequestOptions } from "./normalized_scu.ts";
import type { DimseInvoker, Service } from "./service.ts";
import { statusCategory } from "../dimse/status.ts";

/** What to ask the SCP to commit to. */
export interface StorageCommitmentRequest {
  /** Transaction UID (0008,1195); a new 2.25 UID when absent. */
  transactionUid?: string;
  /** The instances (Referenced SOP Sequence); at least one. */
  instances: readonly CommitmentReference[];
}

/** The SCP took the request (N-ACTION success or warning); the result comes later. */
export interface StorageCommitmentAccepted {
  /** The Transaction UID to wait for. */
  transactionUid: string;
  /** The N-ACTION response status. */
  status: number;
}

/** The SCP refused the request: its N-ACTION response status was a failure. */
export class StorageCommitmentRequestError extends Error {
  /** The N-ACTION response status (PS3.7 Annex C). */
  readonly status: number;
  /** The response's Error Comment, when given. */
  readonly errorComment?: string;
  /** Creates the error from the response. */
  constructor(status: number, errorComment?: string) {
    super(
      `Storage commitment request refused with status 0x${status.toString(16).padStart(4, "0")}${
        errorComment ? `: ${errorComment}` : ""
      }`,
    );
    this.name = "StorageCommitmentRequestError";
    this.status = status;
    if (errorComment !== undefined) this.errorComment = errorComment;
  }
}

/**
 * Request Storage Commitment (PS3.4 J.3.2.1.2): sends the N-ACTION on the association's Storage
 * Commitment Push Model context and resolves once the SCP has taken it; rejects with
 * {@linkcode StorageCommitmentRequestError} when it refused. Wait for the result with
 * {@linkcode StorageCommitmentReceiver.wait}.
 */
export async function requestStorageCommitment(
  association: DimseInvoker,
  request: StorageCommitmentRequest,
  options: NormalizedRequestOptions = {},
): Promise<StorageCommitmentAccepted> {
  if (request.instances.length === 0) {
    throw new RangeError("A storage commitment request needs at least one instance");
  }
  const transactionUid = request.transactionUid ?? generateUid();
  if (!isValidUid(transactionUid)) {
    throw new RangeError(`Transaction UID "${transactionUid}" is not a valid UID`);
  }
  const response = await nAction(association, {
    requestedSopClassUid: STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS,
    requestedSopInstanceUid: STORAGE_COMMITMENT_PUSH_MODEL_SOP_INSTANCE,
    actionTypeId: REQUEST_STORAGE_COMMITMENT,
    actionInformation: encodeActionInformation(transactionUid, request.instances),
  }, options);
  const category = statusCategory(response.status);
  if (category !== "success" && category !== "warning") {
    throw new StorageCommitmentRequestError(response.status, response.command.errorComment);
  }
  return { transactionUid, status: response.status };
}

/** A result as received, with the association it came on. */
export interface ReceivedStorageCommitmentResult extends StorageCommitmentResult {
  /** The association the N-EVENT-REPORT came on. */
  association: {
    /** Its id within the client or SCP that took it. */
    id: number;
    /** Calling AE title: the SCP when it requested the association, else us. */
    callingAeTitle: string;
    /** Called AE title. */
    calledAeTitle: string;
    /** Peer address "host:port". */
    peerAddress: string;
    /** Whether the SCP requested it (a new association), rather than us. */
    requestedByScp: boolean;
  };
}

/** No result came for a transaction in time. */
export class StorageCommitmentTimeoutError extends Error {
  /** The transaction waited for. */
  readonly transactionUid: string;
  /** Creates the error. */
  constructor(transactionUid: string, timeoutMs: number) {
    super(`No storage commitment result for transaction ${transactionUid} within ${timeoutMs} ms`);
    this.name = "StorageCommitmentTimeoutError";
    this.transactionUid = transactionUid;
  }
}

/** Options of {@linkcode StorageCommitmentReceiver.wait}. */
export interface StorageCommitmentWaitOptions {
  /** Give up after this many ms (rejects with {@linkcode StorageCommitmentTimeoutError}); default none. */
  timeoutMs?: number;
  /** Give up when aborted (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** Takes Storage Commitment results (N-EVENT-REPORT) and hands them to whoever waits. */
export interface StorageCommitmentReceiver extends Service {
  /**
   * The result for a transaction: one already received (kept until asked for once), or the
   * next to arrive. When several come for it, the first counts.
   */
  wait(
    transactionUid: string,
    options?: StorageCommitmentWaitOptions,
  ): Promise<ReceivedStorageCommitmentResult>;
}

/** Options of {@linkcode storageCommitmentReceiver}. */
export interface StorageCommitmentReceiverOptions {
  /** Called for every result received (duplicates too). */
  onReport?: (result: ReceivedStorageCommitmentResult) => void;
}

/**
 * The Storage Commitment Push Model SOP Class as SCU receiving results: answers each
 * N-EVENT-REPORT with 0000 once read; 0113 No such event type for an Event Type ID other than
 * 1 or 2; 0120 Missing attribute when the Event Information has no Transaction UID. It accepts
 * the SCP role proposed by a Storage Commitment SCP that requests an association to report
 * (PS3.4 J.3.3.1.3), and the default roles too.
 */
export function storageCommitmentReceiver(
  options: StorageCommitmentReceiverOptions = {},
): StorageCommitmentReceiver {
  const received = new Map<string, ReceivedStorageCommitmentResult>();
  const waiters = new Map<string, Set<(result: ReceivedStorageCommitmentResult) => void>>();
  const service = normalizedService({
    name: "storage-commitment-results",
    sopClasses: [{
      uid: STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS,
      scuRole: true,
      nEventReport(request) {
        let result: StorageCommitmentResult;
        try {
          result = decodeEventInformation(request.eventTypeId ?? 0, request.dataSet);
        } catch (e) {
          if (e instanceof StorageCommitmentResultError) {
            throw new DimseStatusError(e.status, e.message);
          }
          throw e;
        }
        const association = request.association;
        const full: ReceivedStorageCommitmentResult = {
          ...result,
          association: {
            id: association.id,
            callingAeTitle: association.callingAeTitle,
            calledAeTitle: association.calledAeTitle,
            peerAddress: association.peerAddress,
            requestedByScp: !association.negotiated.isRequestor,
          },
        };
        options.onReport?.(full);
        const waiting = waiters.get(result.transactionUid);
        if (waiting && waiting.size > 0) {
          waiters.delete(result.transactionUid);
          // Waiters hear of it on the next task, once our N-EVENT-REPORT response is on its way:
          // a waiter that releases the association at once must not overtake it.
          setTimeout(() => {
            for (const resolve of waiting) resolve(full);
          }, 0);
        } else if (!received.has(result.transactionUid)) {
          received.set(result.transactionUid, full);
        }
        return { status: Status.SUCCESS };
      },
    }],
  });
  return {
    name: service.name,
    sopClasses: service.sopClasses,
    handle: (request) => service.handle(request),
    wait(transactionUid, waitOptions = {}) {
      const ready = received.get(transactionUid);
      if (ready) {
        received.delete(transactionUid);
        return Promise.resolve(ready);
      }
      const { timeoutMs, signal } = waitOptions;
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise((resolve, reject) => {
        let set = waiters.get(transactionUid);
        if (!set) waiters.set(transactionUid, set = new Set());
        let timer: ReturnType<typeof setTimeout> | undefined;
        const finish = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          set!.delete(deliver);
          if (set!.size === 0 && waiters.get(transactionUid) === set) {
            waiters.delete(transactionUid);
          }
        };
        const deliver = (result: ReceivedStorageCommitmentResult) => {
          finish();
          resolve(result);
        };
        const onAbort = () => {
          finish();
          reject(signal!.reason);
        };
        set.add(deliver);
        signal?.addEventListener("abort", onAbort, { once: true });
        if (timeoutMs !== undefined) {
          timer = setTimeout(() => {
            finish();
            reject(new StorageCommitmentTimeoutError(transactionUid, timeoutMs));
          }, timeoutMs);
        }
      });
    },
  };
}
