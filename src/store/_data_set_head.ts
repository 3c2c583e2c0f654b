/**
 * The head of a received data set read synchronously from bytes in memory, up to a tag (Pixel
 * Data), into the DICOM JSON model: the Storage SCP's fast path for the checks and the index.
 * It gives what `readWholeDataSet` (src/dataset/reader.ts) gives for the same bytes and options,
 * or undefined whenever the bytes hold anything it does not take on (big endian, deflate,
 * encapsulated fragments before the stop, UN of undefined length, nesting deeper than 64, a
 * malformed or truncated encoding): the caller then uses that reader, which also reports the
 * errors. Little endian only (PS3.5 §7.1, Annex A.1, A.2).
 *
 * The scan runs once per received instance on the way to the C-STORE response, so the walk
 * reads the bytes directly, compares tags as numbers, and allocates only for what it keeps.
 *
 * @module
 */
import { CharacterSet, decodeLatin1, DEFAULT_CHARACTER_SET } from "../dataset/character_set.ts";
import type { DataElement, DataSet } from "../dataset/dataset.ts";
import { vrOf } from "../dataset/dictionary.ts";
import {
  ItemDelimitationItemTag,
  ItemTag,
  PixelDataTag,
  SequenceDelimitationItemTag,
  SpecificCharacterSetTag,
  type Tag,
  tagToHex,
} from "../dataset/tag.ts";
import type { TransferSyntax } from "../dataset/transfer_syntax.ts";
import { decodeValue } from "../dataset/value.ts";
import { type Vr, VR_PROPERTIES } from "../dataset/vr.ts";

/** What {@linkcode readDataSetHead} read. */
export interface DataSetHead {
  /** The top level elements before the stop tag (bulk values with their VR only). */
  dataSet: DataSet;
  /** Whether a top level tag at or after the stop tag was found (else the bytes ended). */
  stopped: boolean;
  /** Bytes read: where the stop tag starts, or the length of the bytes. */
  length: number;
}

/** Options of {@linkcode readDataSetHead}. */
export interface DataSetHeadOptions {
  /** Top level tag to stop at; default Pixel Data (7FE0,0010). */
  stopAtTag?: Tag;
  /** Values longer than this are skipped, VR kept; default 4096. */
  bulkThreshold?: number;
}

const UNDEFINED_LENGTH = 0xffffffff;
const MAX_DEPTH = 64;

/**
 * Thrown inside the parser when the bytes need the general reader. One instance, thrown as
 * often as needed: an error made per throw would capture a stack, which costs more than the
 * scan of a whole head (and a head split over PDVs is declined once per instance).
 */
class NotHandled extends Error {}
const NOT_HANDLED = new NotHandled("Left to the general reader");

// The VR of an explicit VR element header (PS3.5 §7.1.2) is two upper-case letters: as a
// number from 1 to 26 × 26 (its VR code) it indexes small tables, with no string built.
const LETTERS = 26;
const LETTER_A = 0x41;
/** The VR of each VR code; undefined where the letters name none. */
const VR_OF_CODE: (Vr | undefined)[] = new Array(LETTERS * LETTERS + 1).fill(undefined);
/** How the value of each VR code is encoded: SHORT, LONG or SEQUENCE; 0 for no VR. */
const FORM_OF_CODE = new Uint8Array(LETTERS * LETTERS + 1);
/** A 2-byte value length in explicit VR. */
const SHORT = 1;
/** Two reserved bytes and a 4-byte value length in explicit VR (PS3.5 Table 7.1-1). */
const LONG = 2;
/** SQ: a 4-byte length, and items to walk. */
const SEQUENCE = 3;
for (const vr of Object.keys(VR_PROPERTIES) as Vr[]) {
  const code = vrCodeOf(vr.charCodeAt(0), vr.charCodeAt(1));
  VR_OF_CODE[code] = vr;
  FORM_OF_CODE[code] = vr === "SQ" ? SEQUENCE : VR_PROPERTIES[vr].longLength ? LONG : SHORT;
}

/** The VR code of the letters `first`, `second`; 0 when either byte is not in A–Z. */
function vrCodeOf(first: number, second: number): number {
  const a = first - LETTER_A;
  const b = second - LETTER_A;
  if (a < 0 || a >= LETTERS || b < 0 || b >= LETTERS) return 0;
  return a * LETTERS + b + 1;
}

