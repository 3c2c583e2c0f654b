/**
 * The DIMSE-N services as invoker (PS3.7 §10.1): N-EVENT-REPORT, N-GET, N-SET, N-ACTION,
 * N-CREATE and N-DELETE, each sent on an open association (a client `Association` or, on the
 * SCP side, the association of a served request) with its data set in the DICOM JSON model or
 * keyword form, encoded in the transfer syntax of the presentation context used.
 *
 * @module
 */
import { CommandField, type CommandSet } from "../dimse/command.ts";
import type { DimseResponse } from "../dimse/dispatcher.ts";
import { type DataSet, fromKeywords, type KeywordDataSet } from "../dataset/dataset.ts";
import { tagOf } from "../dataset/dictionary.ts";
import { readWholeDataSet } from "../dataset/reader.ts";
import { parseTag } from "../dataset/tag.ts";
import { writeDataSet } from "../dataset/writer.ts";
import type { DimseInvoker, InvokeOptions } from "./service.ts";

/** A data set given to a DIMSE-N request: the DICOM JSON model or keyword form. */
export type DataSetInput = DataSet | KeywordDataSet;

/** Options shared by every DIMSE-N request. */
export interface NormalizedRequestOptions {
  /** The context to send on; by default the first accepted one for the SOP class. */
  presentationContextId?: number;
  /** The Message ID; assigned when absent. */
  messageId?: number;
  /** Response timeout in ms; default the association's DIMSE timeout. */
  timeoutMs?: number;
}

/** The confirmation of a DIMSE-N request. */
export interface NormalizedResult {
  /** The response status (PS3.7 Annex C). */
  status: number;
  /** The whole response command set (Affected SOP Instance UID, Error Comment, …). */
  command: CommandSet;
  /**
   * The response's data set, decoded: Attribute List (N-GET, N-SET, N-CREATE), Action Reply
   * (N-ACTION) or Event Reply (N-EVENT-REPORT).
   */
  dataSet?: DataSet;
}

/** N-EVENT-REPORT request parameters (PS3.7 §10.1.1.1). */
export interface NEventReportRequest {
  /** Affected SOP Class UID. */
  affectedSopClassUid: string;
  /** Affected SOP Instance UID. */
  affectedSopInstanceUid: string;
  /** Event Type ID. */
  eventTypeId: number;
  /** Event Information. */
  eventInformation?: DataSetInput;
}

/** N-GET request parameters (PS3.7 §10.1.2.1). */
export interface NGetRequest {
  /** Requested SOP Class UID. */
  requestedSopClassUid: string;
  /** Requested SOP Instance UID. */
  requestedSopInstanceUid: string;
  /**
   * Attribute Identifier List: tags as numbers (`0x00100010`), keywords or `ggggeeee`; absent
   * or empty asks for every attribute.
   */
  attributeIdentifierList?: (number | string)[];
}

/** N-SET request parameters (PS3.7 §10.1.3.1). */
export interface NSetRequest {
  /** Requested SOP Class UID. */
  requestedSopClassUid: string;
  /** Requested SOP Instance UID. */
  requestedSopInstanceUid: string;
  /** Modification List: the attributes and their new values. */
  modificationList: DataSetInput;
}

/** N-ACTION request parameters (PS3.7 §10.1.4.1). */
export interface NActionRequest {
  /** Requested SOP Class UID. */
  requestedSopClassUid: string;
  /** Requested SOP Instance UID. */
  requestedSopInstanceUid: string;
  /** Action Type ID. */
  actionTypeId: number;
  /** Action Information. */
  actionInformation?: DataSetInput;
}

/** N-CREATE request parameters (PS3.7 §10.1.5.1). */
export interface NCreateRequest {
  /** Affected SOP Class UID. */
  affectedSopClassUid: string;
  /** Affected SOP Instance UID; absent lets the performer assign one (returned in the response). */
  affectedSopInstanceUid?: string;
  /** Attribute List: the initial values. */
  attributeList?: DataSetInput;
}

