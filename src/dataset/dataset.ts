/**
 * The in-memory data set: the DICOM JSON model of PS3.18 §F, plus keyword helpers that map
 * `{ PatientName: "Doe^John" }` to and from it through the data dictionary.
 *
 * @module
 */

import { keywordOf, tagOf, vrOf } from "./dictionary.ts";
import { DataSetError } from "./errors.ts";
import { parseTag, tagToHex } from "./tag.ts";
import { isVr, type Vr, VR_PROPERTIES } from "./vr.ts";

/** A PN value (PS3.18 §F.2.2): up to three component groups. */
export interface PersonName {
  /** The alphabetic representation. */
  Alphabetic?: string;
  /** The ideographic representation. */
  Ideographic?: string;
  /** The phonetic representation. */
  Phonetic?: string;
}

/** One value of a multi-valued element; null is an empty value (PS3.18 §F.2.5). */
export type ElementValue = string | number | PersonName | DataSet | null;

/** One attribute in the DICOM JSON model (PS3.18 §F.2.2). */
export interface DataElement {
  /** The VR. */
  vr: Vr;
  /** The values: strings, numbers, person names or, for SQ, item data sets. */
  Value?: ElementValue[];
  /** Base64 of the value bytes in little endian, for OB OD OF OL OV OW UN (PS3.18 §F.2.7). */
  InlineBinary?: string;
  /** Where the value can be fetched, left as is (PS3.18 §F.2.6). */
  BulkDataURI?: string;
  /**
   * Encapsulated pixel data (PS3.5 §A.4): base64 of each item, the Basic Offset Table first.
   * PS3.18 has no inline form for it; this member carries it through a read/write round trip.
   */
  Fragments?: string[];
}

/** A data set in the DICOM JSON model, keyed by eight-hex-digit tag (PS3.18 §F.2.1). */
export interface DataSet {
  /** One attribute, keyed by its tag as eight upper-case hex digits. */
  [tag: string]: DataElement;
}

/** A value in keyword form: a string, number, list, or nested items for sequences. */
export type KeywordValue =
  | string
  | number
  | null
  | Uint8Array
  | PersonName
  | KeywordDataSet[]
  | (string | number | null)[];

