/**
 * What the C-MOVE and C-GET SCPs of Query/Retrieve (PS3.4 C.4.2, C.4.3) share: reading the
 * request identifier into an {@linkcode IndexQuery} under the baseline hierarchical rules
 * (PS3.4 C.4.2.2.1), listing the instances to transfer, streaming each one from its Part 10
 * file in the transfer syntax of the chosen presentation context, and the loop of C-STORE
 * sub-operations with its counts, pending responses, C-CANCEL and final response
 * (PS3.4 C.4.2.3, C.4.3.3).
 *
 * An identifier that breaks the hierarchical rules (no or an unknown Query/Retrieve Level, a
 * unique key missing above or at the level, a wildcard or a list where a single value is
 * required) is refused with A900 "Identifier does not match SOP Class" (PS3.4 C.4.2.1.5): the
 * identifier is readable but not one the SOP class defines, which is what A900 says; C000
 * "Unable to process" is kept for an identifier that cannot be decoded at all.
 *
 * @module
 */
import type { DataSet } from "../dataset/dataset.ts";
import { readWholeDataSet } from "../dataset/reader.ts";
import { readPart10Header } from "../dataset/part10.ts";
import { transcodeDataSet } from "../dataset/transcode.ts";
import { isTranscodable, isTranscodeTarget } from "../dataset/transfer_syntax.ts";
import { writeDataSet } from "../dataset/writer.ts";
import { CommandField, type CommandSet, DATA_SET_PRESENT, Priority } from "../dimse/command.ts";
import type { DimseResponse } from "../dimse/dispatcher.ts";
import { Status, statusCategory } from "../dimse/status.ts";
import type {
  IndexQuery,
  InformationModel,
  InstanceIndex,
  QueryRetrieveLevel,
} from "../store/instance_index.ts";
import { IdentifierError } from "../store/query_keys.ts";
import type { AcceptedPresentationContext } from "../ul/negotiation.ts";
import { TransferSyntax } from "../ul/uids.ts";
import type { ServiceRequest, ServiceResponse } from "./service.ts";

/** Patient Root Query/Retrieve Information Model – MOVE (PS3.4 C.6.1.3). */
export const PATIENT_ROOT_QR_MOVE = "1.2.840.10008.5.1.4.1.2.1.2";
/** Patient Root Query/Retrieve Information Model – GET (PS3.4 C.6.1.3). */
export const PATIENT_ROOT_QR_GET = "1.2.840.10008.5.1.4.1.2.1.3";
/** Study Root Query/Retrieve Information Model – MOVE (PS3.4 C.6.2.3). */
export const STUDY_ROOT_QR_MOVE = "1.2.840.10008.5.1.4.1.2.2.2";
/** Study Root Query/Retrieve Information Model – GET (PS3.4 C.6.2.3). */
export const STUDY_ROOT_QR_GET = "1.2.840.10008.5.1.4.1.2.2.3";

/** The information model of a retrieve SOP class; undefined for any other UID. */
export function retrieveModelOf(sopClassUid: string): InformationModel | undefined {
  switch (sopClassUid) {
    case PATIENT_ROOT_QR_MOVE:
    case PATIENT_ROOT_QR_GET:
      return "patient";
    case STUDY_ROOT_QR_MOVE:
    case STUDY_ROOT_QR_GET:
      return "study";
    default:
      return undefined;
  }
}

/**
 * A request identifier the retrieve SCP refuses; carries the status (A900 or C000) and Error
 * Comment to send, and the offending attribute when one is to blame.
 */
export class RetrieveIdentifierError extends IdentifierError {
  /** Creates the error; the message becomes the Error Comment. */
  constructor(status: number, message: string, offendingElement?: number) {
    super(message, status, offendingElement);
    this.name = "RetrieveIdentifierError";
  }
}

/** One level of a model and its unique key (PS3.4 C.6.1.1, C.6.2.1). */
interface LevelKey {
  level: QueryRetrieveLevel;
  tag: string;
  keyword: string;
}

const PATIENT_KEY: LevelKey = { level: "PATIENT", tag: "00100020", keyword: "Patient ID" };
const STUDY_KEY: LevelKey = { level: "STUDY", tag: "0020000D", keyword: "Study Instance UID" };
const SERIES_KEY: LevelKey = { level: "SERIES", tag: "0020000E", keyword: "Series Instance UID" };
const IMAGE_KEY: LevelKey = { level: "IMAGE", tag: "00080018", keyword: "SOP Instance UID" };

