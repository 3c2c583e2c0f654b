/**
 * The Storage Commitment Push Model SOP Class as SCP (PS3.4 Annex J). An N-ACTION (Request
 * Storage Commitment) is checked, persisted and acknowledged at once; the instances it names
 * are then looked up in the store's index, and the result goes back as an N-EVENT-REPORT: on
 * the requestor's association while it is open, otherwise on a new association to the
 * requestor's AE (from the AE table) on which we propose the SCP role (PS3.4 J.3.3.1.3). A
 * transaction is forgotten only once its report has been answered; pending ones survive a
 * restart and are reported when the service starts again.
 *
 * @module
 */
import { Association } from "../client.ts";
import type { Timeouts } from "../scp.ts";
import { Status, statusCategory } from "../dimse/status.ts";
import type { DataElement, DataSet } from "../dataset/dataset.ts";
import { TransferSyntax } from "../ul/uids.ts";
import {
  type CommitmentReference,
  CommitmentStore,
  isValidTransactionUid,
  type PendingCommitment,
} from "../store/commitment_store.ts";
import type { InstanceIndex } from "../store/instance_index.ts";
import {
  DimseStatusError,
  type NormalizedRequest,
  type NormalizedResponse,
  normalizedService,
} from "./normalized.ts";
import { nEventReport } from "./normalized_scu.ts";
import type { AssociationInfo, DimseInvoker, Service } from "./service.ts";
import { logLines } from "../log_line.ts";

export type { CommitmentReference, PendingCommitment } from "../store/commitment_store.ts";

/** Storage Commitment Push Model SOP Class UID (PS3.4 J.3.5). */
export const STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS = "1.2.840.10008.1.20.1";

/** The well-known Storage Commitment Push Model SOP Instance UID (PS3.4 J.3.5). */
export const STORAGE_COMMITMENT_PUSH_MODEL_SOP_INSTANCE = "1.2.840.10008.1.20.1.1";

/** Action Type ID of Request Storage Commitment (PS3.4 J.3.2.1.1). */
export const REQUEST_STORAGE_COMMITMENT = 1;

/** Event Type IDs of the Storage Commitment Result (PS3.4 J.3.3.1.1). */
export const StorageCommitmentEventType = {
  /** Storage commitment request successful. */
  SUCCESSFUL: 1,
  /** Storage commitment request complete, failures exist. */
  FAILURES_EXIST: 2,
} as const;

/** Failure Reason (0008,1197) values (PS3.3 C.14.1.1). */
export const FailureReason = {
  /** A general failure in processing the operation was encountered. */
  PROCESSING_FAILURE: 0x0110,
  /** The referenced SOP instance is not available. */
  NO_SUCH_OBJECT_INSTANCE: 0x0112,
  /** Not enough resources to store the referenced instance. */
  RESOURCE_LIMITATION: 0x0213,
  /** The SOP class of the referenced instance is not supported. */
  REFERENCED_SOP_CLASS_NOT_SUPPORTED: 0x0122,
  /** The SOP class given does not match the one stored for the instance. */
  CLASS_INSTANCE_CONFLICT: 0x0119,
  /** The Transaction UID is already in use. */
  DUPLICATE_TRANSACTION_UID: 0x0131,
} as const;

const FAILURE_REASON_NAMES: Readonly<Record<number, string>> = {
  0x0110: "processing failure",
  0x0112: "no such object instance",
  0x0213: "resource limitation",
  0x0122: "referenced SOP class not supported",
  0x0119: "class/instance conflict",
  0x0131: "duplicate transaction UID",
};

/** The name PS3.3 C.14.1.1 gives a Failure Reason, or its hex value when it has none. */
export function failureReasonName(reason: number): string {
  return FAILURE_REASON_NAMES[reason] ??
    `failure reason 0x${reason.toString(16).padStart(4, "0")}`;
}

/** A referenced instance that could not be committed, with why (Failed SOP Sequence item). */
export interface FailedReference extends CommitmentReference {
  /** Failure Reason (0008,1197), one of {@linkcode FailureReason}. */
  failureReason: number;
}

