/**
 * Attribute matching for C-FIND (PS3.4 C.2.2.2): pure functions that decide whether a candidate
 * data set (an entity of the store, a worklist item, …) matches the keys of an identifier. Data
 * sets are in the DICOM JSON model, as the reader gives them.
 *
 * What each kind of key does here:
 * - universal matching (C.2.2.2.3): a key with no value, or whose only value is `*`, matches
 *   every candidate, including one without the attribute;
 * - empty value matching (C.2.2.2.1): the value `""` (two quotation marks) matches a candidate
 *   whose attribute is absent or empty;
 * - single value matching (C.2.2.2.1): exact, case-sensitive, leading and trailing spaces
 *   insignificant where PS3.5 §6.2 says they are padding; numbers compare numerically;
 * - wildcard matching (C.2.2.2.4): `*` and `?` in AE CS LO LT PN SH ST UC UR UT values;
 * - list of UID matching (C.2.2.2.2): a UI key with several values matches any of them;
 * - range matching (C.2.2.2.5): DA, TM and DT `a-b`, `a-`, `-b`; a bound given with less
 *   precision covers its whole unit (`-1000` ends at 10:00:59.999999, `2007` lasts all year);
 *   a single TM or DT value is matched as the range it covers at its precision;
 * - combined date-time matching (C.2.2.2.5.1 and the Q/R extended negotiation, PS3.4
 *   C.5.1.1.4, byte 2): when asked, a DA key and its TM partner (Study Date and Study Time,
 *   …) are matched together as one DT range;
 * - sequence matching (C.2.2.2.6): a sequence key of one item matches when some item of the
 *   candidate's sequence matches every key of that item; a key with no item is universal;
 * - a candidate with several values matches a single-value key when any of its values does,
 *   and a key with several values (other than UI) matches when any of them does (common
 *   practice, e.g. Modalities in Study `CT\MR`).
 *
 * Person names (PS3.4 C.2.2.2.1 lets the SCP choose): matching is case-insensitive, trailing
 * component separators and spaces are ignored, and each component group present in the key
 * (alphabetic, ideographic, phonetic) is matched against the same group of the candidate;
 * groups absent from the key are not compared.
 *
 * @module
 */
import type { DataElement, DataSet, ElementValue, PersonName } from "../dataset/dataset.ts";
import type { Vr } from "../dataset/vr.ts";

/** Options of identifier matching. */
export interface MatchingOptions {
  /**
   * Combined date-time matching (PS3.4 C.2.2.2.5.1): match each DA key with its TM partner
   * (see {@linkcode DATE_TIME_PAIRS}) as one date-time range. Default false, as the standard
   * makes it subject to extended negotiation.
   */
  combinedDateTime?: boolean;
  /**
   * Keys (eight-hex-digit tags) not to match on, e.g. the Query/Retrieve Level and Specific
   * Character Set; default {@linkcode NON_MATCHING_KEYS}.
   */
  skip?: ReadonlySet<string>;
}

/**
 * Keys of an identifier that are not matched against the candidate: Specific Character Set
 * (0008,0005), Query/Retrieve Level (0008,0052), Query/Retrieve View (0008,0053), Retrieve
 * AE Title (0008,0054), Instance Availability (0008,0056), Timezone Offset From UTC (0008,0201):
 * they qualify the query or are only returned.
 */
export const NON_MATCHING_KEYS: ReadonlySet<string> = new Set([
  "00080005",
  "00080052",
  "00080053",
  "00080054",
  "00080056",
  "00080201",
]);

/** DA keys and their TM partners for combined date-time matching (PS3.4 C.2.2.2.5.1). */
export const DATE_TIME_PAIRS: readonly (readonly [date: string, time: string])[] = [
  ["00080020", "00080030"], // Study Date, Study Time
  ["00080021", "00080031"], // Series Date, Series Time
  ["00080022", "00080032"], // Acquisition Date, Acquisition Time
  ["00080023", "00080033"], // Content Date, Content Time
  ["00100030", "00100032"], // Patient's Birth Date, Patient's Birth Time
  ["00400002", "00400003"], // Scheduled Procedure Step Start Date, Time
  ["00400004", "00400005"], // Scheduled Procedure Step End Date, Time
  ["00400244", "00400245"], // Performed Procedure Step Start Date, Time
  ["00400250", "00400251"], // Performed Procedure Step End Date, Time
];