/** The levels of each model, top down (PS3.4 C.6.1.1.1, C.6.2.1.1). */
const LEVELS: Record<InformationModel, readonly LevelKey[]> = {
  patient: [PATIENT_KEY, STUDY_KEY, SERIES_KEY, IMAGE_KEY],
  study: [STUDY_KEY, SERIES_KEY, IMAGE_KEY],
};

const QUERY_RETRIEVE_LEVEL_TAG = "00080052";
const SPECIFIC_CHARACTER_SET_TAG = "00080005";

function tagNumber(tag: string): number {
  return parseInt(tag, 16);
}

function textValues(dataSet: DataSet, tag: string): string[] {
  return (dataSet[tag]?.Value ?? [])
    .map((v) => (typeof v === "string" || typeof v === "number" ? String(v).trim() : ""))
    .filter((v) => v !== "");
}

/**
 * Reads a C-MOVE or C-GET identifier into an index query under the baseline hierarchical
 * rules (PS3.4 C.4.2.2.1, C.4.3.2.1): the Query/Retrieve Level must be one of the model's, the
 * unique key of every level above it must hold a single value, and the unique key of the level
 * itself one value or, for the UID levels, a list of UIDs (C.2.2.2.2). Only those unique keys
 * (with the level and Specific Character Set) go into the query; other attributes of the
 * identifier take no part in a retrieve. Throws
 * {@linkcode RetrieveIdentifierError}.
 */
export async function readRetrieveIdentifier(
  dataSet: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | undefined,
  options: { transferSyntax: string; model: InformationModel },
): Promise<IndexQuery> {
  if (!dataSet) {
    throw new RetrieveIdentifierError(
      Status.DATA_SET_DOES_NOT_MATCH_SOP_CLASS_ERROR,
      "No identifier",
    );
  }
  let identifier: DataSet;
  try {
    identifier = (await readWholeDataSet(dataSet, { transferSyntax: options.transferSyntax }))
      .dataSet;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new RetrieveIdentifierError(Status.CANNOT_UNDERSTAND, `Identifier unreadable: ${why}`);
  }
  const levels = LEVELS[options.model];
  const levelText = textValues(identifier, QUERY_RETRIEVE_LEVEL_TAG)[0]?.toUpperCase();
  const at = levels.findIndex((l) => l.level === levelText);
  if (at < 0) {
    const allowed = levels.map((l) => l.level).join(", ");
    throw new RetrieveIdentifierError(
      Status.DATA_SET_DOES_NOT_MATCH_SOP_CLASS_ERROR,
      levelText === undefined
        ? "Query/Retrieve Level missing"
        : `Query/Retrieve Level ${levelText} is not one of ${allowed}`,
      tagNumber(QUERY_RETRIEVE_LEVEL_TAG),
    );
  }
  // The index reads the level from the identifier, as it does for C-FIND.
  const query: DataSet = {
    [QUERY_RETRIEVE_LEVEL_TAG]: { vr: "CS", Value: [levels[at].level] },
  };
  if (identifier[SPECIFIC_CHARACTER_SET_TAG]) {
    query[SPECIFIC_CHARACTER_SET_TAG] = identifier[SPECIFIC_CHARACTER_SET_TAG];
  }
  for (let i = 0; i <= at; i++) {
    const key = levels[i];
    const values = textValues(identifier, key.tag);
    const where = i === at ? "at" : "above";
    if (values.length === 0) {
      throw new RetrieveIdentifierError(
        Status.DATA_SET_DOES_NOT_MATCH_SOP_CLASS_ERROR,
        `${key.keyword} is required ${where} level ${levelText}`,
        tagNumber(key.tag),
      );
    }
    // PS3.4 C.4.2.1.4.1: a list only at the level of the retrieve, and never for Patient ID.
    if (values.length > 1 && (i < at || key.level === "PATIENT")) {
      throw new RetrieveIdentifierError(
        Status.DATA_SET_DOES_NOT_MATCH_SOP_CLASS_ERROR,
        `${key.keyword} must be a single value ${where} level ${levelText}`,
        tagNumber(key.tag),
      );
    }
    if (values.some((v) => /[*?]/.test(v))) {
      throw new RetrieveIdentifierError(
        Status.DATA_SET_DOES_NOT_MATCH_SOP_CLASS_ERROR,
        `${key.keyword} must not hold wildcards in a retrieve`,
        tagNumber(key.tag),
      );
    }
    query[key.tag] = { vr: key.level === "PATIENT" ? "LO" : "UI", Value: values };
  }
  return { model: options.model, level: levels[at].level, identifier: query };
}

