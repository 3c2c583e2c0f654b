/**
 * The keys of the Patient Root and Study Root Query/Retrieve information models (PS3.4 C.6.1,
 * C.6.2) per level, the check of a C-FIND identifier against them (PS3.4 C.4.1.2, C.4.1.3.1),
 * and the split of an instance's attributes into what the index keeps per level.
 *
 * @module
 */
import type { DataSet } from "../dataset/dataset.ts";
import type { InformationModel, QueryRetrieveLevel } from "./instance_index.ts";

/** Query/Retrieve levels from the top down. */
export const LEVELS: readonly QueryRetrieveLevel[] = ["PATIENT", "STUDY", "SERIES", "IMAGE"];

/** Unique key of each level (PS3.4 C.6.1.1, C.6.2.1), as an eight-hex-digit tag. */
export const UNIQUE_KEYS: Readonly<Record<QueryRetrieveLevel, string>> = {
  PATIENT: "00100020", // Patient ID
  STUDY: "0020000D", // Study Instance UID
  SERIES: "0020000E", // Series Instance UID
  IMAGE: "00080018", // SOP Instance UID
};

/** Query/Retrieve Level (0008,0052). */
export const QUERY_RETRIEVE_LEVEL_TAG = "00080052";
/** Specific Character Set (0008,0005). */
export const SPECIFIC_CHARACTER_SET_TAG = "00080005";
/** Retrieve AE Title (0008,0054). */
export const RETRIEVE_AE_TITLE_TAG = "00080054";

/**
 * Patient level keys (PS3.4 Table C.6-1): required, unique and the common optional ones. The
 * index also keeps every other group 0010 attribute at this level (PS3.4 C.6.1.1.2 "all other
 * attributes at patient level"), except those listed at the study level.
 */
export const PATIENT_LEVEL_KEYS: ReadonlySet<string> = new Set([
  "00100010", // Patient's Name (R)
  "00100020", // Patient ID (U)
  "00100021", // Issuer of Patient ID
  "00100024", // Issuer of Patient ID Qualifiers Sequence
  "00101002", // Other Patient IDs Sequence
  "00100030", // Patient's Birth Date
  "00100032", // Patient's Birth Time
  "00100040", // Patient's Sex
  "00101001", // Other Patient Names
  "00102160", // Ethnic Group
  "00104000", // Patient Comments
  "00201200", // Number of Patient Related Studies (computed)
  "00201202", // Number of Patient Related Series (computed)
  "00201204", // Number of Patient Related Instances (computed)
]);

/** Study level keys (PS3.4 Table C.6-2). */
export const STUDY_LEVEL_KEYS: ReadonlySet<string> = new Set([
  "00080020", // Study Date (R)
  "00080030", // Study Time (R)
  "00080050", // Accession Number (R)
  "00080051", // Issuer of Accession Number Sequence
  "00200010", // Study ID (R)
  "0020000D", // Study Instance UID (U)
  "00080090", // Referring Physician's Name
  "00080096", // Referring Physician Identification Sequence
  "00081030", // Study Description
  "00081032", // Procedure Code Sequence
  "00081060", // Name of Physician(s) Reading Study
  "00081080", // Admitting Diagnoses Description
  "00081110", // Referenced Study Sequence
  "00081120", // Referenced Patient Sequence
  "00101010", // Patient's Age
  "00101020", // Patient's Size
  "00101030", // Patient's Weight
  "00102180", // Occupation
  "001021B0", // Additional Patient History
  "00201070", // Other Study Numbers
  "00321060", // Requested Procedure Description
  "00201206", // Number of Study Related Series (computed)
  "00201208", // Number of Study Related Instances (computed)
  "00080061", // Modalities in Study (computed)
  "00080062", // SOP Classes in Study (computed)
]);