/**
 * The VR codes of the tags met in implicit VR, from the dictionary (PS3.5 §7.1.3): a dictionary
 * lookup builds an entry object, and a head asks for one per element. Bounded as `tagToHex`
 * bounds its names: data sets reuse a few thousand tags.
 */
const IMPLICIT_VR_CODE_OF_TAG = new Map<Tag, number>();
const IMPLICIT_VR_CODE_LIMIT = 16384;

function implicitVrCodeOf(tag: Tag): number {
  let code = IMPLICIT_VR_CODE_OF_TAG.get(tag);
  if (code === undefined) {
    const vr = vrOf(tag);
    code = vrCodeOf(vr.charCodeAt(0), vr.charCodeAt(1));
    if (IMPLICIT_VR_CODE_OF_TAG.size < IMPLICIT_VR_CODE_LIMIT) {
      IMPLICIT_VR_CODE_OF_TAG.set(tag, code);
    }
  }
  return code;
}

/**
 * Reads `bytes` (the start of a data set, or all of it) up to `stopAtTag`; undefined when the
 * general reader must be used instead (see the module documentation).
 */
export function readDataSetHead(
  bytes: Uint8Array,
  transferSyntax: TransferSyntax,
  options: DataSetHeadOptions = {},
): DataSetHead | undefined {
  return parse(bytes, transferSyntax, options, undefined);
}

/**
 * Walks `bytes` as {@linkcode readDataSetHead} does, with the same checks and the same answer
 * of undefined, but decodes only the top level elements whose tags are in `keep` (and Specific
 * Character Set, as the reader does): the check of a data set's structure before its values
 * are needed. Where `readDataSetHead` on the same bytes would return a head, this returns one,
 * with the same `stopped` and `length`.
 */
export function scanDataSetHead(
  bytes: Uint8Array,
  transferSyntax: TransferSyntax,
  keep: ReadonlySet<Tag>,
  options: DataSetHeadOptions = {},
): DataSetHead | undefined {
  return parse(bytes, transferSyntax, options, keep);
}

function parse(
  bytes: Uint8Array,
  transferSyntax: TransferSyntax,
  options: DataSetHeadOptions,
  keep: ReadonlySet<Tag> | undefined,
): DataSetHead | undefined {
  if (!transferSyntax.littleEndian || transferSyntax.deflated) return undefined;
  const parser = new HeadParser(
    bytes,
    transferSyntax.explicitVr,
    options.stopAtTag ?? PixelDataTag,
    options.bulkThreshold ?? 4096,
    keep,
  );
  const root: DataSet = {};
  try {
    parser.elements(root, Infinity, 0);
  } catch {
    // NotHandled, or a value the decoder rejects: the general reader says why.
    return undefined;
  }
  return { dataSet: root, stopped: parser.stopped, length: parser.position };
}

class HeadParser {
  readonly bytes: Uint8Array;
  readonly explicitVr: boolean;
  readonly stopAtTag: Tag;
  readonly bulkThreshold: number;
  /** When set, only these top level tags are decoded (a scan); else every element is. */
  readonly keep: ReadonlySet<Tag> | undefined;
  position = 0;
  stopped = false;
  /** The character set of the data set or item being read (PS3.5 §6.1.2.3). */
  charset: CharacterSet = DEFAULT_CHARACTER_SET;

  constructor(
    bytes: Uint8Array,
    explicitVr: boolean,
    stopAtTag: Tag,
    bulkThreshold: number,
    keep: ReadonlySet<Tag> | undefined,
  ) {
    this.bytes = bytes;
    this.explicitVr = explicitVr;
    this.stopAtTag = stopAtTag;
    this.bulkThreshold = bulkThreshold;
    this.keep = keep;
  }

