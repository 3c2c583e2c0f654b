/**
 * The Query/Retrieve service class as SCU (PS3.4 Annex C) and the Modality Worklist query
 * (PS3.4 Annex K): C-FIND (PS3.7 §9.1.2) as an async iterator of matches, C-MOVE (§9.1.4) and
 * C-GET (§9.1.3) with progress from the sub-operation counts of their pending responses, and
 * C-CANCEL-RQ (§9.3.2.3) when an AbortSignal fires. For C-GET the instances come back as
 * C-STORE sub-operations on the same association: {@linkcode getConnectOptions} proposes the
 * Storage SOP classes with SCP/SCU Role Selection (PS3.7 Annex D.3.3.4) and the receiving
 * service, {@linkcode getReceiver}, hands each instance to the running C-GET.
 *
 * @module
 */
import { CommandField, type CommandSet, Priority } from "../dimse/command.ts";
import type { DimseResponse } from "../dimse/dispatcher.ts";
import type { DataSetSource } from "../dimse/message.ts";
import { Status, statusCategory, statusHex } from "../dimse/status.ts";
import { type DataSet, fromKeywords, type KeywordDataSet } from "../dataset/dataset.ts";
import { readWholeDataSet } from "../dataset/reader.ts";
import { STORAGE_SOP_CLASSES } from "../dataset/storage_sop_classes.ts";
import { writeDataSet } from "../dataset/writer.ts";
import type { NegotiatedAssociation } from "../ul/negotiation.ts";
import type { ScpScuRoleSelection } from "../ul/pdu.ts";
import { TransferSyntax } from "../ul/uids.ts";
import type { Service, ServiceRequest, ServiceResponse } from "./service.ts";
import { storage, storageHandler } from "./storage.ts";
import type { InstanceHandler } from "./storage.ts";

/** Query/Retrieve SOP classes (PS3.4 C.6) and the Modality Worklist one (PS3.4 K.6). */
export const QueryRetrieveSopClass = {
  /** Patient Root Query/Retrieve Information Model - FIND. */
  PATIENT_ROOT_FIND: "1.2.840.10008.5.1.4.1.2.1.1",
  /** Patient Root Query/Retrieve Information Model - MOVE. */
  PATIENT_ROOT_MOVE: "1.2.840.10008.5.1.4.1.2.1.2",
  /** Patient Root Query/Retrieve Information Model - GET. */
  PATIENT_ROOT_GET: "1.2.840.10008.5.1.4.1.2.1.3",
  /** Study Root Query/Retrieve Information Model - FIND. */
  STUDY_ROOT_FIND: "1.2.840.10008.5.1.4.1.2.2.1",
  /** Study Root Query/Retrieve Information Model - MOVE. */
  STUDY_ROOT_MOVE: "1.2.840.10008.5.1.4.1.2.2.2",
  /** Study Root Query/Retrieve Information Model - GET. */
  STUDY_ROOT_GET: "1.2.840.10008.5.1.4.1.2.2.3",
  /** Modality Worklist Information Model - FIND. */
  MODALITY_WORKLIST_FIND: "1.2.840.10008.5.1.4.31",
} as const;

/** An information model by name, or the SOP Class UID itself. */
export type QueryModel = "patient" | "study" | "worklist" | (string & Record<never, never>);

/** A query: a data set in the DICOM JSON model or in keyword form. */
export type Query = DataSet | KeywordDataSet;

const FIND_CLASSES: Record<string, string> = {
  patient: QueryRetrieveSopClass.PATIENT_ROOT_FIND,
  study: QueryRetrieveSopClass.STUDY_ROOT_FIND,
  worklist: QueryRetrieveSopClass.MODALITY_WORKLIST_FIND,
};
const MOVE_CLASSES: Record<string, string> = {
  patient: QueryRetrieveSopClass.PATIENT_ROOT_MOVE,
  study: QueryRetrieveSopClass.STUDY_ROOT_MOVE,
};
const GET_CLASSES: Record<string, string> = {
  patient: QueryRetrieveSopClass.PATIENT_ROOT_GET,
  study: QueryRetrieveSopClass.STUDY_ROOT_GET,
};