/** Series level keys (PS3.4 Table C.6-3). */
export const SERIES_LEVEL_KEYS: ReadonlySet<string> = new Set([
  "00080060", // Modality (R)
  "00200011", // Series Number (R)
  "0020000E", // Series Instance UID (U)
  "00201209", // Number of Series Related Instances (computed)
  "0008103E", // Series Description
  "00180015", // Body Part Examined
  "00080021", // Series Date
  "00080031", // Series Time
  "00181030", // Protocol Name
  "00200060", // Laterality
  "00080070", // Manufacturer
  "00081010", // Station Name
  "00081050", // Performing Physician's Name
  "00081070", // Operators' Name
  "00400244", // Performed Procedure Step Start Date
  "00400245", // Performed Procedure Step Start Time
  "00400253", // Performed Procedure Step ID
  "00400275", // Request Attributes Sequence
  "00081111", // Referenced Performed Procedure Step Sequence
]);

/** Keys whose values the index computes rather than stores (PS3.4 C.6.1.1.2–4). */
export const COMPUTED_KEYS: ReadonlySet<string> = new Set([
  "00201200",
  "00201202",
  "00201204",
  "00201206",
  "00201208",
  "00201209",
  "00080061",
  "00080062",
]);

/** The level a key belongs to in the information model. Every key not listed is an instance key. */
export function levelOfKey(tag: string, model: InformationModel): QueryRetrieveLevel {
  if (PATIENT_LEVEL_KEYS.has(tag)) return model === "study" ? "STUDY" : "PATIENT";
  if (STUDY_LEVEL_KEYS.has(tag)) return "STUDY";
  if (SERIES_LEVEL_KEYS.has(tag)) return "SERIES";
  return "IMAGE";
}

/** Depth of a level: PATIENT 0 … IMAGE 3. */
export function levelDepth(level: QueryRetrieveLevel): number {
  return LEVELS.indexOf(level);
}

/** The levels of an information model, from the top (PS3.4 C.6.1, C.6.2). */
export function levelsOf(model: InformationModel): readonly QueryRetrieveLevel[] {
  return model === "study" ? LEVELS.slice(1) : LEVELS;
}

/**
 * The level whose entity keeps an instance's attribute in the index: patient (group 0010 but the
 * patient-study keys), study and series (their listed keys); undefined for the instance itself
 * and for the computed keys. No tag is listed at two levels.
 */
function attributeLevel(tag: string): "PATIENT" | "STUDY" | "SERIES" | undefined {
  if (COMPUTED_KEYS.has(tag)) return undefined;
  if (STUDY_LEVEL_KEYS.has(tag)) return "STUDY";
  if (SERIES_LEVEL_KEYS.has(tag)) return "SERIES";
  if (PATIENT_LEVEL_KEYS.has(tag) || tag.startsWith("0010")) return "PATIENT";
  return undefined;
}

/**
 * The attributes of one level taken from an instance's data set, as the index keeps them per
 * entity: patient (group 0010 but the patient-study keys), study and series (their listed keys),
 * each with the Specific Character Set the values were decoded under.
 */
export function levelAttributes(dataSet: DataSet, level: "PATIENT" | "STUDY" | "SERIES"): DataSet {
  return instanceLevelAttributes(dataSet)[level];
}

/**
 * The patient, study and series attributes of an instance's data set at once (one pass), as
 * {@linkcode levelAttributes} gives each.
 */
export function instanceLevelAttributes(
  dataSet: DataSet,
): Record<"PATIENT" | "STUDY" | "SERIES", DataSet> {
  const out: Record<"PATIENT" | "STUDY" | "SERIES", DataSet> = {
    PATIENT: {},
    STUDY: {},
    SERIES: {},
  };
  for (const tag in dataSet) {
    const level = attributeLevel(tag);
    if (level !== undefined) out[level][tag] = dataSet[tag];
  }
  const charset = dataSet[SPECIFIC_CHARACTER_SET_TAG];
  if (charset !== undefined) {
    out.PATIENT[SPECIFIC_CHARACTER_SET_TAG] = charset;
    out.STUDY[SPECIFIC_CHARACTER_SET_TAG] = charset;
    out.SERIES[SPECIFIC_CHARACTER_SET_TAG] = charset;
  }
  return out;
}