  /**
   * The elements of a data set (depth 0) or item, until `end` (Infinity when the item's length
   * is undefined), an item delimiter or the stop. `dataSet` takes the decoded elements; a scan
   * gives undefined for items, whose elements it does not keep.
   */
  elements(dataSet: DataSet | undefined, end: number, depth: number): void {
    const bytes = this.bytes;
    const length = bytes.length;
    const topLevel = depth === 0;
    const keep = this.keep;
    while (true) {
      let at = this.position;
      if (at >= end) {
        if (at > end) throw NOT_HANDLED;
        return;
      }
      if (topLevel && at === length) return;
      if (at + 8 > length) throw NOT_HANDLED;
      const tag = (bytes[at] | bytes[at + 1] << 8) * 0x10000 + (bytes[at + 2] | bytes[at + 3] << 8);
      if (topLevel && tag >= this.stopAtTag) {
        this.stopped = true;
        return;
      }
      if (tag === ItemDelimitationItemTag) {
        if (end !== Infinity || topLevel) throw NOT_HANDLED;
        this.position = at + 8;
        return;
      }
      if (tag === SequenceDelimitationItemTag || tag === ItemTag) throw NOT_HANDLED;
      let code: number;
      let valueLength: number;
      if (this.explicitVr) {
        code = vrCodeOf(bytes[at + 4], bytes[at + 5]);
        const form = FORM_OF_CODE[code];
        if (form === SHORT) {
          valueLength = bytes[at + 6] | bytes[at + 7] << 8;
          at += 8;
        } else if (form !== 0) {
          if (at + 12 > length) throw NOT_HANDLED;
          valueLength = uint32(bytes, at + 8);
          at += 12;
        } else {
          throw NOT_HANDLED;
        }
      } else {
        code = implicitVrCodeOf(tag);
        valueLength = uint32(bytes, at + 4);
        at += 8;
      }
      this.position = at;
      const form = FORM_OF_CODE[code];
      if (valueLength === UNDEFINED_LENGTH) {
        // Encapsulated fragments and UN sequences are left to the general reader; in implicit
        // VR an undefined length says the value is a sequence, whatever the dictionary says.
        if (form !== SEQUENCE && (this.explicitVr || tag === PixelDataTag)) throw NOT_HANDLED;
        this.sequence(dataSet, tag, Infinity, depth);
        continue;
      }
      if (form === SEQUENCE) {
        this.sequence(dataSet, tag, at + valueLength, depth);
        continue;
      }
      const valueEnd = at + valueLength;
      if (valueEnd > length) throw NOT_HANDLED;
      if (valueLength > this.bulkThreshold) {
        if (keep === undefined) dataSet![tagToHex(tag)] = { vr: VR_OF_CODE[code]! };
      } else if (
        keep === undefined || tag === SpecificCharacterSetTag || (topLevel && keep.has(tag))
      ) {
        const element = this.decode(VR_OF_CODE[code]!, at, valueEnd);
        if (tag === SpecificCharacterSetTag) this.charset = charsetOf(element);
        if (dataSet !== undefined) dataSet[tagToHex(tag)] = element;
      }
      this.position = valueEnd;
    }
  }

  /** The items of a sequence, until `end` (Infinity when its length is undefined). */
  sequence(dataSet: DataSet | undefined, tag: Tag, end: number, depth: number): void {
    if (depth >= MAX_DEPTH) throw NOT_HANDLED;
    // A scan walks the items without keeping them.
    let items: DataSet[] | undefined;
    if (this.keep === undefined) {
      items = [];
      dataSet![tagToHex(tag)] = { vr: "SQ", Value: items };
    }
    const bytes = this.bytes;
    // Each item starts with the character set of the data set holding the sequence.
    const charset = this.charset;
    while (true) {
      const at = this.position;
      if (at >= end) {
        if (at > end) throw NOT_HANDLED;
        return;
      }
      if (at + 8 > bytes.length) throw NOT_HANDLED;
      const itemTag = (bytes[at] | bytes[at + 1] << 8) * 0x10000 +
        (bytes[at + 2] | bytes[at + 3] << 8);
      const itemLength = uint32(bytes, at + 4);
      this.position = at + 8;
      if (itemTag === SequenceDelimitationItemTag) {
        if (end !== Infinity) throw NOT_HANDLED;
        return;
      }
      if (itemTag !== ItemTag) throw NOT_HANDLED;
      let item: DataSet | undefined;
      if (items !== undefined) {
        item = {};
        items.push(item);
      }
      this.charset = charset;
      this.elements(
        item,
        itemLength === UNDEFINED_LENGTH ? Infinity : at + 8 + itemLength,
        depth + 1,
      );
      this.charset = charset;
    }
  }