/** A Storage Commitment Result: the Event Information of the N-EVENT-REPORT (PS3.4 J.3.3). */
export interface StorageCommitmentResult {
  /** Transaction UID (0008,1195) of the request reported on. */
  transactionUid: string;
  /** 1 all committed, 2 failures exist ({@linkcode StorageCommitmentEventType}). */
  eventTypeId: number;
  /** Referenced SOP Sequence (0008,1199): the instances committed. */
  committed: CommitmentReference[];
  /** Failed SOP Sequence (0008,1198): the instances not committed. */
  failed: FailedReference[];
  /** Retrieve AE Title (0008,0054), when the SCP gives one. */
  retrieveAeTitle?: string;
}

const TAG = {
  RETRIEVE_AE_TITLE: "00080054",
  FAILURE_REASON: "00081197",
  FAILED_SOP_SEQUENCE: "00081198",
  REFERENCED_SOP_SEQUENCE: "00081199",
  REFERENCED_SOP_CLASS_UID: "00081150",
  REFERENCED_SOP_INSTANCE_UID: "00081155",
  TRANSACTION_UID: "00081195",
} as const;

function referenceItem(reference: CommitmentReference): DataSet {
  return {
    [TAG.REFERENCED_SOP_CLASS_UID]: { vr: "UI", Value: [reference.sopClassUid] },
    [TAG.REFERENCED_SOP_INSTANCE_UID]: { vr: "UI", Value: [reference.sopInstanceUid] },
  };
}

/** The Action Information of Request Storage Commitment (PS3.4 Table J.3-1). */
export function encodeActionInformation(
  transactionUid: string,
  references: readonly CommitmentReference[],
): DataSet {
  return {
    [TAG.TRANSACTION_UID]: { vr: "UI", Value: [transactionUid] },
    [TAG.REFERENCED_SOP_SEQUENCE]: { vr: "SQ", Value: references.map(referenceItem) },
  };
}

/** The Event Information of a Storage Commitment Result (PS3.4 Table J.3-2). */
export function encodeEventInformation(result: StorageCommitmentResult): DataSet {
  const dataSet: DataSet = {
    [TAG.TRANSACTION_UID]: { vr: "UI", Value: [result.transactionUid] },
  };
  if (result.retrieveAeTitle !== undefined) {
    dataSet[TAG.RETRIEVE_AE_TITLE] = { vr: "AE", Value: [result.retrieveAeTitle] };
  }
  // Event type 2 carries the committed instances too, when there are any (PS3.4 J.3.3.1.2).
  if (result.committed.length > 0 || result.failed.length === 0) {
    dataSet[TAG.REFERENCED_SOP_SEQUENCE] = {
      vr: "SQ",
      Value: result.committed.map(referenceItem),
    };
  }
  if (result.failed.length > 0) {
    dataSet[TAG.FAILED_SOP_SEQUENCE] = {
      vr: "SQ",
      Value: result.failed.map((f) => ({
        ...referenceItem(f),
        [TAG.FAILURE_REASON]: { vr: "US", Value: [f.failureReason] },
      })),
    };
  }
  return dataSet;
}

function stringOf(element: DataElement | undefined): string | undefined {
  const value = element?.Value?.[0];
  return typeof value === "string" ? value.trim() : undefined;
}

/** Reads a required UI attribute: 0120 when absent, 0121 when empty (PS3.7 C.5.12, C.5.13). */
function requiredUid(dataSet: DataSet, tag: string, name: string): string {
  const element = dataSet[tag];
  const offendingElement = [parseInt(tag, 16)];
  if (element === undefined) {
    throw new DimseStatusError(Status.MISSING_ATTRIBUTE, `${name} is missing`, {
      offendingElement,
    });
  }
  const value = stringOf(element);
  if (value === undefined || value === "") {
    throw new DimseStatusError(Status.MISSING_ATTRIBUTE_VALUE, `${name} has no value`, {
      offendingElement,
    });
  }
  return value;
}

function itemsOf(element: DataElement | undefined): DataSet[] {
  return (element?.Value ?? []).filter((v): v is DataSet =>
    typeof v === "object" && v !== null && !("Alphabetic" in v || "Ideographic" in v)
  ) as DataSet[];
}

/**
 * Reads the Action Information of Request Storage Commitment (PS3.4 Table J.3-1); throws
 * {@linkcode DimseStatusError} with the status to answer: 0120 Missing attribute, 0121 Missing
 * attribute value, 0115 Invalid argument value.
 */
