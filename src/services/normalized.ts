/**
 * The handler API for normalized SOP classes (DIMSE-N, PS3.7 §10): one handler per DIMSE-N
 * service per SOP class. The service checks the command, reads the request's data set into the
 * DICOM JSON model, calls the handler and encodes its answer; what the standard leaves to the
 * performer (PS3.7 Annex C statuses for unknown classes, operations and instances) is answered
 * here.
 *
 * @module
 */
import { CommandField, type CommandSet } from "../dimse/command.ts";
import { Status } from "../dimse/status.ts";
import type { DataSet } from "../dataset/dataset.ts";
import { readWholeDataSet } from "../dataset/reader.ts";
import { writeDataSet } from "../dataset/writer.ts";
import { generateUid, isValidUid } from "../ul/uids.ts";
import { type DataSetInput, toDataSet } from "./normalized_scu.ts";
import {
  type AssociationInfo,
  DEFAULT_TRANSFER_SYNTAXES,
  type Service,
  type ServiceRequest,
  type ServiceResponse,
} from "./service.ts";

/** The DIMSE-N services, by the names of their handlers. */
export type NormalizedOperation =
  | "nEventReport"
  | "nGet"
  | "nSet"
  | "nAction"
  | "nCreate"
  | "nDelete";

const OPERATIONS: Readonly<Record<number, NormalizedOperation>> = {
  [CommandField.N_EVENT_REPORT_RQ]: "nEventReport",
  [CommandField.N_GET_RQ]: "nGet",
  [CommandField.N_SET_RQ]: "nSet",
  [CommandField.N_ACTION_RQ]: "nAction",
  [CommandField.N_CREATE_RQ]: "nCreate",
  [CommandField.N_DELETE_RQ]: "nDelete",
};

/** A DIMSE-N indication as a handler receives it. */
export interface NormalizedRequest {
  /** Which DIMSE-N service was invoked. */
  operation: NormalizedOperation;
  /** The request command set as received. */
  command: CommandSet;
  /** Affected (N-EVENT-REPORT, N-CREATE) or Requested SOP Class UID. */
  sopClassUid: string;
  /**
   * Affected or Requested SOP Instance UID; for an N-CREATE that named none, the UID assigned
   * here (2.25 form), which the response returns.
   */
  sopInstanceUid: string;
  /** Event Type ID (N-EVENT-REPORT). */
  eventTypeId?: number;
  /** Action Type ID (N-ACTION). */
  actionTypeId?: number;
  /** Attribute Identifier List (N-GET): tags as numbers; empty asks for every attribute. */
  attributeIdentifierList?: number[];
  /**
   * The request's data set in the DICOM JSON model: Event Information, Modification List,
   * Action Information or Attribute List.
   */
  dataSet?: DataSet;
  /** Transfer syntax of the presentation context. */
  transferSyntax: string;
  /**
   * The association, usable after the response has been sent (`invoke`, `open`, `closed`), e.g.
   * to send an N-EVENT-REPORT later.
   */
  association: AssociationInfo;
  /** Aborted when the association ends. */
  signal: AbortSignal;
}

/** A handler's answer: the response primitive's parameters (PS3.7 §10.1). */
export interface NormalizedResponse {
  /** DIMSE status (PS3.7 Annex C, or the SOP class's own). */
  status: number;
  /** Affected SOP Instance UID; default the request's instance (or the one assigned). */
  affectedSopInstanceUid?: string;
  /** Attribute List, Action Reply or Event Reply. */
  dataSet?: DataSetInput;
  /** Error Comment (LO, cut to 64 characters). */
  errorComment?: string;
  /** Error ID. */
  errorId?: number;
  /** Offending Element: tags as numbers. */
  offendingElement?: number[];
  /** Attribute Identifier List (with 0107 Attribute list error, or 0105). */
  attributeIdentifierList?: number[];
}

/** Handles one DIMSE-N service for one SOP class. */
export type NormalizedHandler = (
  request: NormalizedRequest,
) => NormalizedResponse | Promise<NormalizedResponse>;

