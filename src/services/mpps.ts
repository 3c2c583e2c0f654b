/**
 * Modality Performed Procedure Step as SCP (PS3.4 Annex F.7, F.8): N-CREATE of a step IN
 * PROGRESS, N-SET until it is COMPLETED or DISCONTINUED, and N-GET of the stored instance
 * through the Modality Performed Procedure Step Retrieve SOP Class. Each instance is kept as
 * DICOM JSON under `<dir>/mpps/<uid>.json`, written to a temporary file and renamed into place.
 *
 * @module
 */
import { Status } from "../dimse/status.ts";
import { type DataElement, type DataSet, fromJson, toJson } from "../dataset/dataset.ts";
import { entryOf, keywordOf } from "../dataset/dictionary.ts";
import { parseTag, tagToHex } from "../dataset/tag.ts";
import {
  DimseStatusError,
  type NormalizedRequest,
  type NormalizedResponse,
  normalizedService,
} from "./normalized.ts";
import type { Service } from "./service.ts";

/** Modality Performed Procedure Step SOP Class (PS3.4 F.7.3). */
export const MPPS_SOP_CLASS = "1.2.840.10008.3.1.2.3.3";
/** Modality Performed Procedure Step Retrieve SOP Class (PS3.4 F.8.3). */
export const MPPS_RETRIEVE_SOP_CLASS = "1.2.840.10008.3.1.2.3.5";

/** Performed Procedure Step Status values (PS3.3 C.4.14). */
export const PerformedProcedureStepStatus = {
  IN_PROGRESS: "IN PROGRESS",
  DISCONTINUED: "DISCONTINUED",
  COMPLETED: "COMPLETED",
} as const;

/** Error Comment of an N-SET on a step in a final state (PS3.4 F.7.2.2). */
export const MAY_NO_LONGER_BE_UPDATED = "Performed Procedure Step Object may no longer be updated";

const STATUS_TAG = "00400252";
const SCHEDULED_STEP_ATTRIBUTE_SEQUENCE = "00400270";

// PS3.4 Table F.7.2-1, N-CREATE column. Type 1: present with a value; type 2: present.
const CREATE_TYPE_1 = [
  "00400253", // Performed Procedure Step ID
  "00400241", // Performed Station AE Title
  "00400244", // Performed Procedure Step Start Date
  "00400245", // Performed Procedure Step Start Time
  "00400252", // Performed Procedure Step Status
  "00080060", // Modality
  "00400270", // Scheduled Step Attribute Sequence
];
const CREATE_TYPE_2 = [
  "00100010", // Patient's Name
  "00100020", // Patient ID
  "00100030", // Patient's Birth Date
  "00100040", // Patient's Sex
  "00400242", // Performed Station Name
  "00400243", // Performed Location
  "00400250", // Performed Procedure Step End Date
  "00400251", // Performed Procedure Step End Time
  "00400254", // Performed Procedure Step Description
  "00400255", // Performed Procedure Type Description
  "00081032", // Procedure Code Sequence
  "00200010", // Study ID
  "00400260", // Performed Protocol Code Sequence
  "00400340", // Performed Series Sequence
];
// In each item of the Scheduled Step Attribute Sequence.
const SCHEDULED_ITEM_TYPE_1 = ["0020000D"]; // Study Instance UID
const SCHEDULED_ITEM_TYPE_2 = [
  "00080050", // Accession Number
  "00081110", // Referenced Study Sequence
  "00401001", // Requested Procedure ID
  "00321060", // Requested Procedure Description
  "00400009", // Scheduled Procedure Step ID
  "00400007", // Scheduled Procedure Step Description
  "00400008", // Scheduled Protocol Code Sequence
];

// PS3.4 Table F.7.2-1, N-SET column "Not allowed": set only by N-CREATE.
const NOT_SETTABLE = new Set([
  "00400270",
  "00100010",
  "00100020",
  "00100021", // Issuer of Patient ID
  "00100030",
  "00100040",
  "00081120",
  "00400253",
  "00400241",
  "00400242",
  "00400243",
  "00400244",
  "00400245",
  "00080060",
  "00200010",
  "00080016", // SOP Class UID
  "00080018", // SOP Instance UID
]);

// PS3.4 F.7.2.2: a step going to COMPLETED or DISCONTINUED must have these with a value.
const FINAL_STATE_TYPE_1 = [
  "00400250", // Performed Procedure Step End Date
  "00400251", // Performed Procedure Step End Time
];

// In each item of the Performed Series Sequence at a final state.
const FINAL_STATE_SERIES_TYPE_1 = [
  "0020000E", // Series Instance UID
  "00181030", // Protocol Name
];
const PERFORMED_SERIES_SEQUENCE = "00400340";

const FINAL_STATES: readonly string[] = [
  PerformedProcedureStepStatus.COMPLETED,
  PerformedProcedureStepStatus.DISCONTINUED,
];