export function decodeActionInformation(
  dataSet: DataSet | undefined,
): { transactionUid: string; references: CommitmentReference[] } {
  if (dataSet === undefined) {
    throw new DimseStatusError(
      Status.MISSING_ATTRIBUTE,
      "Action Information (Transaction UID) is missing",
      { offendingElement: [0x00081195] },
    );
  }
  const transactionUid = requiredUid(dataSet, TAG.TRANSACTION_UID, "Transaction UID");
  if (!isValidTransactionUid(transactionUid)) {
    throw new DimseStatusError(
      Status.INVALID_ARGUMENT_VALUE,
      "Transaction UID is not a valid UID",
      { offendingElement: [0x00081195] },
    );
  }
  const sequence = dataSet[TAG.REFERENCED_SOP_SEQUENCE];
  if (sequence === undefined) {
    throw new DimseStatusError(Status.MISSING_ATTRIBUTE, "Referenced SOP Sequence is missing", {
      offendingElement: [0x00081199],
    });
  }
  const items = itemsOf(sequence);
  if (items.length === 0) {
    throw new DimseStatusError(Status.MISSING_ATTRIBUTE_VALUE, "Referenced SOP Sequence is empty", {
      offendingElement: [0x00081199],
    });
  }
  const references = items.map((item) => ({
    sopClassUid: requiredUid(item, TAG.REFERENCED_SOP_CLASS_UID, "Referenced SOP Class UID"),
    sopInstanceUid: requiredUid(
      item,
      TAG.REFERENCED_SOP_INSTANCE_UID,
      "Referenced SOP Instance UID",
    ),
  }));
  return { transactionUid, references };
}

/** A Storage Commitment Result's Event Information could not be read. */
export class StorageCommitmentResultError extends Error {
  /** The status to answer the N-EVENT-REPORT with (PS3.7 Annex C). */
  readonly status: number;
  /** Creates the error. */
  constructor(status: number, message: string) {
    super(message);
    this.name = "StorageCommitmentResultError";
    this.status = status;
  }
}

/** Reads the Event Information of a Storage Commitment Result (PS3.4 Table J.3-2). */
export function decodeEventInformation(
  eventTypeId: number,
  dataSet: DataSet | undefined,
): StorageCommitmentResult {
  if (
    eventTypeId !== StorageCommitmentEventType.SUCCESSFUL &&
    eventTypeId !== StorageCommitmentEventType.FAILURES_EXIST
  ) {
    throw new StorageCommitmentResultError(
      Status.NO_SUCH_EVENT_TYPE,
      `Event Type ID ${eventTypeId} is not a Storage Commitment Result`,
    );
  }
  const transactionUid = stringOf(dataSet?.[TAG.TRANSACTION_UID]);
  if (dataSet === undefined || transactionUid === undefined || transactionUid === "") {
    throw new StorageCommitmentResultError(
      Status.MISSING_ATTRIBUTE,
      "Event Information has no Transaction UID",
    );
  }
  const reference = (item: DataSet): CommitmentReference => ({
    sopClassUid: stringOf(item[TAG.REFERENCED_SOP_CLASS_UID]) ?? "",
    sopInstanceUid: stringOf(item[TAG.REFERENCED_SOP_INSTANCE_UID]) ?? "",
  });
  const result: StorageCommitmentResult = {
    transactionUid,
    eventTypeId,
    committed: itemsOf(dataSet[TAG.REFERENCED_SOP_SEQUENCE]).map(reference),
    failed: itemsOf(dataSet[TAG.FAILED_SOP_SEQUENCE]).map((item) => {
      const reason = item[TAG.FAILURE_REASON]?.Value?.[0];
      return {
        ...reference(item),
        failureReason: typeof reason === "number" ? reason : FailureReason.PROCESSING_FAILURE,
      };
    }),
  };
  const retrieveAeTitle = stringOf(dataSet[TAG.RETRIEVE_AE_TITLE]);
  if (retrieveAeTitle) result.retrieveAeTitle = retrieveAeTitle;
  return result;
}

/** Where a requestor listens for reports on a new association (an entry of the AE table). */
export interface AeAddress {
  /** Host name or IP address. */
  host: string;
  /** TCP port. */
  port: number;
}

/** How a report reached the requestor. */
export interface DeliveredReport {
  /** The result sent. */
  result: StorageCommitmentResult;
  /** The requestor's AE title. */
  requestorAeTitle: string;
  /** On the N-ACTION's association, or on one we requested. */
  via: "same-association" | "new-association";
}

