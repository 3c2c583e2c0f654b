/**
 * The PS3.6 data dictionary, bound from the maintained copy in dcmjs (never typed in here).
 *
 * @module
 */

import dcmjs from "dcmjs";
import {
  isGroupLengthTag,
  isPrivateCreatorTag,
  isPrivateTag,
  parseTag,
  type Tag,
  tagToString,
} from "./tag.ts";
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

interface DcmjsEntry {
  tag: string;
  vr: string;
  vm: string;
  name: string;
}

const source = dcmjs.data.DicomMetaDictionary as unknown as {
  dictionary: Record<string, DcmjsEntry | undefined>;
  nameMap: Record<string, DcmjsEntry | undefined>;
};

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

function toEntry(raw: DcmjsEntry | undefined, tag?: Tag): DictionaryEntry | undefined {
  if (!raw) return undefined;
  const vrs = vrsOf(raw.vr);
  return {
    tag: tag ?? parseTag(raw.tag) ?? 0,
    vr: vrs[0] ?? "UN",
    vrs,
    vm: raw.vm,
    keyword: raw.name,
  };
}

/** The dictionary entry of a tag, resolving repeating groups such as (60xx,3000); undefined when unknown. */
export function entryOf(tag: Tag): DictionaryEntry | undefined {
  if (isPrivateTag(tag)) return undefined;
  return toEntry(source.dictionary[tagToString(tag)], tag);
}

/** The tag of a keyword (PS3.6 §6 "Keyword" column); undefined when unknown. */
export function tagOf(keyword: string): Tag | undefined {
  const raw = source.nameMap[keyword];
  return raw ? parseTag(raw.tag) : undefined;
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
