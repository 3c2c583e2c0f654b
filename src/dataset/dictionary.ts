/**
 * The PS3.6 data dictionary, from the maintained copy in dcmjs (never typed in here): the table
 * in `_dictionary_data.ts` is generated from dcmjs and checked against it by a test, and read
 * into lookup maps on first use.
 *
 * @module
 */

import { DICTIONARY } from "./_dictionary_data.ts";
import { isGroupLengthTag, isPrivateCreatorTag, isPrivateTag, type Tag } from "./tag.ts";
import { isVr, type Vr } from "./vr.ts";

/** One PS3.6 dictionary entry. */
export interface DictionaryEntry {
  /** The tag; for a repeating group (60xx) the first group of the range. */
  tag: Tag;
  /** The VR used when none is on the wire (implicit VR). */
  vr: Vr;
  /** All VRs PS3.6 allows ("OB or OW" gives two). */
  vrs: readonly Vr[];
  /** Value multiplicity as PS3.6 prints it. */
  vm: string;
  /** The keyword (retired ones keep the name dcmjs gives them, prefixed RETIRED_). */
  keyword: string;
}

// dcmjs codes the VRs PS3.6 lists as alternatives: ox = OB or OW, xs = US or SS,
// lt = US or OW (LUT data), up = UL (offsets in DICOMDIR), na = none (item delimiters).
function vrsOf(code: string): Vr[] {
  switch (code) {
    case "ox":
      return ["OW", "OB"];
    case "xs":
      return ["US", "SS"];
    case "lt":
      return ["US", "OW"];
    case "up":
      return ["UL"];
    case "na":
      return [];
    default:
      return isVr(code) ? [code] : ["UN"];
  }
}

/** An entry of the table, before it is given the tag it is looked up with. */
interface Row {
  tag: Tag;
  vrs: Vr[];
  vm: string;
  keyword: string;
}

/** A repeating-group entry: the groups it spans, for one element number. */
interface RangeRow extends Row {
  lastGroup: number;
}

interface Tables {
  exact: Map<Tag, Row>;
  ranges: RangeRow[];
  byKeyword: Map<string, Tag>;
}

let tables: Tables | undefined;

/** The lookup maps, read from the table on first use (see `_dictionary_generate.ts`). */
function load(): Tables {
  if (tables !== undefined) return tables;
  const exact = new Map<Tag, Row>();
  const ranges: RangeRow[] = [];
  const byKeyword = new Map<string, Tag>();
  for (const line of DICTIONARY.split("\n")) {
    const [key, vr, vm, keyword] = line.split(" ");
    const tag = parseInt(key.slice(0, 8), 16);
    const row: Row = { tag, vrs: vrsOf(vr), vm, keyword };
    if (key.length > 8) ranges.push({ ...row, lastGroup: parseInt(key.slice(9), 16) });
    else exact.set(tag, row);
    // As dcmjs builds its name map: a keyword given twice names its last entry.
    byKeyword.set(keyword, tag);
  }
  tables = { exact, ranges, byKeyword };
  return tables;
}

/** The row for a tag: its exact entry, else the first range holding it. */
function rowOf(tag: Tag): Row | undefined {
  const { exact, ranges } = load();
  const row = exact.get(tag);
  if (row !== undefined) return row;
  const group = Math.floor(tag / 0x10000);
  const element = tag & 0xffff;
  for (const range of ranges) {
    const first = Math.floor(range.tag / 0x10000);
    if ((range.tag & 0xffff) === element && group >= first && group <= range.lastGroup) {
      return range;
    }
  }
  return undefined;
}

/** The dictionary entry of a tag, resolving repeating groups such as (60xx,3000); undefined when unknown. */
export function entryOf(tag: Tag): DictionaryEntry | undefined {
  if (isPrivateTag(tag)) return undefined;
  const row = rowOf(tag);
  if (row === undefined) return undefined;
  return { tag, vr: row.vrs[0] ?? "UN", vrs: row.vrs, vm: row.vm, keyword: row.keyword };
}

/** The tag of a keyword (PS3.6 §6 "Keyword" column); undefined when unknown. */
export function tagOf(keyword: string): Tag | undefined {
  return load().byKeyword.get(keyword);
}

/** The keyword of a tag; undefined for private, group length and unknown tags. */
export function keywordOf(tag: Tag): string | undefined {
  return entryOf(tag)?.keyword;
}

/**
 * The VR to use for a tag when the encoding does not carry one (implicit VR, PS3.5 §7.1.3):
 * UL for group lengths, LO for private creators, the first PS3.6 VR otherwise (OW for
 * "OB or OW", US for "US or SS"), UN when the tag is unknown or private.
 */
export function vrOf(tag: Tag): Vr {
  if (isGroupLengthTag(tag)) return "UL";
  if (isPrivateCreatorTag(tag)) return "LO";
  if (isPrivateTag(tag)) return "UN";
  return entryOf(tag)?.vr ?? "UN";
}