/** One SOP class served: its UID and a handler per DIMSE-N service it supports. */
export interface NormalizedSopClass {
  /** The SOP class UID (also the abstract syntax accepted). */
  uid: string;
  /** Accepted transfer syntaxes; default explicit then implicit VR little endian. */
  transferSyntaxes?: readonly string[];
  /** We act as SCP for it (the peer invokes); default true. */
  scpRole?: boolean;
  /** We act as SCU for it (we invoke, e.g. N-EVENT-REPORT of the peer); default false. */
  scuRole?: boolean;
  /** N-EVENT-REPORT (PS3.7 §10.1.1). */
  nEventReport?: NormalizedHandler;
  /** N-GET (PS3.7 §10.1.2). */
  nGet?: NormalizedHandler;
  /** N-SET (PS3.7 §10.1.3). */
  nSet?: NormalizedHandler;
  /** N-ACTION (PS3.7 §10.1.4). */
  nAction?: NormalizedHandler;
  /** N-CREATE (PS3.7 §10.1.5). */
  nCreate?: NormalizedHandler;
  /** N-DELETE (PS3.7 §10.1.6). */
  nDelete?: NormalizedHandler;
}

/** Options of {@linkcode normalizedService}. */
export interface NormalizedServiceOptions {
  /** Name for totals and logs. */
  name: string;
  /** The SOP classes served. */
  sopClasses: readonly NormalizedSopClass[];
  /**
   * Largest request data set read, in bytes (they are read whole); beyond it the request is
   * refused with 0213 Resource limitation. Default 16 MiB.
   */
  maxDataSetLength?: number;
}

/**
 * A handler's refusal carrying the status to answer with (PS3.7 Annex C): throw it from a
 * handler instead of returning `{ status, errorComment }`.
 */
export class DimseStatusError extends Error {
  /** The status of the response. */
  readonly status: number;
  /** Offending Element, when one is to blame. */
  readonly offendingElement?: number[];
  /** Creates the error; the message becomes the Error Comment. */
  constructor(status: number, message: string, options: { offendingElement?: number[] } = {}) {
    super(message);
    this.name = "DimseStatusError";
    this.status = status;
    if (options.offendingElement) this.offendingElement = options.offendingElement;
  }
}

const DEFAULT_MAX_DATA_SET_LENGTH = 16 * 1024 * 1024;