/** Options of {@linkcode mpps}. */
export interface MppsOptions {
  /** Store folder; instances go under `<dir>/mpps/`. */
  dir: string;
  /** Accepted transfer syntaxes; default explicit then implicit VR little endian. */
  transferSyntaxes?: readonly string[];
}

function nameOf(key: string): string {
  const keyword = keywordOf(parseTag(key)!);
  return keyword
    ? `${keyword} (${key.slice(0, 4)},${key.slice(4)})`
    : `(${key.slice(0, 4)},${key.slice(4)})`;
}

function hasValue(element: DataElement | undefined): boolean {
  if (!element) return false;
  if (element.InlineBinary !== undefined || element.BulkDataURI !== undefined) return true;
  return (element.Value ?? []).some((v) => v !== null && v !== "");
}

function tagNumber(key: string): number {
  return parseTag(key)!;
}

/** Checks type 1 (present, with a value) and type 2 (present) attributes of a data set. */
function requireAttributes(
  dataSet: DataSet,
  type1: readonly string[],
  type2: readonly string[],
  where = "",
): void {
  for (const key of type1) {
    if (!(key in dataSet)) {
      throw new DimseStatusError(Status.MISSING_ATTRIBUTE, `${where}${nameOf(key)} missing`, {
        offendingElement: [tagNumber(key)],
      });
    }
    if (!hasValue(dataSet[key])) {
      throw new DimseStatusError(
        Status.MISSING_ATTRIBUTE_VALUE,
        `${where}${nameOf(key)} has no value`,
        { offendingElement: [tagNumber(key)] },
      );
    }
  }
  for (const key of type2) {
    if (!(key in dataSet)) {
      throw new DimseStatusError(Status.MISSING_ATTRIBUTE, `${where}${nameOf(key)} missing`, {
        offendingElement: [tagNumber(key)],
      });
    }
  }
}

function statusOf(dataSet: DataSet): string | undefined {
  const value = dataSet[STATUS_TAG]?.Value?.[0];
  return typeof value === "string" ? value.trim() : undefined;
}

function invalidStatus(value: string | undefined, allowed: readonly string[]): DimseStatusError {
  return new DimseStatusError(
    Status.INVALID_ATTRIBUTE_VALUE,
    `Performed Procedure Step Status ${value ?? "(empty)"} is not ${allowed.join(" or ")}`,
    { offendingElement: [tagNumber(STATUS_TAG)] },
  );
}

/** Reads and writes the instances of one store folder, one change at a time per instance. */
class MppsStore {
  #folder: string;
  #locks = new Map<string, Promise<void>>();

  constructor(dir: string) {
    this.#folder = `${dir}/mpps`;
  }