/** A data set keyed by PS3.6 keyword (`{ PatientName: "Doe^John" }`). */
export interface KeywordDataSet {
  /** One attribute, keyed by keyword (or `ggggeeee` when it has none). */
  [keyword: string]: KeywordValue;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Validates parsed DICOM JSON (or its text) and returns it as a data set; throws
 * DataSetError naming the first bad attribute.
 */
export function fromJson(json: unknown): DataSet {
  const value = typeof json === "string" ? JSON.parse(json) : json;
  if (!isRecord(value)) {
    throw new DataSetError("invalid-value", "A DICOM JSON data set must be an object");
  }
  const out: DataSet = {};
  for (const [key, raw] of Object.entries(value)) {
    const tag = parseTag(key);
    if (tag === undefined || key.length !== 8) {
      throw new DataSetError("invalid-value", `Key ${key} is not eight hex digits`);
    }
    if (!isRecord(raw) || typeof raw.vr !== "string" || !isVr(raw.vr)) {
      throw new DataSetError("invalid-vr", `Attribute ${key} has no valid vr`, { tag: key });
    }
    const element: DataElement = { vr: raw.vr };
    if (Array.isArray(raw.Value)) {
      element.Value = raw.vr === "SQ"
        ? raw.Value.map((item) => item === null ? {} : fromJson(item))
        : raw.Value.map((v) => v as ElementValue);
    }
    if (typeof raw.InlineBinary === "string") element.InlineBinary = raw.InlineBinary;
    if (typeof raw.BulkDataURI === "string") element.BulkDataURI = raw.BulkDataURI;
    if (Array.isArray(raw.Fragments)) element.Fragments = raw.Fragments.map(String);
    out[tagToHex(tag)] = element;
  }
  return out;
}

/** The data set as DICOM JSON text, attributes in tag order. */
export function toJson(dataSet: DataSet): string {
  return JSON.stringify(sortDataSet(dataSet));
}

/** A copy with attributes in ascending tag order, at every nesting level. */
export function sortDataSet(dataSet: DataSet): DataSet {
  const out: DataSet = {};
  for (const key of Object.keys(dataSet).sort()) {
    const element = dataSet[key];
    out[key] = element.vr === "SQ" && element.Value
      ? { ...element, Value: element.Value.map((item) => sortDataSet((item ?? {}) as DataSet)) }
      : element;
  }
  return out;
}

function keyOf(keyword: string): string {
  const tag = tagOf(keyword) ?? parseTag(keyword);
  if (tag === undefined) {
    throw new DataSetError("unknown-keyword", `Keyword ${keyword} is not in the data dictionary`);
  }
  return tagToHex(tag);
}

function toBase64Local(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return btoa(text);
}

function personNameOf(value: unknown): PersonName {
  if (isRecord(value)) return value as PersonName;
  const groups = String(value).split("=");
  const name: PersonName = { Alphabetic: groups[0] };
  if (groups.length > 1) name.Ideographic = groups[1];
  if (groups.length > 2) name.Phonetic = groups[2];
  return name;
}

/**
 * Builds a data set from keyword form: keywords (or `ggggeeee` keys) mapped through the
 * dictionary, strings split on backslash for multi-valued VRs, `Uint8Array` as InlineBinary,
 * arrays of objects as sequence items. The VR comes from the dictionary (UN when unknown).
 */
export function fromKeywords(values: KeywordDataSet): DataSet {
  const out: DataSet = {};
  for (const [keyword, value] of Object.entries(values)) {
    const key = keyOf(keyword);
    const vr = vrOf(parseTag(key)!);
    out[key] = elementFromKeywordValue(vr, value);
  }
  return out;
}

function elementFromKeywordValue(vr: Vr, value: KeywordValue): DataElement {
  const kind = VR_PROPERTIES[vr].kind;
  if (value === null || value === "") return { vr };
  if (value instanceof Uint8Array) return { vr, InlineBinary: toBase64Local(value) };
  if (kind === "sequence") {
    const items = Array.isArray(value) ? value : [];
    return { vr, Value: items.map((item) => fromKeywords(item as KeywordDataSet)) };
  }
  const list: unknown[] = Array.isArray(value)
    ? value
    : typeof value === "string" && VR_PROPERTIES[vr].multiValued
    ? value.split("\\")
    : [value];
  switch (kind) {
    case "person-name":
      return { vr, Value: list.map((v) => v === null || v === "" ? null : personNameOf(v)) };
    case "number":
      return { vr, Value: list.map((v) => v === null || v === "" ? null : Number(v)) };
    case "binary":
      throw new DataSetError("invalid-value", `A ${vr} value in keyword form must be a Uint8Array`);
    default:
      return { vr, Value: list.map((v) => v === null ? null : String(v)) };
  }
}

/**
 * The data set in keyword form: single values unwrapped, multiple values joined with
 * backslash for strings or kept as arrays for numbers, PN as its Alphabetic text when that is
 * all it has, binary values decoded to `Uint8Array`, private and unknown tags keyed by hex.
 */
export function toKeywords(dataSet: DataSet): KeywordDataSet {
  const out: KeywordDataSet = {};
  for (const key of Object.keys(dataSet).sort()) {
    const element = dataSet[key];
    const name = keywordOf(parseTag(key)!) ?? key;
    out[name] = keywordValueOf(element);
  }
  return out;
}

function keywordValueOf(element: DataElement): KeywordValue {
  const kind = VR_PROPERTIES[element.vr].kind;
  if (element.InlineBinary !== undefined) {
    return Uint8Array.from(atob(element.InlineBinary), (c) => c.charCodeAt(0));
  }
  const values = element.Value ?? [];
  if (kind === "sequence") return values.map((item) => toKeywords((item ?? {}) as DataSet));
  if (values.length === 0) return null;
  if (kind === "person-name") {
    const texts = values.map((v) => {
      if (v === null) return "";
      const pn = v as PersonName;
      return [pn.Alphabetic ?? "", pn.Ideographic ?? "", pn.Phonetic ?? ""].join("=").replace(
        /=+$/,
        "",
      );
    });
    return texts.join("\\");
  }
  if (kind === "number" || kind === "tag") {
    return values.length === 1
      ? values[0] as string | number | null
      : values as (string | number | null)[];
  }
  return values.map((v) => v ?? "").join("\\");
}