/** Reads a data set stream whole, refusing one longer than `limit` bytes. */
async function readLimited(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array | undefined> {
  const parts: Uint8Array[] = [];
  let length = 0;
  const reader = stream.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      length += value.length;
      if (length > limit) {
        await reader.cancel();
        return undefined;
      }
      parts.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function failure(status: number, errorComment?: string): ServiceResponse {
  return errorComment === undefined
    ? { status }
    : { status, command: { errorComment: errorComment.slice(0, 64) } };
}

/**
 * A service for normalized SOP classes: each request goes to the handler its SOP class has
 * for its DIMSE-N service. Answers, without calling a handler: 0211 Unrecognized operation for
 * a service the SOP class has no handler for (and for DIMSE-C requests), 0118 No such SOP
 * Class for a SOP class it does not serve, 0122 SOP class not supported for one it serves on
 * another presentation context, 0117 Invalid object instance for a missing or malformed SOP
 * Instance UID, 0210 Duplicate invocation for a Message ID already being performed on the
 * association, 0213 Resource limitation for a data set over `maxDataSetLength`. A handler
 * that throws {@linkcode DimseStatusError} answers its status; any other error answers 0110
 * Processing failure with the error as Error Comment. An N-CREATE without Affected SOP
 * Instance UID gets one assigned (2.25 form), returned in the response (PS3.7 §10.1.5.1.2).
 */
export function normalizedService(options: NormalizedServiceOptions): Service {
  const byUid = new Map<string, NormalizedSopClass>();
  for (const c of options.sopClasses) byUid.set(c.uid, c);
  const maxLength = options.maxDataSetLength ?? DEFAULT_MAX_DATA_SET_LENGTH;
  // Message IDs being performed, per association (PS3.7 C.5.17).
  const performing = new Map<number, Set<number>>();
  return {
    name: options.name,
    sopClasses: options.sopClasses.map((c) => ({
      abstractSyntax: c.uid,
      transferSyntaxes: c.transferSyntaxes ?? DEFAULT_TRANSFER_SYNTAXES,
      scpRole: c.scpRole,
      scuRole: c.scuRole,
    })),
    async handle(request: ServiceRequest): Promise<ServiceResponse> {
      const command = request.command;
      const operation = OPERATIONS[command.commandField];
      if (operation === undefined) return failure(Status.UNRECOGNIZED_OPERATION);
      const messageId = command.messageId ?? 0;
      const associationId = request.association.id;
      let ids = performing.get(associationId);
      if (ids?.has(messageId)) {
        return failure(
          Status.DUPLICATE_INVOCATION,
          `Message ID ${messageId} is already being performed`,
        );
      }
      if (!ids) {
        performing.set(associationId, ids = new Set());
        request.association.closed.then(() => performing.delete(associationId));
      }
      ids.add(messageId);
      try {
        return await perform(request, operation);
      } finally {
        ids.delete(messageId);
      }
    },
  };

  async function perform(
    request: ServiceRequest,
    operation: NormalizedOperation,
  ): Promise<ServiceResponse> {
    const command = request.command;
    const affected = operation === "nEventReport" || operation === "nCreate";
    const sopClassUid = (affected ? command.affectedSopClassUid : command.requestedSopClassUid) ??
      "";
    let sopInstanceUid =
      (affected ? command.affectedSopInstanceUid : command.requestedSopInstanceUid) ?? "";
    const sopClass = byUid.get(sopClassUid);
    if (!sopClass) {
      return failure(Status.NO_SUCH_SOP_CLASS, `SOP class ${sopClassUid} is not served`);
    }
    // A SOP class is used on its own presentation context (PS3.7 §9.1.1.1).
    if (sopClassUid !== request.abstractSyntax) {
      return failure(
        Status.SOP_CLASS_NOT_SUPPORTED,
        `SOP class ${sopClassUid} is not supported on this presentation context`,
      );
    }
    const handler = sopClass[operation];
    if (!handler) return failure(Status.UNRECOGNIZED_OPERATION);
    if (operation === "nCreate" && command.affectedSopInstanceUid === undefined) {
      sopInstanceUid = generateUid();
    } else if (!isValidUid(sopInstanceUid)) {
      return failure(
        Status.INVALID_OBJECT_INSTANCE,
        sopInstanceUid === "" ? "SOP Instance UID missing" : "SOP Instance UID is not a valid UID",
      );
    }
    let dataSet: DataSet | undefined;
    if (request.dataSet) {
      const bytes = await readLimited(request.dataSet, maxLength);
      if (bytes === undefined) {
        return failure(
          Status.RESOURCE_LIMITATION,
          `Data set longer than ${maxLength} bytes`,
        );
      }
      try {
        dataSet = (await readWholeDataSet([bytes], {
          transferSyntax: request.transferSyntax,
        })).dataSet;
      } catch (e) {
        return failure(
          Status.PROCESSING_FAILURE,
          `Data set not readable: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
    const indication: NormalizedRequest = {
      operation,
      command,
      sopClassUid,
      sopInstanceUid,
      transferSyntax: request.transferSyntax,
      association: request.association,
      signal: request.signal,
    };
    if (command.eventTypeId !== undefined) indication.eventTypeId = command.eventTypeId;
    if (command.actionTypeId !== undefined) indication.actionTypeId = command.actionTypeId;
    if (operation === "nGet") {
      indication.attributeIdentifierList = command.attributeIdentifierList ?? [];
    }
    if (dataSet !== undefined) indication.dataSet = dataSet;
    let answer: NormalizedResponse;
    try {
      answer = await handler(indication);
    } catch (e) {
      if (e instanceof DimseStatusError) {
        answer = { status: e.status, errorComment: e.message };
        if (e.offendingElement) answer.offendingElement = e.offendingElement;
      } else {
        answer = {
          status: Status.PROCESSING_FAILURE,
          errorComment: e instanceof Error ? e.message : String(e),
        };
      }
    }
    return await responseOf(answer, indication);
  }
}

/** The response command fields and data set of a handler's answer (PS3.7 §10.3). */
async function responseOf(
  answer: NormalizedResponse,
  request: NormalizedRequest,
): Promise<ServiceResponse> {
  const command: NonNullable<ServiceResponse["command"]> = {
    affectedSopClassUid: request.sopClassUid,
    affectedSopInstanceUid: answer.affectedSopInstanceUid ?? request.sopInstanceUid,
  };
  // PS3.7 §10.3.1, §10.3.4: the Event/Action Type ID is echoed in the response.
  if (request.operation === "nEventReport") command.eventTypeId = request.eventTypeId;
  if (request.operation === "nAction") command.actionTypeId = request.actionTypeId;
  if (answer.errorComment !== undefined) command.errorComment = answer.errorComment.slice(0, 64);
  if (answer.errorId !== undefined) command.errorId = answer.errorId;
  if (answer.offendingElement !== undefined) command.offendingElement = answer.offendingElement;
  if (answer.attributeIdentifierList !== undefined) {
    command.attributeIdentifierList = answer.attributeIdentifierList;
  }
  const response: ServiceResponse = { status: answer.status, command };
  if (answer.dataSet !== undefined) {
    response.dataSet = await writeDataSet(toDataSet(answer.dataSet), {
      transferSyntax: request.transferSyntax,
    });
  }
  return response;
}