  /** The value from `start` to `end` as the DICOM JSON model holds it. */
  decode(vr: Vr, start: number, end: number): DataElement {
    if (vr === "UI" || vr === "CS") {
      const element = decodeSingleValue(vr, this.bytes, start, end);
      if (element !== undefined) return element;
    }
    // A view: decodeValue copies what it keeps (little endian only here).
    return decodeValue(vr, this.bytes.subarray(start, end), true, this.charset);
  }
}

/** A little endian unsigned 32-bit number. */
function uint32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | bytes[at + 1] << 8 | bytes[at + 2] << 16 | bytes[at + 3] << 24) >>> 0;
}

/**
 * What `decodeValue` gives for a UI or CS value holding one value (no backslash, PS3.5 §6.4),
 * without splitting the text and trimming the parts one by one: the SOP Class and Instance,
 * Study and Series UIDs and the Specific Character Set of nearly every instance. Undefined for
 * several values, left to `decodeValue`. Both VRs are ASCII, read a character a byte as
 * `decodeLatin1` reads them; trailing spaces and NULs are padding (PS3.5 §6.2), and leading
 * spaces are trimmed from a CS value only.
 */
function decodeSingleValue(
  vr: "UI" | "CS",
  bytes: Uint8Array,
  start: number,
  end: number,
): DataElement | undefined {
  let last = end;
  while (last > start && (bytes[last - 1] === 0x20 || bytes[last - 1] === 0x00)) last--;
  let first = start;
  if (vr === "CS") {
    while (first < last && bytes[first] === 0x20) first++;
  }
  if (first === last) return { vr };
  for (let i = first; i < last; i++) if (bytes[i] === 0x5c) return undefined;
  return { vr, Value: [decodeLatin1(bytes.subarray(first, last))] };
}

/**
 * The character sets of the Specific Character Set values met so far, by their terms joined
 * with backslashes (a CS value holds none): a character set builds a text decoder, over half a
 * microsecond, and the instances of a study repeat one value. Senders use few values; the
 * bound only guards against one inventing them.
 */
const CHARSET_OF_TERMS = new Map<string, CharacterSet>();
const CHARSET_CACHE_LIMIT = 64;

function charsetOf(element: DataElement): CharacterSet {
  const values = element.Value ?? [];
  const terms = () => values.map((v) => (v ?? "") as string);
  if (element.vr !== "CS") return new CharacterSet(terms());
  // A single term, the usual case, is its own key: no array to build before the lookup.
  const key = values.length === 1 ? values[0] as string : terms().join("\\");
  let charset = CHARSET_OF_TERMS.get(key);
  if (charset === undefined) {
    charset = new CharacterSet(terms());
    if (CHARSET_OF_TERMS.size < CHARSET_CACHE_LIMIT) CHARSET_OF_TERMS.set(key, charset);
  }
  return charset;
}

/** Size of the buffers that short head copies share (see {@linkcode copyHead}). */
const SHARED_COPY_BUFFER = 16 * 1024;
/** Longest copy cut from a shared buffer: at least four share one. */
const SHARED_COPY_LIMIT = SHARED_COPY_BUFFER / 4;
let sharedCopyBuffer = new Uint8Array(0);
let sharedCopyUsed = 0;

/**
 * A copy of the first `length` bytes of `bytes` (all of them when shorter): the head a caller
 * keeps once the buffers it arrived in are reused. A buffer of its own costs about a
 * microsecond to allocate, half the scan of a typical head, so copies of up to 4 KiB are cut
 * one after another from a buffer of 16 KiB; that buffer is freed once every copy cut from it
 * is dropped (the Storage SCP drops its heads in the order it took them, as their index rows
 * are written). Longer copies get a buffer of their own.
 */
export function copyHead(bytes: Uint8Array, length: number): Uint8Array {
  length = Math.min(length, bytes.length);
  if (length > SHARED_COPY_LIMIT) return bytes.slice(0, length);
  if (sharedCopyUsed + length > sharedCopyBuffer.length) {
    sharedCopyBuffer = new Uint8Array(SHARED_COPY_BUFFER);
    sharedCopyUsed = 0;
  }
  const copy = sharedCopyBuffer.subarray(sharedCopyUsed, sharedCopyUsed + length);
  copy.set(bytes.subarray(0, length));
  sharedCopyUsed += length;
  return copy;
}