/** The FIND SOP Class UID of a model (a UID is returned as is). */
export function findSopClassOf(model: QueryModel): string {
  return FIND_CLASSES[model] ?? model;
}

/** The MOVE SOP Class UID of a model (a UID is returned as is). */
export function moveSopClassOf(model: QueryModel): string {
  if (model === "worklist") throw new TypeError("The worklist model has no C-MOVE");
  return MOVE_CLASSES[model] ?? model;
}

/** The GET SOP Class UID of a model (a UID is returned as is). */
export function getSopClassOf(model: QueryModel): string {
  if (model === "worklist") throw new TypeError("The worklist model has no C-GET");
  return GET_CLASSES[model] ?? model;
}

/** What the Q/R SCU needs of an association; the client's Association has it. */
export interface QueryRetrieveScuAssociation {
  /** Id of the association within this process. */
  readonly id: number;
  /** The negotiated association: accepted contexts and their transfer syntaxes. */
  readonly negotiated: NegotiatedAssociation;
  /** Sends a request and resolves with its final response; pending ones go to `onPending`. */
  request(
    command: CommandSet,
    options: {
      dataSet?: DataSetSource;
      presentationContextId?: number;
      timeoutMs?: number;
      onPending?: (response: DimseResponse) => void | Promise<void>;
    },
  ): Promise<DimseResponse>;
  /** Sends a C-CANCEL-RQ for an outstanding request. */
  cancel(messageId: number, presentationContextId: number): Promise<void>;
}

/** The peer answered a C-FIND with a failure status (PS3.4 C.4.1.1.4, K.4.1.1.4). */
export class QueryFailedError extends Error {
  /** The failure status, e.g. A700, A900 or Cxxx. */
  readonly status: number;
  /** The Error Comment of the response, when given. */
  readonly errorComment?: string;
  /** The Offending Element of the response, when given. */
  readonly offendingElement?: number[];
  /** Creates the error from the final response. */
  constructor(command: CommandSet) {
    const status = command.status ?? 0xffff;
    super(
      `C-FIND failed with status ${statusHex(status)}${
        command.errorComment ? `: ${command.errorComment}` : ""
      }`,
    );
    this.name = "QueryFailedError";
    this.status = status;
    this.errorComment = command.errorComment;
    this.offendingElement = command.offendingElement;
  }
}

/** Options shared by C-FIND, C-MOVE and C-GET. */
export interface QueryOptions {
  /** Sets (0008,0052) Query/Retrieve Level; otherwise the query must hold it (not for worklist). */
  level?: "PATIENT" | "STUDY" | "SERIES" | "IMAGE";
  /** (0000,0700) Priority; default MEDIUM. */
  priority?: number;
  /** When it aborts, a C-CANCEL-RQ is sent (PS3.7 §9.3.2.3) and the final response awaited. */
  signal?: AbortSignal;
  /** Response timeout in ms, restarted by each response; default the association's. */
  timeoutMs?: number;
}

/** The outcome of a C-FIND once its final response came. */
export interface FindResult {
  /** Final status: 0000 success or FE00 cancel (failures throw {@linkcode QueryFailedError}). */
  status: number;
  /** The number of matches received. */
  matches: number;
}

/** Sub-operation counts of a C-MOVE or C-GET response (PS3.7 §9.1.3, §9.1.4). */
export interface SubOperationProgress {
  /** (0000,1020) Number of Remaining Sub-operations, when given. */
  remaining?: number;
  /** (0000,1021) Number of Completed Sub-operations. */
  completed: number;
  /** (0000,1022) Number of Failed Sub-operations. */
  failed: number;
  /** (0000,1023) Number of Warning Sub-operations. */
  warning: number;
}

/** Options of C-MOVE and C-GET. */
export interface RetrieveOptions extends QueryOptions {
  /** Called with the counts of each pending response. */
  onProgress?: (progress: SubOperationProgress) => void;
}