// PS3.4 C.2.2.2.4: wildcards apply to these VRs only.
const WILDCARD_VRS: ReadonlySet<Vr> = new Set([
  "AE",
  "CS",
  "LO",
  "LT",
  "PN",
  "SH",
  "ST",
  "UC",
  "UR",
  "UT",
]);

/** The query value `""`, asking for candidates with an empty or absent attribute (C.2.2.2.1). */
export const EMPTY_VALUE_QUERY = '""';

/** Whether a key asks for universal matching (PS3.4 C.2.2.2.3): no value, or only `*`. */
export function isUniversal(key: DataElement): boolean {
  if (key.vr === "SQ") {
    const items = key.Value ?? [];
    return items.length === 0 || items.every((item) => isEmptyItem(item as DataSet | null));
  }
  if (key.InlineBinary !== undefined && key.InlineBinary !== "") return false;
  const values = (key.Value ?? []).filter((v) => v !== null && valueText(v) !== "");
  if (values.length === 0) return true;
  if (values.length !== 1 || !WILDCARD_VRS.has(key.vr)) return false;
  if (key.vr === "PN") {
    const pn = values[0] as PersonName | string;
    const groups = typeof pn === "string"
      ? [pn]
      : [pn.Alphabetic, pn.Ideographic, pn.Phonetic].filter((g) => g !== undefined && g !== "");
    return groups.every((g) => /^\**$/.test(String(g)));
  }
  return /^\*+$/.test(String(values[0]).trim());
}

function isEmptyItem(item: DataSet | null): boolean {
  return item === null || Object.keys(item).length === 0 ||
    Object.values(item).every((element) => isUniversal(element));
}

/** Whether an element holds no value (absent, or zero length). */
export function isEmptyElement(element: DataElement | undefined): boolean {
  if (element === undefined) return true;
  if (element.InlineBinary !== undefined && element.InlineBinary !== "") return false;
  if (element.Fragments !== undefined && element.Fragments.length > 0) return false;
  return (element.Value ?? []).every((v) => v === null || (typeof v !== "object" && v === ""));
}

function valueText(value: ElementValue): string {
  if (value === null) return "";
  if (typeof value === "object") {
    if ("vr" in value) return "";
    const pn = value as PersonName;
    return [pn.Alphabetic ?? "", pn.Ideographic ?? "", pn.Phonetic ?? ""].join("=").replace(
      /=+$/,
      "",
    );
  }
  return String(value);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+^${}()|[\]\\]/g, "\\$&");
}

const patternCache = new Map<string, RegExp>();

/**
 * Wildcard matching (PS3.4 C.2.2.2.4): `*` matches any run of characters (none included), `?`
 * exactly one; everything else literally. Case-insensitive when `ignoreCase`.
 */
export function matchesWildcard(pattern: string, value: string, ignoreCase = false): boolean {
  const cacheKey = (ignoreCase ? "i" : "s") + pattern;
  let re = patternCache.get(cacheKey);
  if (re === undefined) {
    const source = Array.from(pattern).map((c) =>
      c === "*" ? ".*" : c === "?" ? "." : escapeRegExp(c)
    ).join("");
    re = new RegExp(`^${source}$`, ignoreCase ? "isu" : "su");
    if (patternCache.size > 1000) patternCache.clear();
    patternCache.set(cacheKey, re);
  }
  return re.test(value);
}

/** Trims the padding PS3.5 §6.2 makes insignificant for a VR. */
function trimFor(vr: Vr, text: string): string {
  if (vr === "LT" || vr === "ST" || vr === "UT" || vr === "UR" || vr === "UI") {
    return text.replace(/[ \0]+$/, "");
  }
  return text.trim();
}