/** N-DELETE request parameters (PS3.7 §10.1.6.1). */
export interface NDeleteRequest {
  /** Requested SOP Class UID. */
  requestedSopClassUid: string;
  /** Requested SOP Instance UID. */
  requestedSopInstanceUid: string;
}

/** A DIMSE-N request could not be sent as given (bad attribute identifier, no context). */
export class NormalizedRequestError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "NormalizedRequestError";
  }
}

const JSON_KEY = /^[0-9A-Fa-f]{8}$/;

/** Whether a data set is in the DICOM JSON model (eight-hex-digit keys with a `vr`) rather than keyword form. */
export function isJsonModel(dataSet: DataSetInput): dataSet is DataSet {
  return Object.entries(dataSet).every(([key, value]) =>
    JSON_KEY.test(key) && typeof value === "object" && value !== null &&
    !Array.isArray(value) && !(value instanceof Uint8Array) &&
    typeof (value as { vr?: unknown }).vr === "string"
  );
}

/** The data set in the DICOM JSON model, converting keyword form through the dictionary. */
export function toDataSet(dataSet: DataSetInput): DataSet {
  return isJsonModel(dataSet) ? dataSet : fromKeywords(dataSet as KeywordDataSet);
}

/** Resolves an attribute identifier given as a tag number, keyword or `ggggeeee`. */
export function attributeTag(identifier: number | string): number {
  if (typeof identifier === "number") {
    if (Number.isInteger(identifier) && identifier >= 0 && identifier <= 0xffffffff) {
      return identifier;
    }
  } else {
    const tag = tagOf(identifier) ?? (JSON_KEY.test(identifier) ? parseTag(identifier) : undefined);
    if (tag !== undefined) return tag;
  }
  throw new NormalizedRequestError(`Attribute identifier ${identifier} is not a tag or keyword`);
}

/** The context for a request and its transfer syntax. */
function contextFor(
  target: DimseInvoker,
  abstractSyntax: string,
  presentationContextId?: number,
): { presentationContextId: number; transferSyntax: string } {
  const pc = target.negotiated.accepted.find((c) =>
    presentationContextId === undefined
      ? c.abstractSyntax === abstractSyntax
      : c.presentationContextId === presentationContextId
  );
  if (!pc) {
    throw new NormalizedRequestError(
      presentationContextId === undefined
        ? `No accepted presentation context for ${abstractSyntax}`
        : `Presentation context ${presentationContextId} is not accepted`,
    );
  }
  return { presentationContextId: pc.presentationContextId, transferSyntax: pc.transferSyntax };
}

/** Decodes a response data set in the transfer syntax of its context. */
export async function decodeResponseDataSet(
  bytes: Uint8Array,
  transferSyntax: string,
): Promise<DataSet> {
  return (await readWholeDataSet([bytes], { transferSyntax })).dataSet;
}

async function send(
  target: DimseInvoker,
  abstractSyntax: string,
  command: CommandSet,
  dataSet: DataSetInput | undefined,
  options: NormalizedRequestOptions,
): Promise<NormalizedResult> {
  const pc = contextFor(target, abstractSyntax, options.presentationContextId);
  const invokeOptions: InvokeOptions = { presentationContextId: pc.presentationContextId };
  if (options.timeoutMs !== undefined) invokeOptions.timeoutMs = options.timeoutMs;
  if (dataSet !== undefined) {
    invokeOptions.dataSet = await writeDataSet(toDataSet(dataSet), {
      transferSyntax: pc.transferSyntax,
    });
  }
  if (options.messageId !== undefined) command.messageId = options.messageId;
  const response: DimseResponse = await target.invoke(abstractSyntax, command, invokeOptions);
  const result: NormalizedResult = {
    status: response.command.status ?? 0,
    command: response.command,
  };
  if (response.dataSet !== undefined) {
    result.dataSet = await decodeResponseDataSet(response.dataSet, pc.transferSyntax);
  }
  return result;
}