/** Options of C-MOVE. */
export interface MoveOptions extends RetrieveOptions {
  /** (0000,0600) Move Destination: the AE title the SCP sends the instances to. */
  destination: string;
}

/** Options of C-GET: where the instances go (a folder, or a handler; a folder by default "."). */
export interface GetOptions extends RetrieveOptions {
  /** Folder the received instances are written to as Part 10 files. */
  dir?: string;
  /** Takes each instance as a stream instead of writing it to `dir`. */
  onInstance?: InstanceHandler;
}

/** The outcome of a C-MOVE or C-GET. */
export interface RetrieveResult extends SubOperationProgress {
  /** Final status (PS3.4 C.4.2.1.5, C.4.3.1.4): 0000, B000, FE00, or a failure. */
  status: number;
  /** The final response command set (Error Comment, Offending Element, …). */
  command: CommandSet;
  /** (0008,0058) Failed SOP Instance UID List of the final response. */
  failedSopInstanceUids: string[];
  /** Whether a C-CANCEL-RQ was sent. */
  cancelRequested: boolean;
}

const QUERY_RETRIEVE_LEVEL = "00080052";
const FAILED_SOP_INSTANCE_UID_LIST = "00080058";

function isDataSet(query: Query): query is DataSet {
  return Object.entries(query).every(([key, value]) =>
    /^[0-9A-Fa-f]{8}$/.test(key) && typeof value === "object" && value !== null &&
    !Array.isArray(value) && !(value instanceof Uint8Array) &&
    typeof (value as { vr?: unknown }).vr === "string"
  );
}

/** The query as a data set in the DICOM JSON model, with the level set when asked. */
export function identifierOf(query: Query, level?: string): DataSet {
  const dataSet: DataSet = isDataSet(query) ? { ...query } : fromKeywords(query);
  if (level !== undefined) dataSet[QUERY_RETRIEVE_LEVEL] = { vr: "CS", Value: [level] };
  return dataSet;
}

// Message IDs of our Q/R requests are chosen here, so that a C-CANCEL-RQ can name them before
// any response came; they stay clear of the dispatcher's own ids, which count up from 1.
let nextMessageId = 0xc000;

function messageIdFor(): number {
  const id = nextMessageId;
  nextMessageId = id >= 0xffff ? 0xc000 : id + 1;
  return id;
}

function contextOf(
  association: QueryRetrieveScuAssociation,
  sopClassUid: string,
): { presentationContextId: number; transferSyntax: string } {
  const pc = association.negotiated.accepted.find((c) => c.abstractSyntax === sopClassUid);
  if (!pc) {
    throw new QueryContextError(sopClassUid);
  }
  return { presentationContextId: pc.presentationContextId, transferSyntax: pc.transferSyntax };
}

/** No accepted presentation context for the SOP class of a query (PS3.8 §9.3.3.2). */
export class QueryContextError extends Error {
  /** The SOP class asked for. */
  readonly sopClassUid: string;
  /** Creates the error. */
  constructor(sopClassUid: string) {
    super(`No accepted presentation context for ${sopClassUid}`);
    this.name = "QueryContextError";
    this.sopClassUid = sopClassUid;
  }
}