/**
 * Single value or wildcard matching of one string value (PS3.4 C.2.2.2.1, C.2.2.2.4) for the
 * string VRs (AE CS LO LT SH ST UC UR UT UI AS): case-sensitive, wildcards only where the VR
 * allows them.
 */
export function matchesString(vr: Vr, key: string, value: string): boolean {
  const k = trimFor(vr, key);
  const v = trimFor(vr, value);
  if (WILDCARD_VRS.has(vr) && /[*?]/.test(k)) return matchesWildcard(k, v);
  return k === v;
}

/** One component group of a person name, without trailing separators and spaces. */
function normaliseNameGroup(group: string): string {
  return group.split("^").map((c) => c.trim()).join("^").replace(/\^+$/, "");
}

function nameGroupsOf(value: PersonName | string): [string, string, string] {
  if (typeof value === "string") {
    const g = value.split("=");
    return [g[0] ?? "", g[1] ?? "", g[2] ?? ""];
  }
  return [value.Alphabetic ?? "", value.Ideographic ?? "", value.Phonetic ?? ""];
}

/**
 * Person name matching (PS3.4 C.2.2.2.1, C.2.2.2.4): each component group the key holds is
 * matched, case-insensitively and with wildcards, against the candidate's same group.
 * `Doe^J*` matches `DOE^JOHN^^^`; an ideographic-only key ignores the alphabetic group.
 */
export function matchesPersonName(key: PersonName | string, value: PersonName | string): boolean {
  const keyGroups = nameGroupsOf(key);
  const valueGroups = nameGroupsOf(value);
  for (let i = 0; i < 3; i++) {
    const k = normaliseNameGroup(keyGroups[i]);
    if (k === "" || /^\*+$/.test(k)) continue;
    const v = normaliseNameGroup(valueGroups[i]);
    if (/[*?]/.test(k)) {
      // Try the name as written and with all five components, so that `Doe^*` matches `Doe`
      // and `*^John` matches `Doe^John^^^`.
      const padded = [...v.split("^"), "", "", "", ""].slice(0, Math.max(5, v.split("^").length))
        .join("^");
      if (!matchesWildcard(k, v, true) && !matchesWildcard(k, padded, true)) return false;
    } else if (k.toLowerCase() !== v.toLowerCase()) {
      return false;
    }
  }
  return true;
}

/** A parsed range: bounds in a comparable form, either side open. */
interface Range<T> {
  low?: T;
  high?: T;
}

/** Splits a range key `a-b`, `a-` or `-b` (PS3.4 C.2.2.2.5); a single value gives `a-a`. */
function splitRange(key: string, allowMinusInside: boolean): [string, string] | undefined {
  const text = key.trim();
  if (!allowMinusInside) {
    const dash = text.indexOf("-");
    if (dash < 0) return [text, text];
    if (text.indexOf("-", dash + 1) >= 0) return undefined;
    return [text.slice(0, dash).trim(), text.slice(dash + 1).trim()];
  }
  // DT values may carry a "-hhmm" offset: the range separator is the "-" not followed by a
  // four-digit offset that ends the side (or by another date-time).
  const m = /^([0-9.+-]*?[0-9.](?:[+-][0-9]{4})?)?-([0-9].*)?$/.exec(text);
  if (/^[0-9.]+(?:[+-][0-9]{4})?$/.test(text)) return [text, text];
  if (!m) return undefined;
  return [(m[1] ?? "").trim(), (m[2] ?? "").trim()];
}

/** A DA value as `YYYYMMDD` (the ACR-NEMA `YYYY.MM.DD` form accepted); undefined when not one. */
function dateDigits(text: string): string | undefined {
  const t = text.trim().replace(/\./g, "");
  return /^[0-9]{8}$/.test(t) ? t : undefined;
}