/** Options of {@linkcode storageCommitment}. */
export interface StorageCommitmentOptions {
  /** Our AE title, the calling AE title when we request an association to report. */
  aeTitle: string;
  /** The store folder; pending transactions are kept under `<dir>/commitment/`. */
  dir: string;
  /**
   * The store's index (an instance is committed when the index has it, with the same SOP
   * class, and its file is in `dir`), or a function giving it, for an index opened after the
   * service is made.
   */
  index: InstanceIndex | (() => InstanceIndex | undefined);
  /** The AE table: where each requestor AE title listens, for reports on a new association. */
  destinations?: Readonly<Record<string, AeAddress>>;
  /** Retrieve AE Title (0008,0054) to put in reports; none by default. */
  retrieveAeTitle?: string;
  /**
   * Delays in ms before each further attempt when a report could not be delivered; default
   * 10 s, 1 min, 10 min. After the last, the transaction waits on disk for the next start.
   */
  retryDelaysMs?: readonly number[];
  /** Report the transactions left pending by a previous run, on new associations; default true. */
  reportPendingOnStart?: boolean;
  /** Timeouts of the associations we request to report. */
  timeouts?: Timeouts;
  /** Called after each report the requestor answered. */
  onReport?: (report: DeliveredReport) => void;
  /**
   * Where problems are told, control characters escaped (see `printable`); default
   * `console.error`.
   */
  log?: (line: string) => void;
}

/** The Storage Commitment SCP: a service, plus control of the reports it owes. */
export interface StorageCommitmentScp extends Service {
  /** The persisted pending transactions. */
  readonly store: CommitmentStore;
  /** Resolves once no report is being prepared or sent (scheduled retries do not count). */
  idle(): Promise<void>;
  /** Cancels scheduled retries and waits for reports in progress; pending ones stay on disk. */
  close(): Promise<void>;
}

const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [10_000, 60_000, 600_000];

/**
 * The Storage Commitment Push Model SOP Class as SCP (PS3.4 J.3). N-ACTION answers: 0000 once
 * the request is persisted; 0123 No such action for an Action Type ID other than 1; 0112 No
 * such SOP instance for a Requested SOP Instance UID other than the well-known one; 0120/0121
 * Missing attribute (value) for a missing or empty Transaction UID or Referenced SOP Sequence;
 * 0115 Invalid argument value for a Transaction UID that is not a UID or is pending for another
 * request; 0110 Processing failure when the request cannot be persisted.
 */