  #path(uid: string): string {
    return `${this.#folder}/${uid}.json`;
  }

  async read(uid: string): Promise<DataSet | undefined> {
    try {
      return fromJson(await Deno.readTextFile(this.#path(uid)));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  async write(uid: string, dataSet: DataSet): Promise<void> {
    await Deno.mkdir(this.#folder, { recursive: true });
    const temp = `${this.#folder}/.${uid}.${crypto.randomUUID()}.tmp`;
    try {
      const file = await Deno.open(temp, { write: true, createNew: true });
      try {
        await file.write(new TextEncoder().encode(toJson(dataSet)));
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(temp, this.#path(uid));
    } catch (e) {
      await Deno.remove(temp).catch(() => {});
      throw e;
    }
  }

  /** Runs `change` with no other change of the same instance in between. */
  async exclusive<T>(uid: string, change: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(uid) ?? Promise.resolve();
    const run = previous.then(change);
    const settled = run.then(() => {}, () => {});
    this.#locks.set(uid, settled);
    try {
      return await run;
    } finally {
      if (this.#locks.get(uid) === settled) this.#locks.delete(uid);
    }
  }
}

/**
 * The MPPS SCP: N-CREATE (PS3.4 F.7.2.1) requires Performed Procedure Step Status IN PROGRESS
 * (else 0106) and the type 1 and 2 attributes of Table F.7.2-1 (0120 when absent, 0121 when a
 * type 1 one is empty), refuses an existing instance with 0111; N-SET (F.7.2.2) accepts only
 * attributes the table allows to be set (0106 for one set only by N-CREATE, 0105 for one not
 * in the dictionary), status COMPLETED or DISCONTINUED (or IN PROGRESS again) with End Date and
 * Time, and Series Instance UID and Protocol Name in each Performed Series Sequence item, at a
 * final state (0120/0121 otherwise), and refuses any change once final with 0110 "Performed Procedure Step
 * Object may no longer be updated"; unknown instances get 0112. N-GET (F.8) is served on the
 * MPPS Retrieve SOP Class.
 */
export function mpps(options: MppsOptions): Service {
  const store = new MppsStore(options.dir);

  async function create(request: NormalizedRequest): Promise<NormalizedResponse> {
    const dataSet = request.dataSet ?? {};
    const status = statusOf(dataSet);
    if (hasValue(dataSet[STATUS_TAG]) && status !== PerformedProcedureStepStatus.IN_PROGRESS) {
      throw invalidStatus(status, [PerformedProcedureStepStatus.IN_PROGRESS]);
    }
    requireAttributes(dataSet, CREATE_TYPE_1, CREATE_TYPE_2);
    const items = dataSet[SCHEDULED_STEP_ATTRIBUTE_SEQUENCE].Value ?? [];
    items.forEach((item, i) =>
      requireAttributes(
        (item ?? {}) as DataSet,
        SCHEDULED_ITEM_TYPE_1,
        SCHEDULED_ITEM_TYPE_2,
        `Scheduled Step Attribute Sequence item ${i + 1}: `,
      )
    );
    const uid = request.sopInstanceUid;
    return await store.exclusive(uid, async () => {
      if (await store.read(uid)) {
        return {
          status: Status.DUPLICATE_SOP_INSTANCE,
          errorComment: `Performed Procedure Step ${uid} exists`,
        };
      }
      await store.write(uid, {
        ...dataSet,
        "00080016": { vr: "UI", Value: [MPPS_SOP_CLASS] },
        "00080018": { vr: "UI", Value: [uid] },
      });
      return { status: Status.SUCCESS };
    });
  }

  async function set(request: NormalizedRequest): Promise<NormalizedResponse> {
    const modifications = request.dataSet ?? {};
    for (const key of Object.keys(modifications)) {
      if (NOT_SETTABLE.has(key)) {
        throw new DimseStatusError(
          Status.INVALID_ATTRIBUTE_VALUE,
          `${nameOf(key)} may not be set by N-SET`,
          { offendingElement: [tagNumber(key)] },
        );
      }
      if (!entryOf(tagNumber(key))) {
        throw new DimseStatusError(Status.NO_SUCH_ATTRIBUTE, `No such attribute ${nameOf(key)}`, {
          offendingElement: [tagNumber(key)],
        });
      }
    }
    const uid = request.sopInstanceUid;
    return await store.exclusive(uid, async () => {
      const stored = await store.read(uid);
      if (!stored) {
        return {
          status: Status.NO_SUCH_SOP_INSTANCE,
          errorComment: `No Performed Procedure Step ${uid}`,
        };
      }
      const current = statusOf(stored);
      if (current !== undefined && FINAL_STATES.includes(current)) {
        return { status: Status.PROCESSING_FAILURE, errorComment: MAY_NO_LONGER_BE_UPDATED };
      }
      if (STATUS_TAG in modifications) {
        const next = statusOf(modifications);
        if (
          next === undefined ||
          !Object.values(PerformedProcedureStepStatus).includes(
            next as typeof PerformedProcedureStepStatus.IN_PROGRESS,
          )
        ) {
          throw invalidStatus(next, Object.values(PerformedProcedureStepStatus));
        }
      }
      const merged: DataSet = { ...stored, ...modifications };
      const next = statusOf(merged);
      if (next !== undefined && FINAL_STATES.includes(next)) {
        requireAttributes(merged, FINAL_STATE_TYPE_1, []);
        (merged[PERFORMED_SERIES_SEQUENCE]?.Value ?? []).forEach((item, i) =>
          requireAttributes(
            (item ?? {}) as DataSet,
            FINAL_STATE_SERIES_TYPE_1,
            [],
            `Performed Series Sequence item ${i + 1}: `,
          )
        );
      }
      await store.write(uid, merged);
      return { status: Status.SUCCESS };
    });
  }

  async function get(request: NormalizedRequest): Promise<NormalizedResponse> {
    const stored = await store.read(request.sopInstanceUid);
    if (!stored) {
      return {
        status: Status.NO_SUCH_SOP_INSTANCE,
        errorComment: `No Performed Procedure Step ${request.sopInstanceUid}`,
      };
    }
    const wanted = request.attributeIdentifierList ?? [];
    if (wanted.length === 0) return { status: Status.SUCCESS, dataSet: stored };
    const out: DataSet = {};
    for (const tag of wanted) {
      const key = tagToHex(tag);
      // A requested attribute the instance lacks comes back with no value.
      out[key] = stored[key] ?? { vr: entryOf(tag)?.vr ?? "UN" };
    }
    return { status: Status.SUCCESS, dataSet: out };
  }

  return normalizedService({
    name: "mpps",
    sopClasses: [
      {
        uid: MPPS_SOP_CLASS,
        transferSyntaxes: options.transferSyntaxes,
        nCreate: create,
        nSet: set,
      },
      { uid: MPPS_RETRIEVE_SOP_CLASS, transferSyntaxes: options.transferSyntaxes, nGet: get },
    ],
  });
}