/**
 * The reason a C-FIND identifier is refused, with the status PS3.4 C.4.1.1.4 gives for it (also
 * the base of the C-MOVE and C-GET identifier refusals, PS3.4 C.4.2.1.5).
 */
export class IdentifierError extends Error {
  /** DIMSE status: A900 (identifier does not match SOP class) or C000 (unable to process). */
  readonly status: number;
  /** The offending key, as a tag number, when one is at fault. */
  readonly offendingElement?: number;

  /** Creates the error; `message` becomes the Error Comment (at most 64 characters). */
  constructor(message: string, status: number, offendingElement?: number) {
    super(message);
    this.name = "IdentifierError";
    this.status = status;
    this.offendingElement = offendingElement;
  }
}

/** Status A900: Identifier does not match SOP Class (PS3.4 C.4.1.1.4). */
export const IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS = 0xa900;

/** What the check of an identifier found. */
export interface IdentifierCheck {
  /** Query/Retrieve Level. */
  level: QueryRetrieveLevel;
  /**
   * Keys the query cannot match on or return at its level (below it), as tags: they are
   * answered zero length and the responses are FF01 (PS3.4 C.4.1.1.4).
   */
  unsupported: string[];
}

function text(dataSet: DataSet, tag: string): string {
  const v = dataSet[tag]?.Value?.[0];
  return typeof v === "string" ? v.trim() : "";
}

/**
 * Checks a C-FIND identifier against the information model (PS3.4 C.4.1.2.1, C.4.1.3.1): a
 * known Query/Retrieve Level of the model, and — unless relational queries were negotiated —
 * the unique keys of every level above it with a value. Keys below the level are reported as
 * unsupported. Throws {@linkcode IdentifierError} with status A900 otherwise.
 */
export function checkIdentifier(
  identifier: DataSet,
  model: InformationModel,
  options: { relational?: boolean } = {},
): IdentifierCheck {
  const levelText = text(identifier, QUERY_RETRIEVE_LEVEL_TAG).toUpperCase();
  if (levelText === "") {
    throw new IdentifierError(
      "Query/Retrieve Level (0008,0052) is missing",
      IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
      0x00080052,
    );
  }
  const levels = levelsOf(model);
  const level = levels.find((l) => l === levelText);
  if (level === undefined) {
    throw new IdentifierError(
      `Query/Retrieve Level ${levelText} is not one of the ${model} root model`,
      IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
      0x00080052,
    );
  }
  const depth = levelDepth(level);
  if (!options.relational) {
    for (const upper of levels) {
      if (levelDepth(upper) >= depth) break;
      const tag = UNIQUE_KEYS[upper];
      const element = identifier[tag];
      const values = (element?.Value ?? []).filter((v) => v !== null && v !== "");
      if (values.length === 0) {
        throw new IdentifierError(
          `Unique key (${tag.slice(0, 4)},${tag.slice(4)}) of level ${upper} needs a value`,
          IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
          parseInt(tag, 16),
        );
      }
    }
  }
  const unsupported: string[] = [];
  for (const tag of Object.keys(identifier)) {
    if (tag === QUERY_RETRIEVE_LEVEL_TAG || tag === SPECIFIC_CHARACTER_SET_TAG) continue;
    if (tag.startsWith("0000") || tag.startsWith("0002") || tag.endsWith("0000")) continue;
    if (tag === RETRIEVE_AE_TITLE_TAG || tag === "00080056" || tag === "00080053") continue;
    if (levelDepth(levelOfKey(tag, model)) > depth) unsupported.push(tag);
  }
  return { level, unsupported };
}