/** An instance to transfer: where its file is and what it holds. */
export interface RetrieveInstance {
  /** Path of the Part 10 file, relative to the store folder. */
  path: string;
  /** SOP Class UID. */
  sopClassUid: string;
  /** SOP Instance UID. */
  sopInstanceUid: string;
  /** Transfer syntax of the file. */
  transferSyntaxUid: string;
}

/**
 * Every instance below the entities the query matches, once each, in the index's order. Only
 * what the transfer needs is kept, so a large retrieve holds no data sets in memory.
 */
export async function listRetrieveInstances(
  index: InstanceIndex,
  query: IndexQuery,
): Promise<RetrieveInstance[]> {
  const seen = new Set<string>();
  const out: RetrieveInstance[] = [];
  for await (const i of index.instances(query)) {
    if (seen.has(i.sopInstanceUid)) continue;
    seen.add(i.sopInstanceUid);
    out.push({
      path: i.path,
      sopClassUid: i.sopClassUid,
      sopInstanceUid: i.sopInstanceUid,
      transferSyntaxUid: i.transferSyntaxUid,
    });
  }
  return out;
}

/**
 * Transfer syntaxes worth proposing for an instance: its own first, then the uncompressed ones
 * it can be converted to on the way (explicit, then implicit VR little endian, PS3.5 §10.1).
 */
export function proposableTransferSyntaxes(transferSyntaxUid: string): string[] {
  const out = [transferSyntaxUid];
  if (isTranscodable(transferSyntaxUid)) {
    for (
      const ts of [
        TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN,
        TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN,
      ]
    ) {
      if (!out.includes(ts)) out.push(ts);
    }
  }
  return out;
}

/**
 * The accepted context to send an instance on: one for its SOP class in the file's own
 * transfer syntax, else one in a transfer syntax the file converts to; undefined when none.
 */
export function contextForInstance(
  accepted: readonly AcceptedPresentationContext[],
  instance: RetrieveInstance,
): AcceptedPresentationContext | undefined {
  const forClass = accepted.filter((c) => c.abstractSyntax === instance.sopClassUid);
  const same = forClass.find((c) => c.transferSyntax === instance.transferSyntaxUid);
  if (same) return same;
  if (!isTranscodable(instance.transferSyntaxUid)) return undefined;
  return forClass.find((c) => isTranscodeTarget(c.transferSyntax));
}

/** An instance's data set opened for sending; `close` releases the file whatever happened. */
export interface OpenedInstance {
  /** The data set in the requested transfer syntax, streamed from disk. */
  dataSet: AsyncIterable<Uint8Array>;
  /** Closes the file. */
  close(): void;
}

/**
 * Opens an instance's Part 10 file under `dir` and streams its data set (after the File Meta
 * Information) in `transferSyntaxUid`, converting it on the way when the file's differs.
 */
export async function openInstance(
  dir: string,
  instance: RetrieveInstance,
  transferSyntaxUid: string,
): Promise<OpenedInstance> {
  const file = await Deno.open(`${dir}/${instance.path}`, { read: true });
  const close = () => {
    try {
      file.close();
    } catch {
      // The stream closed it.
    }
  };
  try {
    const header = await readPart10Header(file.readable);
    const dataSet = header.transferSyntax.uid === transferSyntaxUid
      ? header.rest
      : transcodeDataSet(header.rest, { from: header.transferSyntax, to: transferSyntaxUid });
    return { dataSet, close };
  } catch (error) {
    close();
    throw error;
  }
}

const MAX_US = 0xffff;

/** Counts of the C-STORE sub-operations of one retrieve (PS3.4 C.4.2.1.6, C.4.3.1.6). */
export class SubOperationCounts {
  /** Sub-operations not yet started. */
  remaining: number;
  /** Completed with success. */
  completed = 0;
  /** Failed. */
  failed = 0;
  /** Completed with a warning. */
  warning = 0;
  /** SOP Instance UIDs of the failed sub-operations, in order. */
  readonly failedUids: string[] = [];