/**
 * Date matching (PS3.4 C.2.2.2.1, C.2.2.2.5): a single date, or a range `d1-d2`, `d1-`, `-d2`
 * with inclusive bounds.
 */
export function matchesDate(key: string, value: string): boolean {
  const v = dateDigits(value);
  if (v === undefined) return false;
  const parts = splitRange(key, false);
  if (!parts) return false;
  const [a, b] = parts;
  if (a === "" && b === "") return true;
  const low = a === "" ? undefined : dateDigits(a);
  const high = b === "" ? undefined : dateDigits(b);
  if ((a !== "" && low === undefined) || (b !== "" && high === undefined)) return false;
  return (low === undefined || v >= low) && (high === undefined || v <= high);
}

/**
 * A TM value as microseconds since midnight; `ceil` gives the end of the unit a shorter value
 * names (`10` → 10:59:59.999999). The ACR-NEMA `hh:mm:ss` form is accepted.
 */
function timeMicros(text: string, ceil: boolean): number | undefined {
  const t = text.trim().replace(/:/g, "");
  const m = /^([0-9]{2})([0-9]{2})?([0-9]{2})?(?:\.([0-9]{1,6}))?$/.exec(t);
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = m[2] === undefined ? (ceil ? 59 : 0) : Number(m[2]);
  const s = m[3] === undefined ? (ceil ? 59 : 0) : Number(m[3]);
  let frac = 0;
  if (m[4] !== undefined) {
    frac = Number(m[4].padEnd(6, ceil ? "9" : "0"));
  } else if (ceil) {
    frac = 999_999;
  }
  if (h > 23 || min > 59 || s > 60) return undefined;
  return ((h * 60 + min) * 60 + s) * 1_000_000 + frac;
}

function inRange(value: number, range: Range<number>): boolean {
  return (range.low === undefined || value >= range.low) &&
    (range.high === undefined || value <= range.high);
}

/**
 * Whether `v` lies in the range `a`-`b` (an empty bound is open), each bound read by `micros`
 * from the start (`a`) or the end (`b`) of the unit it names; false when a bound is unreadable.
 */
function inMicrosRange(
  a: string,
  b: string,
  v: number,
  micros: (text: string, ceil: boolean) => number | undefined,
): boolean {
  const range: Range<number> = {};
  if (a !== "") {
    range.low = micros(a, false);
    if (range.low === undefined) return false;
  }
  if (b !== "") {
    range.high = micros(b, true);
    if (range.high === undefined) return false;
  }
  return inRange(v, range);
}

/**
 * Time matching (PS3.4 C.2.2.2.1, C.2.2.2.5): a single time (matching the whole unit it names
 * at its precision) or a range `t1-t2`, `t1-`, `-t2`; the candidate is taken at its own
 * precision's start.
 */
export function matchesTime(key: string, value: string): boolean {
  const v = timeMicros(value, false);
  if (v === undefined) return false;
  const parts = splitRange(key, false);
  if (!parts) return false;
  return inMicrosRange(parts[0], parts[1], v, timeMicros);
}

/**
 * A DT value (`YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX]`) as microseconds since the epoch,
 * UTC; a value without an offset is taken as UTC (the same for key and candidate, so that
 * values of one site compare as written). `ceil` gives the end of the named unit.
 */
function dateTimeMicros(text: string, ceil: boolean): number | undefined {
  const m =
    /^([0-9]{4})([0-9]{2})?([0-9]{2})?([0-9]{2})?([0-9]{2})?([0-9]{2})?(?:\.([0-9]{1,6}))?([+-][0-9]{4})?$/
      .exec(text.trim());
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = m[2] === undefined ? (ceil ? 12 : 1) : Number(m[2]);
  let day: number;
  if (m[3] !== undefined) day = Number(m[3]);
  else day = ceil ? new Date(Date.UTC(year, month, 0)).getUTCDate() : 1;
  const hour = m[4] === undefined ? (ceil ? 23 : 0) : Number(m[4]);
  const minute = m[5] === undefined ? (ceil ? 59 : 0) : Number(m[5]);
  const second = m[6] === undefined ? (ceil ? 59 : 0) : Number(m[6]);
  let frac = 0;
  if (m[7] !== undefined) frac = Number(m[7].padEnd(6, ceil ? "9" : "0"));
  else if (ceil) frac = 999_999;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59) {
    return undefined;
  }
  let ms = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59));
  if (m[8] !== undefined) {
    const sign = m[8][0] === "-" ? -1 : 1;
    const offset = sign * (Number(m[8].slice(1, 3)) * 60 + Number(m[8].slice(3, 5)));
    ms -= offset * 60_000;
  }
  return ms * 1000 + frac;
}