/** N-EVENT-REPORT (PS3.7 §10.1.1): reports an event of a SOP instance to the peer. */
export function nEventReport(
  target: DimseInvoker,
  request: NEventReportRequest,
  options: NormalizedRequestOptions = {},
): Promise<NormalizedResult> {
  return send(
    target,
    request.affectedSopClassUid,
    {
      commandField: CommandField.N_EVENT_REPORT_RQ,
      affectedSopClassUid: request.affectedSopClassUid,
      affectedSopInstanceUid: request.affectedSopInstanceUid,
      eventTypeId: request.eventTypeId,
      commandDataSetType: 0x0101,
    },
    request.eventInformation,
    options,
  );
}

/** N-GET (PS3.7 §10.1.2): retrieves attribute values of a SOP instance. */
export function nGet(
  target: DimseInvoker,
  request: NGetRequest,
  options: NormalizedRequestOptions = {},
): Promise<NormalizedResult> {
  const command: CommandSet = {
    commandField: CommandField.N_GET_RQ,
    requestedSopClassUid: request.requestedSopClassUid,
    requestedSopInstanceUid: request.requestedSopInstanceUid,
    commandDataSetType: 0x0101,
  };
  try {
    if (request.attributeIdentifierList && request.attributeIdentifierList.length > 0) {
      command.attributeIdentifierList = request.attributeIdentifierList.map(attributeTag);
    }
  } catch (e) {
    return Promise.reject(e);
  }
  return send(target, request.requestedSopClassUid, command, undefined, options);
}

/** N-SET (PS3.7 §10.1.3): modifies attribute values of a SOP instance. */
export function nSet(
  target: DimseInvoker,
  request: NSetRequest,
  options: NormalizedRequestOptions = {},
): Promise<NormalizedResult> {
  return send(
    target,
    request.requestedSopClassUid,
    {
      commandField: CommandField.N_SET_RQ,
      requestedSopClassUid: request.requestedSopClassUid,
      requestedSopInstanceUid: request.requestedSopInstanceUid,
      commandDataSetType: 0x0101,
    },
    request.modificationList,
    options,
  );
}

/** N-ACTION (PS3.7 §10.1.4): asks the peer to perform an action on a SOP instance. */
export function nAction(
  target: DimseInvoker,
  request: NActionRequest,
  options: NormalizedRequestOptions = {},
): Promise<NormalizedResult> {
  return send(
    target,
    request.requestedSopClassUid,
    {
      commandField: CommandField.N_ACTION_RQ,
      requestedSopClassUid: request.requestedSopClassUid,
      requestedSopInstanceUid: request.requestedSopInstanceUid,
      actionTypeId: request.actionTypeId,
      commandDataSetType: 0x0101,
    },
    request.actionInformation,
    options,
  );
}

/** N-CREATE (PS3.7 §10.1.5): creates a SOP instance; the response names it. */
export function nCreate(
  target: DimseInvoker,
  request: NCreateRequest,
  options: NormalizedRequestOptions = {},
): Promise<NormalizedResult> {
  const command: CommandSet = {
    commandField: CommandField.N_CREATE_RQ,
    affectedSopClassUid: request.affectedSopClassUid,
    commandDataSetType: 0x0101,
  };
  if (request.affectedSopInstanceUid !== undefined) {
    command.affectedSopInstanceUid = request.affectedSopInstanceUid;
  }
  return send(target, request.affectedSopClassUid, command, request.attributeList, options);
}

/** N-DELETE (PS3.7 §10.1.6): deletes a SOP instance. */
export function nDelete(
  target: DimseInvoker,
  request: NDeleteRequest,
  options: NormalizedRequestOptions = {},
): Promise<NormalizedResult> {
  return send(
    target,
    request.requestedSopClassUid,
    {
      commandField: CommandField.N_DELETE_RQ,
      requestedSopClassUid: request.requestedSopClassUid,
      requestedSopInstanceUid: request.requestedSopInstanceUid,
      commandDataSetType: 0x0101,
    },
    undefined,
    options,
  );
}
