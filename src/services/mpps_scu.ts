/**
 * Modality Performed Procedure Step as SCU (PS3.4 F.7, F.8): builds the N-CREATE attribute
 * list of Table F.7.2-1 from a few values, and sends N-CREATE, N-SET and N-GET.
 *
 * @module
 */
import { type DataSet, fromKeywords, type KeywordDataSet } from "../dataset/dataset.ts";
import { generateUid } from "../ul/uids.ts";
import {
  type DataSetInput,
  nCreate,
  nGet,
  type NormalizedRequestOptions,
  type NormalizedResult,
  nSet,
  toDataSet,
} from "./normalized_scu.ts";
import { MPPS_RETRIEVE_SOP_CLASS, MPPS_SOP_CLASS, PerformedProcedureStepStatus } from "./mpps.ts";
import type { DimseInvoker } from "./service.ts";

/** Keywords that belong in the Scheduled Step Attribute Sequence item (PS3.4 Table F.7.2-1). */
export const SCHEDULED_STEP_KEYWORDS: readonly string[] = [
  "StudyInstanceUID",
  "AccessionNumber",
  "ReferencedStudySequence",
  "RequestedProcedureID",
  "RequestedProcedureDescription",
  "ScheduledProcedureStepID",
  "ScheduledProcedureStepDescription",
  "ScheduledProtocolCodeSequence",
];

/** DICOM DA and TM of a moment, in local time (PS3.5 §6.2). */
export function dicomDateTime(at: Date = new Date()): { date: string; time: string } {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return {
    date: `${at.getFullYear()}${p(at.getMonth() + 1)}${p(at.getDate())}`,
    time: `${p(at.getHours())}${p(at.getMinutes())}${p(at.getSeconds())}`,
  };
}

/** Options of {@linkcode mppsCreateAttributes}. */
export interface MppsCreateAttributesOptions {
  /** Performed Station AE Title when not given; default "DIMSE-SCU". */
  aeTitle?: string;
  /** Start moment when not given; default now. */
  now?: Date;
}

/**
 * The Attribute List of an MPPS N-CREATE (PS3.4 Table F.7.2-1): every type 1 and type 2
 * attribute, with `values` (keyword form) winning over the defaults. Keywords of the Scheduled
 * Step Attribute Sequence item ({@linkcode SCHEDULED_STEP_KEYWORDS}) go into its one item;
 * Performed Procedure Step Status is IN PROGRESS; a missing Study Instance UID is generated.
 */
export function mppsCreateAttributes(
  values: KeywordDataSet = {},
  options: MppsCreateAttributesOptions = {},
): DataSet {
  const { date, time } = dicomDateTime(options.now);
  const item: KeywordDataSet = {
    StudyInstanceUID: generateUid(),
    AccessionNumber: "",
    ReferencedStudySequence: [],
    RequestedProcedureID: "",
    RequestedProcedureDescription: "",
    ScheduledProcedureStepID: "",
    ScheduledProcedureStepDescription: "",
    ScheduledProtocolCodeSequence: [],
  };
  const top: KeywordDataSet = {
    PatientName: "",
    PatientID: "",
    PatientBirthDate: "",
    PatientSex: "",
    PerformedProcedureStepID: String(Date.now() % 1e10),
    PerformedStationAETitle: options.aeTitle ?? "DIMSE-SCU",
    PerformedStationName: "",
    PerformedLocation: "",
    PerformedProcedureStepStartDate: date,
    PerformedProcedureStepStartTime: time,
    PerformedProcedureStepEndDate: "",
    PerformedProcedureStepEndTime: "",
    PerformedProcedureStepStatus: PerformedProcedureStepStatus.IN_PROGRESS,
    PerformedProcedureStepDescription: "",
    PerformedProcedureTypeDescription: "",
    ProcedureCodeSequence: [],
    Modality: "OT",
    StudyID: "",
    PerformedProtocolCodeSequence: [],
    PerformedSeriesSequence: [],
  };
  for (const [keyword, value] of Object.entries(values)) {
    if (SCHEDULED_STEP_KEYWORDS.includes(keyword)) item[keyword] = value;
    else top[keyword] = value;
  }
  if (!("ScheduledStepAttributesSequence" in values)) {
    top.ScheduledStepAttributesSequence = [item];
  }
  return fromKeywords(top);
}

/** N-CREATE of an MPPS instance (PS3.4 F.7.2.1); the response names the instance. */
export function createMpps(
  target: DimseInvoker,
  attributeList: DataSetInput,
  options: NormalizedRequestOptions & { sopInstanceUid?: string } = {},
): Promise<NormalizedResult> {
  return nCreate(target, {
    affectedSopClassUid: MPPS_SOP_CLASS,
    affectedSopInstanceUid: options.sopInstanceUid,
    attributeList: toDataSet(attributeList),
  }, options);
}

/** N-SET of an MPPS instance (PS3.4 F.7.2.2). */
export function setMpps(
  target: DimseInvoker,
  request: { sopInstanceUid: string; modificationList: DataSetInput },
  options: NormalizedRequestOptions = {},
): Promise<NormalizedResult> {
  return nSet(target, {
    requestedSopClassUid: MPPS_SOP_CLASS,
    requestedSopInstanceUid: request.sopInstanceUid,
    modificationList: request.modificationList,
  }, options);
}

/** N-GET of an MPPS instance through the MPPS Retrieve SOP Class (PS3.4 F.8). */
export function getMpps(
  target: DimseInvoker,
  sopInstanceUid: string,
  options: NormalizedRequestOptions & { attributeIdentifierList?: (number | string)[] } = {},
): Promise<NormalizedResult> {
  return nGet(target, {
    requestedSopClassUid: MPPS_RETRIEVE_SOP_CLASS,
    requestedSopInstanceUid: sopInstanceUid,
    attributeIdentifierList: options.attributeIdentifierList,
  }, options);
}