  /** Starts counting `total` sub-operations. */
  constructor(total: number) {
    this.remaining = total;
  }

  /** Records the C-STORE response status of one sub-operation. */
  record(sopInstanceUid: string, status: number): void {
    this.remaining = Math.max(0, this.remaining - 1);
    const category = statusCategory(status);
    if (category === "success") this.completed++;
    else if (category === "warning") this.warning++;
    else {
      this.failed++;
      this.failedUids.push(sopInstanceUid);
    }
  }

  /** The counts as response command fields; Remaining only when asked (pending, cancel). */
  fields(withRemaining: boolean): ServiceResponse["command"] {
    const command: ServiceResponse["command"] = {
      numberOfCompletedSuboperations: Math.min(this.completed, MAX_US),
      numberOfFailedSuboperations: Math.min(this.failed, MAX_US),
      numberOfWarningSuboperations: Math.min(this.warning, MAX_US),
    };
    if (withRemaining) command.numberOfRemainingSuboperations = Math.min(this.remaining, MAX_US);
    return command;
  }
}

/**
 * A final response of a retrieve (PS3.4 C.4.2.1.5, C.4.3.1.5): the counts and, for Cancel,
 * Warning and Failure, an identifier with the Failed SOP Instance UID List (0008,0058) in the
 * request's transfer syntax. `extraFailedUids` adds instances that were never sent (Cancel).
 */
export async function finalRetrieveResponse(
  status: number,
  counts: SubOperationCounts,
  options: { transferSyntax: string; errorComment?: string; extraFailedUids?: string[] },
): Promise<ServiceResponse> {
  const command = counts.fields(status === Status.CANCEL) ?? {};
  if (options.errorComment) command.errorComment = options.errorComment.slice(0, 64);
  if (status === Status.SUCCESS) return { status, command };
  const uids = [...counts.failedUids, ...(options.extraFailedUids ?? [])];
  const dataSet = await writeDataSet(
    { "00080058": { vr: "UI", Value: uids } },
    { transferSyntax: options.transferSyntax },
  );
  return { status, command, dataSet };
}

/** The status a retrieve ends with once every sub-operation ran (PS3.4 C.4.2.3.1). */
export function completionStatus(counts: SubOperationCounts): number {
  if (counts.failed === 0 && counts.warning === 0) return Status.SUCCESS;
  // Every sub-operation failed: nothing was transferred.
  if (counts.completed === 0 && counts.warning === 0) {
    return Status.OUT_OF_RESOURCES_UNABLE_TO_PERFORM_SUB_OPERATIONS;
  }
  return Status.SUB_OPERATIONS_COMPLETE_WITH_FAILURES;
}

/**
 * Runs the C-STORE sub-operations of a retrieve one after the other: `store` sends one instance
 * and resolves with the C-STORE response status (a throw counts as a failure and is logged).
 * A pending response with the counts follows every sub-operation but the last; a C-CANCEL
 * (the request's signal) stops before the next one and answers Cancel (PS3.4 C.4.2.3.1).
 */
export async function performSubOperations(
  request: ServiceRequest,
  instances: readonly RetrieveInstance[],
  store: (instance: RetrieveInstance) => Promise<number>,
  log: (line: string) => void,
  counts: SubOperationCounts = new SubOperationCounts(instances.length),
): Promise<ServiceResponse> {
  for (let i = 0; i < instances.length; i++) {
    if (request.signal.aborted) {
      return await finalRetrieveResponse(Status.CANCEL, counts, {
        transferSyntax: request.transferSyntax,
        extraFailedUids: instances.slice(i).map((x) => x.sopInstanceUid),
      });
    }
    const instance = instances[i];
    let status: number;
    try {
      status = await store(instance);
    } catch (error) {
      log(`${instance.sopInstanceUid} not sent: ${errorMessageOf(error)}`);
      status = Status.PROCESSING_FAILURE;
    }
    counts.record(instance.sopInstanceUid, status);
    if (i < instances.length - 1) {
      await request.sendPending({ status: Status.PENDING, command: counts.fields(true) });
    }
  }
  return await finalRetrieveResponse(completionStatus(counts), counts, {
    transferSyntax: request.transferSyntax,
  });
}