export function storageCommitment(options: StorageCommitmentOptions): StorageCommitmentScp {
  const store = new CommitmentStore(`${options.dir.replace(/\/+$/, "")}/commitment`);
  const log = logLines(options.log);
  const retryDelays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const running = new Set<Promise<void>>();
  const reporting = new Set<string>();
  const retries = new Map<string, ReturnType<typeof setTimeout>>();
  let closed = false;

  function track(work: Promise<void>): void {
    const done = work.catch((e) => log(`storage commitment: ${describe(e)}`)).finally(() =>
      running.delete(done)
    );
    running.add(done);
  }

  function indexNow(): InstanceIndex | undefined {
    return typeof options.index === "function" ? options.index() : options.index;
  }

  /** PS3.4 J.3.3.1.2: each referenced instance is committed, or failed with a reason. */
  async function evaluate(commitment: PendingCommitment): Promise<StorageCommitmentResult> {
    const index = indexNow();
    const committed: CommitmentReference[] = [];
    const failed: FailedReference[] = [];
    for (const reference of commitment.references) {
      let reason: number | undefined;
      try {
        if (!index) throw new Error("the store has no index");
        const instance = await index.get(reference.sopInstanceUid);
        if (!instance) reason = FailureReason.NO_SUCH_OBJECT_INSTANCE;
        else if (instance.sopClassUid !== reference.sopClassUid) {
          reason = FailureReason.CLASS_INSTANCE_CONFLICT;
        } else {
          const info = await Deno.stat(`${options.dir.replace(/\/+$/, "")}/${instance.path}`)
            .catch((e) => {
              if (e instanceof Deno.errors.NotFound) return undefined;
              throw e;
            });
          if (!info?.isFile) reason = FailureReason.NO_SUCH_OBJECT_INSTANCE;
        }
      } catch (e) {
        log(
          `storage commitment: cannot check ${reference.sopInstanceUid} of transaction ${commitment.transactionUid}: ${
            describe(e)
          }`,
        );
        reason = FailureReason.PROCESSING_FAILURE;
      }
      if (reason === undefined) committed.push({ ...reference });
      else failed.push({ ...reference, failureReason: reason });
    }
    const result: StorageCommitmentResult = {
      transactionUid: commitment.transactionUid,
      eventTypeId: failed.length === 0
        ? StorageCommitmentEventType.SUCCESSFUL
        : StorageCommitmentEventType.FAILURES_EXIST,
      committed,
      failed,
    };
    if (options.retrieveAeTitle !== undefined) result.retrieveAeTitle = options.retrieveAeTitle;
    return result;
  }

  /** Sends the report on an association; true when the requestor answered with success or warning. */
  async function send(
    target: DimseInvoker,
    result: StorageCommitmentResult,
    where: string,
  ): Promise<boolean> {
    const response = await nEventReport(target, {
      affectedSopClassUid: STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS,
      affectedSopInstanceUid: STORAGE_COMMITMENT_PUSH_MODEL_SOP_INSTANCE,
      eventTypeId: result.eventTypeId,
      eventInformation: encodeEventInformation(result),
    }, options.timeouts?.dimse === undefined ? {} : { timeoutMs: options.timeouts.dimse });
    const category = statusCategory(response.status);
    if (category === "success" || category === "warning") return true;
    log(
      `storage commitment: report of transaction ${result.transactionUid} ${where} answered 0x${
        response.status.toString(16).padStart(4, "0")
      }${response.command.errorComment ? ` (${response.command.errorComment})` : ""}`,
    );
    return false;
  }

  /** PS3.4 J.3.3.1.3: a new association on which we propose the SCP role. */
  async function sendOnNewAssociation(
    commitment: PendingCommitment,
    result: StorageCommitmentResult,
  ): Promise<"delivered" | "failed" | "no-address"> {
    const address = options.destinations?.[commitment.requestorAeTitle];
    if (!address) {
      log(
        `storage commitment: no AE table entry for ${commitment.requestorAeTitle}; transaction ${commitment.transactionUid} stays pending`,
      );
      return "no-address";
    }
    const where = `to ${commitment.requestorAeTitle}@${address.host}:${address.port}`;
    let association: Association;
    try {
      association = await Association.connect({
        host: address.host,
        port: address.port,
        callingAeTitle: options.aeTitle,
        calledAeTitle: commitment.requestorAeTitle,
        presentationContexts: [{
          abstractSyntax: STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS,
          transferSyntaxes: [
            TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN,
            TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN,
          ],
        }],
        roleSelections: [{
          sopClassUid: STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS,
          scuRole: false,
          scpRole: true,
        }],
        timeouts: options.timeouts,
      });
    } catch (e) {
      log(`storage commitment: cannot associate ${where}: ${describe(e)}`);
      return "failed";
    }
    let delivered = false;
    try {
      const context = association.negotiated.accepted.find((c) =>
        c.abstractSyntax === STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS
      );
      if (!context) {
        log(`storage commitment: ${where} did not accept the Storage Commitment context`);
      } else if (!context.requestorIsScp) {
        log(`storage commitment: ${where} did not accept our SCP role (PS3.4 J.3.3.1.3)`);
      } else {
        delivered = await send(association, result, where);
      }
    } catch (e) {
      log(`storage commitment: report ${where} failed: ${describe(e)}`);
    }
    try {
      await association.release();
    } catch {
      await association.abort().catch(() => {});
    }
    return delivered ? "delivered" : "failed";
  }

  /** Evaluates and reports one transaction; on failure, schedules the next attempt. */
  async function report(
    commitment: PendingCommitment,
    association: AssociationInfo | undefined,
    attempt: number,
  ): Promise<void> {
    const uid = commitment.transactionUid;
    if (closed || reporting.has(uid)) return;
    reporting.add(uid);
    try {
      const result = await evaluate(commitment);
      let via: DeliveredReport["via"] | undefined;
      // PS3.4 J.3.3.1.2 note: the same association is tried first; the requestor may release it.
      if (association?.open) {
        try {
          if (await send(association, result, "on the request's association")) {
            via = "same-association";
          }
        } catch (e) {
          if (association.open) {
            log(`storage commitment: report of transaction ${uid} failed: ${describe(e)}`);
          }
        }
      }
      let outcome: "delivered" | "failed" | "no-address" = via ? "delivered" : "failed";
      if (!via) {
        outcome = await sendOnNewAssociation(commitment, result);
        if (outcome === "delivered") via = "new-association";
      }
      if (via) {
        await store.remove(uid);
        options.onReport?.({ result, requestorAeTitle: commitment.requestorAeTitle, via });
        return;
      }
      if (outcome === "failed" && attempt < retryDelays.length && !closed) {
        const timer = setTimeout(() => {
          retries.delete(uid);
          track(retryFromStore(uid, attempt + 1));
        }, retryDelays[attempt]);
        Deno.unrefTimer(timer);
        retries.set(uid, timer);
      }
    } finally {
      reporting.delete(uid);
    }
  }

  /** A retry reads the transaction back, so that one reported meanwhile is not sent twice. */
  async function retryFromStore(uid: string, attempt: number): Promise<void> {
    const commitment = await store.get(uid);
    if (commitment) await report(commitment, undefined, attempt);
  }

  async function reportPending(): Promise<void> {
    const pending = await store.list((e) => log(`storage commitment: ${e.message}`));
    for (const commitment of pending) await report(commitment, undefined, 0);
  }

  async function nAction(request: NormalizedRequest): Promise<NormalizedResponse> {
    if (request.actionTypeId !== REQUEST_STORAGE_COMMITMENT) {
      throw new DimseStatusError(
        Status.NO_SUCH_ACTION,
        `Action Type ID ${request.actionTypeId ?? "missing"} is not Request Storage Commitment`,
      );
    }
    if (request.sopInstanceUid !== STORAGE_COMMITMENT_PUSH_MODEL_SOP_INSTANCE) {
      throw new DimseStatusError(
        Status.NO_SUCH_SOP_INSTANCE,
        "Requested SOP Instance UID is not the well-known instance",
      );
    }
    const { transactionUid, references } = decodeActionInformation(request.dataSet);
    const pending = await store.get(transactionUid).catch(() => undefined);
    if (pending && !sameRequest(pending, request.association.callingAeTitle, references)) {
      // PS3.4 J.3.2.1.2: a Transaction UID names one request; a pending one is not replaced.
      throw new DimseStatusError(
        Status.INVALID_ARGUMENT_VALUE,
        "Transaction UID is in use by another pending request",
        { offendingElement: [0x00081195] },
      );
    }
    // The same request again (the requestor retrying) is taken again and reported once.
    const commitment: PendingCommitment = {
      transactionUid,
      requestorAeTitle: request.association.callingAeTitle,
      calledAeTitle: request.association.calledAeTitle,
      references,
      receivedAt: new Date().toISOString(),
    };
    try {
      await store.save(commitment);
    } catch (e) {
      throw new DimseStatusError(
        Status.PROCESSING_FAILURE,
        `Request could not be recorded: ${describe(e)}`,
      );
    }
    // The report follows the N-ACTION response (PS3.4 J.3.3): it starts on the next task, after
    // the response has been queued on the association.
    const association = request.association;
    track(nextTask().then(() => report(commitment, association, 0)));
    return {
      status: Status.SUCCESS,
      affectedSopInstanceUid: STORAGE_COMMITMENT_PUSH_MODEL_SOP_INSTANCE,
    };
  }

  const service = normalizedService({
    name: "storage-commitment",
    sopClasses: [{ uid: STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS, nAction }],
  });

  if (options.reportPendingOnStart ?? true) track(nextTask().then(reportPending));

  return {
    name: service.name,
    sopClasses: service.sopClasses,
    handle: (request) => service.handle(request),
    store,
    async idle(): Promise<void> {
      while (running.size > 0) await Promise.all([...running]);
    },
    async close(): Promise<void> {
      closed = true;
      for (const timer of retries.values()) clearTimeout(timer);
      retries.clear();
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}

/** Whether a pending transaction is the request received again. */
function sameRequest(
  pending: PendingCommitment,
  requestorAeTitle: string,
  references: readonly CommitmentReference[],
): boolean {
  return pending.requestorAeTitle === requestorAeTitle &&
    pending.references.length === references.length &&
    pending.references.every((r, i) =>
      r.sopClassUid === references[i].sopClassUid &&
      r.sopInstanceUid === references[i].sopInstanceUid
    );
}

function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