/**
 * Date-time matching (PS3.4 C.2.2.2.1, C.2.2.2.5): a single DT (matching the unit it names)
 * or a range; offsets from UTC are honoured when given.
 */
export function matchesDateTime(key: string, value: string): boolean {
  const v = dateTimeMicros(value, false);
  if (v === undefined) return false;
  const parts = splitRange(key, true);
  if (!parts) return false;
  return dateTimeRangeMatches(parts[0], parts[1], v);
}

function dateTimeRangeMatches(a: string, b: string, v: number): boolean {
  return inMicrosRange(a, b, v, dateTimeMicros);
}

/**
 * Combined date-time matching (PS3.4 C.2.2.2.5.1): a DA key and a TM key matched together
 * against a candidate date and time, so that `20070101-20070131` with `1000-1500` means from
 * 1 January 10:00 to 31 January 15:00, not ten to three on each day. Either key may be
 * universal (empty); a candidate without a time is taken at the start of its date.
 */
export function matchesCombinedDateTime(
  dateKey: string,
  timeKey: string,
  date: string,
  time: string,
): boolean {
  const d = dateDigits(date);
  const t = time.trim().replace(/:/g, "");
  if (d === undefined) {
    return dateKey.trim() === "" &&
      (timeKey.trim() === "" || (t !== "" && matchesTime(timeKey, t)));
  }
  const value = dateTimeMicros(d + (t === "" ? "" : t), false);
  if (value === undefined) return false;
  const dates = dateKey.trim() === "" ? ["", ""] : splitRange(dateKey, false);
  const times = timeKey.trim() === "" ? ["", ""] : splitRange(timeKey, false);
  if (!dates || !times) return false;
  const [d1, d2] = dates.map((x) => x === "" ? "" : dateDigits(x) ?? "!");
  const [t1, t2] = times.map((x) => x.replace(/:/g, ""));
  if (d1 === "!" || d2 === "!") return false;
  if (d1 === "" && d2 === "") {
    // Only the time constrains: plain time range matching on the candidate's time.
    return timeKey.trim() === "" || (t !== "" && matchesTime(timeKey, t));
  }
  const low = d1 === "" ? "" : d1 + t1;
  const high = d2 === "" ? "" : d2 + t2;
  return dateTimeRangeMatches(low, high, value);
}

function numberOf(value: ElementValue): number | undefined {
  if (value === null || typeof value === "object") return undefined;
  const n = typeof value === "number" ? value : Number(String(value).trim());
  return Number.isFinite(n) ? n : undefined;
}

function candidateValues(element: DataElement | undefined): ElementValue[] {
  if (element === undefined) return [];
  return (element.Value ?? []).filter((v) => v !== null && valueText(v) !== "");
}

/**
 * Sequence matching (PS3.4 C.2.2.2.6): the key's item (the first; a key holds one) matches
 * when some item of the candidate's sequence matches all of its keys. A key with no item, or
 * an item whose keys are all universal, matches any candidate.
 */
export function matchesSequence(
  key: DataElement,
  candidate: DataElement | undefined,
  options: MatchingOptions = {},
): boolean {
  const keyItem = (key.Value ?? [])[0] as DataSet | null | undefined;
  if (keyItem === undefined || keyItem === null || isEmptyItem(keyItem)) return true;
  const items = (candidate?.Value ?? []) as (DataSet | null)[];
  return items.some((item) => matchesIdentifier(keyItem, item ?? {}, options));
}