/** The refusal for a bad identifier, with its Error Comment and Offending Element. */
export function identifierRefusal(error: RetrieveIdentifierError): ServiceResponse {
  const command: ServiceResponse["command"] = { errorComment: error.message.slice(0, 64) };
  if (error.offendingElement !== undefined) command.offendingElement = [error.offendingElement];
  return { status: error.status, command };
}

/**
 * Reads a C-MOVE or C-GET identifier and lists the instances it selects. Resolves with the
 * instances, or with the response that refuses the request: the identifier's refusal
 * ({@linkcode identifierRefusal}), or A701 "Cannot list the instances to send" (or "to move",
 * after `verb`), also logged, when the index cannot list them (PS3.4 C.4.2.1.5, C.4.3.1.5).
 */
export async function selectRetrieveInstances(
  request: ServiceRequest,
  options: {
    model: InformationModel;
    index: InstanceIndex;
    verb: "send" | "move";
    log: (line: string) => void;
  },
): Promise<{ instances: RetrieveInstance[] } | { refusal: ServiceResponse }> {
  try {
    const query = await readRetrieveIdentifier(request.dataSet, {
      transferSyntax: request.transferSyntax,
      model: options.model,
    });
    return { instances: await listRetrieveInstances(options.index, query) };
  } catch (error) {
    if (error instanceof RetrieveIdentifierError) return { refusal: identifierRefusal(error) };
    options.log(`cannot list the instances to ${options.verb}: ${errorMessageOf(error)}`);
    return {
      refusal: {
        status: Status.OUT_OF_RESOURCES_UNABLE_TO_CALCULATE_NUMBER_OF_MATCHES,
        command: { errorComment: `Cannot list the instances to ${options.verb}` },
      },
    };
  }
}

/** Who asked for a C-MOVE, named in each of its C-STORE sub-operations (PS3.4 C.4.2.2). */
export interface MoveOriginator {
  /** Move Originator Application Entity Title: the calling AE title of the C-MOVE. */
  aeTitle: string;
  /** Move Originator Message ID: the Message ID of the C-MOVE-RQ. */
  messageId?: number;
}

/** Options of {@linkcode storeSubOperation}. */
export interface StoreSubOperationOptions {
  /** The store folder the instance's path is relative to. */
  dir: string;
  /** The retrieve's priority; default medium. */
  priority?: number;
  /** For a C-MOVE, who asked for it. */
  moveOriginator?: MoveOriginator;
  /** Sends the C-STORE-RQ with the data set on the context and resolves with the response. */
  send(
    command: CommandSet,
    options: { dataSet: AsyncIterable<Uint8Array>; presentationContextId: number },
  ): Promise<DimseResponse>;
}

/**
 * Sends one instance as a C-STORE sub-operation (PS3.4 C.4.2.2, C.4.3.2) on an accepted
 * context: opens its file in the context's transfer syntax, sends the C-STORE-RQ, closes the
 * file, and resolves with the response status (Processing Failure when it has none).
 */
export async function storeSubOperation(
  instance: RetrieveInstance,
  context: AcceptedPresentationContext,
  options: StoreSubOperationOptions,
): Promise<number> {
  const command: CommandSet = {
    commandField: CommandField.C_STORE_RQ,
    affectedSopClassUid: instance.sopClassUid,
    affectedSopInstanceUid: instance.sopInstanceUid,
    priority: options.priority ?? Priority.MEDIUM,
    commandDataSetType: DATA_SET_PRESENT,
  };
  if (options.moveOriginator) {
    command.moveOriginatorApplicationEntityTitle = options.moveOriginator.aeTitle;
    command.moveOriginatorMessageId = options.moveOriginator.messageId;
  }
  const opened = await openInstance(options.dir, instance, context.transferSyntax);
  try {
    const response = await options.send(command, {
      dataSet: opened.dataSet,
      presentationContextId: context.presentationContextId,
    });
    return response.command.status ?? Status.PROCESSING_FAILURE;
  } finally {
    opened.close();
  }
}

/** The log line that ends a retrieve: its final status and counts. */
export function retrieveSummary(status: number, counts: SubOperationCounts): string {
  return `status ${
    status.toString(16).padStart(4, "0")
  }, ${counts.completed} completed, ${counts.failed} failed, ${counts.warning} warning`;
}

/** An error's message, for log lines. */
export function errorMessageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