/** Sends C-CANCEL-RQ when the signal aborts; returns a function that stops watching. */
function watchCancel(
  association: QueryRetrieveScuAssociation,
  signal: AbortSignal | undefined,
  messageId: number,
  presentationContextId: number,
  state: { cancelRequested: boolean; done: boolean },
): () => void {
  if (!signal) return () => {};
  const onAbort = () => {
    if (state.done || state.cancelRequested) return;
    state.cancelRequested = true;
    association.cancel(messageId, presentationContextId).catch(() => {});
  };
  if (signal.aborted) queueMicrotask(onAbort);
  else signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

/**
 * C-FIND (PS3.7 §9.1.2): yields each match (the identifier of a pending response) in the DICOM
 * JSON model as it arrives, and returns the {@linkcode FindResult}. Breaking out of the loop,
 * or aborting `options.signal`, sends C-CANCEL-RQ; a final failure status throws
 * {@linkcode QueryFailedError}.
 */
export async function* findMatches(
  association: QueryRetrieveScuAssociation,
  model: QueryModel,
  query: Query,
  options: QueryOptions = {},
): AsyncGenerator<DataSet, FindResult, undefined> {
  const sopClassUid = findSopClassOf(model);
  const { presentationContextId, transferSyntax } = contextOf(association, sopClassUid);
  const identifier = identifierOf(query, options.level);
  const messageId = messageIdFor();
  const queue: DataSet[] = [];
  let wake: (() => void) | undefined;
  let failure: unknown;
  let finalResponse: DimseResponse | undefined;
  const state = { cancelRequested: false, done: false };
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const bytes = await writeDataSet(identifier, { transferSyntax });
  const operation = association.request({
    commandField: CommandField.C_FIND_RQ,
    messageId,
    affectedSopClassUid: sopClassUid,
    priority: options.priority ?? Priority.MEDIUM,
    commandDataSetType: 0x0000,
  }, {
    dataSet: bytes,
    presentationContextId,
    timeoutMs: options.timeoutMs,
    async onPending(response) {
      if (!response.dataSet) return;
      const { dataSet } = await readWholeDataSet([response.dataSet], { transferSyntax });
      queue.push(dataSet);
      notify();
    },
  }).then((response) => {
    finalResponse = response;
  }, (error) => {
    failure = error;
  }).finally(() => {
    state.done = true;
    notify();
  });
  const unwatch = watchCancel(association, options.signal, messageId, presentationContextId, state);
  let matches = 0;
  try {
    while (true) {
      if (queue.length > 0) {
        matches++;
        yield queue.shift()!;
        continue;
      }
      if (state.done) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    unwatch();
    if (!state.done) {
      // The consumer stopped early: cancel and wait for the final response (PS3.4 C.4.1.3.1).
      state.cancelRequested = true;
      await association.cancel(messageId, presentationContextId).catch(() => {});
      await operation;
    }
  }
  await operation;
  if (failure !== undefined) throw failure;
  const command = finalResponse!.command;
  const status = command.status ?? 0;
  const category = statusCategory(status);
  if (category === "failure") throw new QueryFailedError(command);
  return { status, matches };
}

function progressOf(command: CommandSet): SubOperationProgress {
  return {
    remaining: command.numberOfRemainingSuboperations,
    completed: command.numberOfCompletedSuboperations ?? 0,
    failed: command.numberOfFailedSuboperations ?? 0,
    warning: command.numberOfWarningSuboperations ?? 0,
  };
}

async function failedUidsOf(response: DimseResponse, transferSyntax: string): Promise<string[]> {
  if (!response.dataSet || response.dataSet.length === 0) return [];
  try {
    const { dataSet } = await readWholeDataSet([response.dataSet], { transferSyntax });
    const values = dataSet[FAILED_SOP_INSTANCE_UID_LIST]?.Value ?? [];
    return values.filter((v): v is string => typeof v === "string" && v !== "");
  } catch {
    return [];
  }
}

async function retrieve(
  association: QueryRetrieveScuAssociation,
  commandField: number,
  sopClassUid: string,
  query: Query,
  options: RetrieveOptions & { destination?: string },
  prepare?: (messageId: number) => () => void,
): Promise<RetrieveResult> {
  const { presentationContextId, transferSyntax } = contextOf(association, sopClassUid);
  const identifier = identifierOf(query, options.level);
  const messageId = messageIdFor();
  const state = { cancelRequested: false, done: false };
  const bytes = await writeDataSet(identifier, { transferSyntax });
  const command: CommandSet = {
    commandField,
    messageId,
    affectedSopClassUid: sopClassUid,
    priority: options.priority ?? Priority.MEDIUM,
    commandDataSetType: 0x0000,
  };
  if (options.destination !== undefined) command.moveDestination = options.destination;
  const finish = prepare?.(messageId);
  const unwatch = watchCancel(association, options.signal, messageId, presentationContextId, state);
  let response: DimseResponse;
  try {
    response = await association.request(command, {
      dataSet: bytes,
      presentationContextId,
      timeoutMs: options.timeoutMs,
      onPending(pending) {
        options.onProgress?.(progressOf(pending.command));
      },
    });
  } finally {
    state.done = true;
    unwatch();
    finish?.();
  }
  return {
    status: response.command.status ?? 0,
    command: response.command,
    ...progressOf(response.command),
    failedSopInstanceUids: await failedUidsOf(response, transferSyntax),
    cancelRequested: state.cancelRequested,
  };
}

/**
 * C-MOVE (PS3.7 §9.1.4): asks the SCP to send the matching instances to
 * `options.destination`; progress comes from the pending responses' counts, and the result
 * holds the final status and counts and the Failed SOP Instance UID List.
 */
export function moveInstances(
  association: QueryRetrieveScuAssociation,
  model: QueryModel,
  query: Query,
  options: MoveOptions,
): Promise<RetrieveResult> {
  return retrieve(
    association,
    CommandField.C_MOVE_RQ,
    moveSopClassOf(model),
    query,
    options,
  );
}

/** Where the C-STORE sub-operations of the running C-GET of each association go. */
const receivers = new Map<number, Service>();

/**
 * C-GET (PS3.7 §9.1.3): the SCP sends the matching instances back as C-STORE sub-operations
 * on this association, which go to `options.onInstance` or are written under `options.dir`.
 * The association must have been requested with {@linkcode getConnectOptions} (Storage
 * contexts with SCP role, and the {@linkcode getReceiver} service).
 */
export function getInstances(
  association: QueryRetrieveScuAssociation,
  model: QueryModel,
  query: Query,
  options: GetOptions = {},
): Promise<RetrieveResult> {
  const target = options.onInstance
    ? storageHandler(options.onInstance)
    : storage({ dir: options.dir ?? ".", log: () => {} });
  return retrieve(
    association,
    CommandField.C_GET_RQ,
    getSopClassOf(model),
    query,
    options,
    () => {
      receivers.set(association.id, target);
      return () => {
        if (receivers.get(association.id) === target) receivers.delete(association.id);
      };
    },
  );
}

/**
 * The Storage service as SCP for the C-STORE sub-operations of C-GET (PS3.4 C.4.3.3): each
 * instance goes to the folder or handler of the C-GET running on its association; outside a
 * C-GET it is refused with 0xA700 (out of resources). `sopClasses`: default
 * {@linkcode DEFAULT_GET_SOP_CLASSES}.
 */
export function getReceiver(sopClasses: readonly string[] = DEFAULT_GET_SOP_CLASSES): Service {
  return {
    name: "get-storage",
    sopClasses: sopClasses.map((abstractSyntax) => ({
      abstractSyntax,
      transferSyntaxes: GET_TRANSFER_SYNTAXES,
      scpRole: true,
      scuRole: true,
    })),
    handle(request: ServiceRequest): Promise<ServiceResponse> {
      const target = receivers.get(request.association.id);
      if (!target) {
        request.dataSet?.cancel().catch(() => {});
        return Promise.resolve({
          status: Status.OUT_OF_RESOURCES,
          command: { errorComment: "No C-GET in progress" },
        });
      }
      return target.handle(request);
    },
  };
}

const STORAGE_NAMES = new Map(STORAGE_SOP_CLASSES.map((c) => [c.name, c.uid]));

/**
 * Storage SOP classes proposed for C-GET by default: the common image, presentation state,
 * structured report, waveform and encapsulated document classes (with the Q/R contexts they
 * stay within the 128 presentation contexts of one association, PS3.8 §9.3.2.2).
 */
export const DEFAULT_GET_SOP_CLASSES: readonly string[] = [
  "CTImageStorage",
  "EnhancedCTImageStorage",
  "MRImageStorage",
  "EnhancedMRImageStorage",
  "MRSpectroscopyStorage",
  "ComputedRadiographyImageStorage",
  "DigitalXRayImageStorageForPresentation",
  "DigitalXRayImageStorageForProcessing",
  "DigitalMammographyXRayImageStorageForPresentation",
  "DigitalMammographyXRayImageStorageForProcessing",
  "DigitalIntraOralXRayImageStorageForPresentation",
  "UltrasoundImageStorage",
  "UltrasoundMultiframeImageStorage",
  "SecondaryCaptureImageStorage",
  "MultiframeSingleBitSecondaryCaptureImageStorage",
  "MultiframeGrayscaleByteSecondaryCaptureImageStorage",
  "MultiframeGrayscaleWordSecondaryCaptureImageStorage",
  "MultiframeTrueColorSecondaryCaptureImageStorage",
  "XRayAngiographicImageStorage",
  "EnhancedXAImageStorage",
  "XRayRadiofluoroscopicImageStorage",
  "NuclearMedicineImageStorage",
  "PositronEmissionTomographyImageStorage",
  "EnhancedPETImageStorage",
  "RTImageStorage",
  "RTDoseStorage",
  "RTStructureSetStorage",
  "RTPlanStorage",
  "RTIonPlanStorage",
  "VLEndoscopicImageStorage",
  "VLPhotographicImageStorage",
  "VLMicroscopicImageStorage",
  "VLWholeSlideMicroscopyImageStorage",
  "OphthalmicPhotography8BitImageStorage",
  "OphthalmicTomographyImageStorage",
  "BreastTomosynthesisImageStorage",
  "SegmentationStorage",
  "RawDataStorage",
  "SpatialRegistrationStorage",
  "GrayscaleSoftcopyPresentationStateStorage",
  "ColorSoftcopyPresentationStateStorage",
  "KeyObjectSelectionDocumentStorage",
  "BasicTextSRStorage",
  "EnhancedSRStorage",
  "ComprehensiveSRStorage",
  "Comprehensive3DSRStorage",
  "XRayRadiationDoseSRStorage",
  "EncapsulatedPDFStorage",
  "TwelveLeadECGWaveformStorage",
  "GeneralECGWaveformStorage",
].map((name) => STORAGE_NAMES.get(name)).filter((uid): uid is string => uid !== undefined);

/** Transfer syntaxes proposed for the Storage contexts of C-GET, in our order of preference. */
export const GET_TRANSFER_SYNTAXES: readonly string[] = [
  TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN,
  TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN,
];

/** What {@linkcode getConnectOptions} gives to pass on to `Association.connect`. */
export interface GetConnectOptions {
  /** The GET context and one Storage context per SOP class. */
  presentationContexts: { abstractSyntax: string; transferSyntaxes: string[] }[];
  /** SCP role for each Storage SOP class (PS3.7 Annex D.3.3.4). */
  roleSelections: ScpScuRoleSelection[];
  /** The {@linkcode getReceiver} service taking the C-STORE sub-operations. */
  services: Service[];
}

/**
 * Association options for C-GET: the GET SOP class of each model, the Storage SOP classes
 * (default {@linkcode DEFAULT_GET_SOP_CLASSES}, at most 127 minus the models) with SCP/SCU Role
 * Selection making us the Storage SCP, and the receiving service.
 */
export function getConnectOptions(
  models: readonly QueryModel[] = ["study"],
  sopClasses: readonly string[] = DEFAULT_GET_SOP_CLASSES,
): GetConnectOptions {
  const classes = [...new Set(sopClasses)].slice(0, 128 - models.length);
  return {
    presentationContexts: [
      ...models.map((m) => ({
        abstractSyntax: getSopClassOf(m),
        transferSyntaxes: [...GET_TRANSFER_SYNTAXES],
      })),
      ...classes.map((abstractSyntax) => ({
        abstractSyntax,
        transferSyntaxes: [...GET_TRANSFER_SYNTAXES],
      })),
    ],
    roleSelections: classes.map((sopClassUid) => ({
      sopClassUid,
      scuRole: false,
      scpRole: true,
    })),
    services: [getReceiver(classes)],
  };
}

/** Whether a retrieve status means every sub-operation succeeded (PS3.4 C.4.2.1.5). */
export function isCompleteSuccess(result: RetrieveResult): boolean {
  return result.status === Status.SUCCESS && result.failed === 0 && result.warning === 0;
}