/**
 * Matches one key of an identifier against the candidate's attribute of the same tag
 * (PS3.4 C.2.2.2), choosing the kind of matching from the key's VR and value. The candidate
 * attribute may be absent.
 */
export function matchesAttribute(
  key: DataElement,
  candidate: DataElement | undefined,
  options: MatchingOptions = {},
): boolean {
  if (key.vr === "SQ") return matchesSequence(key, candidate, options);
  if (isUniversal(key)) return true;
  const keyValues = candidateValues(key);
  // PS3.4 C.2.2.2.1: "" asks for an empty value.
  if (keyValues.length === 1 && valueText(keyValues[0]).trim() === EMPTY_VALUE_QUERY) {
    return isEmptyElement(candidate);
  }
  if (key.InlineBinary !== undefined) {
    return candidate?.InlineBinary === key.InlineBinary;
  }
  const values = candidateValues(candidate);
  if (values.length === 0) return false;
  const vr = key.vr;
  return keyValues.some((k) => values.some((v) => matchesValue(vr, k, v)));
}

/** Matches one key value against one candidate value, by VR. */
function matchesValue(vr: Vr, key: ElementValue, value: ElementValue): boolean {
  switch (vr) {
    case "PN":
      return matchesPersonName(key as PersonName | string, value as PersonName | string);
    case "DA":
      return matchesDate(String(key), String(value));
    case "TM":
      return matchesTime(String(key), String(value));
    case "DT":
      return matchesDateTime(String(key), String(value));
    case "IS":
    case "DS":
    case "US":
    case "SS":
    case "UL":
    case "SL":
    case "FL":
    case "FD":
    case "SV":
    case "UV": {
      const a = numberOf(key);
      const b = numberOf(value);
      return a !== undefined && b !== undefined ? a === b : String(key) === String(value);
    }
    case "AT":
      return String(key).toUpperCase() === String(value).toUpperCase();
    default:
      return matchesString(vr, valueText(key), valueText(value));
  }
}

function firstText(element: DataElement | undefined): string {
  const v = candidateValues(element)[0];
  return v === undefined ? "" : valueText(v);
}

/**
 * Whether a candidate data set matches every key of an identifier (PS3.4 C.2.2.2): each key
 * with a value must match the candidate's attribute of the same tag; universal keys (no value)
 * always match. Keys in `options.skip` (default {@linkcode NON_MATCHING_KEYS}), group 0000 and
 * 0002 keys and group lengths (gggg,0000) are ignored. The candidate is any data set holding the attributes of the
 * entity (for a study: its patient's and its own), nested sequences included.
 */
export function matchesIdentifier(
  identifier: DataSet,
  candidate: DataSet,
  options: MatchingOptions = {},
): boolean {
  const skip = options.skip ?? NON_MATCHING_KEYS;
  const handled = new Set<string>();
  if (options.combinedDateTime) {
    for (const [dateTag, timeTag] of DATE_TIME_PAIRS) {
      const dateKey = identifier[dateTag];
      const timeKey = identifier[timeTag];
      if (dateKey === undefined || timeKey === undefined) continue;
      if (isUniversal(dateKey) && isUniversal(timeKey)) continue;
      handled.add(dateTag);
      handled.add(timeTag);
      if (
        !matchesCombinedDateTime(
          firstText(dateKey),
          firstText(timeKey),
          firstText(candidate[dateTag]),
          firstText(candidate[timeTag]),
        )
      ) return false;
    }
  }
  for (const tag of Object.keys(identifier)) {
    if (handled.has(tag) || skip.has(tag)) continue;
    if (tag.startsWith("0000") || tag.startsWith("0002") || tag.endsWith("0000")) continue;
    if (!matchesAttribute(identifier[tag], candidate[tag], options)) return false;
  }
  return true;
}
