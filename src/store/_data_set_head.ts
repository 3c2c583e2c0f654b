/**
 * The head of a received data set read synchronously from bytes in memory, up to a tag (Pixel
 * Data), into the DICOM JSON model: the Storage SCP's fast path for the checks and the index.
 * It gives what `readWholeDataSet` (src/dataset/reader.ts) gives for the same bytes and options,
 * or undefined whenever the bytes hold anything it does not take on (big endian, deflate,
 * encapsulated fragments before the stop, UN of undefined length, nesting deeper than 64, a
 * malformed or truncated encoding): the caller then uses that reader, which also reports the
 * errors. Little endian only (PS3.5 §7.1, Annex A.1, A.2).
 *
 * @module
 */
import { CharacterSet, DEFAULT_CHARACTER_SET } from "../dataset/character_set.ts";
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
import { hasLongLength, type Vr, vrOfBytes } from "../dataset/vr.ts";

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

/** Thrown inside the parser when the bytes need the general reader. */
class NotHandled extends Error {}

interface Level {
  dataSet: DataSet;
  charset: CharacterSet;
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
    parser.elements({ dataSet: root, charset: DEFAULT_CHARACTER_SET }, undefined, 0);
  } catch (error) {
    if (error instanceof NotHandled) return undefined;
    // A value the decoder rejects: the general reader says why.
    return undefined;
  }
  return { dataSet: root, stopped: parser.stopped, length: parser.position };
}

class HeadParser {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly explicitVr: boolean;
  readonly stopAtTag: Tag;
  readonly bulkThreshold: number;
  /** When set, only these top level tags are decoded (a scan); else every element is. */
  readonly keep: ReadonlySet<Tag> | undefined;
  position = 0;
  stopped = false;

  constructor(
    bytes: Uint8Array,
    explicitVr: boolean,
    stopAtTag: Tag,
    bulkThreshold: number,
    keep: ReadonlySet<Tag> | undefined,
  ) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.explicitVr = explicitVr;
    this.stopAtTag = stopAtTag;
    this.bulkThreshold = bulkThreshold;
    this.keep = keep;
  }

  need(n: number): void {
    if (this.position + n > this.bytes.length) throw new NotHandled();
  }

  tagAt(at: number): Tag {
    return this.view.getUint16(at, true) * 0x10000 + this.view.getUint16(at + 2, true);
  }

  /** The elements of a data set (depth 0) or item, until `end`, an item delimiter or the stop. */
  elements(level: Level, end: number | undefined, depth: number): void {
    const topLevel = depth === 0;
    const length = this.bytes.length;
    while (true) {
      if (end !== undefined) {
        if (this.position === end) return;
        if (this.position > end) throw new NotHandled();
      } else if (topLevel && this.position === length) {
        return;
      }
      this.need(8);
      const at = this.position;
      const tag = this.tagAt(at);
      if (topLevel && tag >= this.stopAtTag) {
        this.stopped = true;
        return;
      }
      if (tag === ItemDelimitationItemTag) {
        if (end !== undefined || topLevel) throw new NotHandled();
        this.position += 8;
        return;
      }
      if (tag === SequenceDelimitationItemTag || tag === ItemTag) throw new NotHandled();
      let vr: Vr;
      let valueLength: number;
      if (this.explicitVr) {
        const known = vrOfBytes(this.bytes[at + 4], this.bytes[at + 5]);
        if (known === undefined) throw new NotHandled();
        vr = known;
        if (hasLongLength(vr)) {
          this.need(12);
          valueLength = this.view.getUint32(at + 8, true);
          this.position += 12;
        } else {
          valueLength = this.view.getUint16(at + 6, true);
          this.position += 8;
        }
      } else {
        vr = vrOf(tag);
        valueLength = this.view.getUint32(at + 4, true);
        this.position += 8;
      }
      if (valueLength === UNDEFINED_LENGTH) {
        // Encapsulated fragments and UN sequences are left to the general reader.
        if (vr !== "SQ" && (this.explicitVr || tag === PixelDataTag)) throw new NotHandled();
        this.sequence(level, tag, undefined, depth);
        continue;
      }
      if (vr === "SQ") {
        this.sequence(level, tag, valueLength, depth);
        continue;
      }
      this.need(valueLength);
      if (valueLength > this.bulkThreshold) {
        if (this.keep === undefined) level.dataSet[tagToHex(tag)] = { vr };
      } else if (
        this.keep === undefined || tag === SpecificCharacterSetTag ||
        (topLevel && this.keep.has(tag))
      ) {
        // A view: decodeValue copies what it keeps (little endian only here).
        const value = this.bytes.subarray(this.position, this.position + valueLength);
        const element = decodeValue(vr, value, true, level.charset);
        if (tag === SpecificCharacterSetTag) level.charset = charsetOf(element);
        level.dataSet[tagToHex(tag)] = element;
      }
      this.position += valueLength;
    }
  }

  sequence(level: Level, tag: Tag, length: number | undefined, depth: number): void {
    if (depth >= MAX_DEPTH) throw new NotHandled();
    const element: DataElement = { vr: "SQ", Value: [] };
    // A scan walks the items without keeping them.
    if (this.keep === undefined) level.dataSet[tagToHex(tag)] = element;
    const end = length === undefined ? undefined : this.position + length;
    while (true) {
      if (end !== undefined && this.position >= end) {
        if (this.position > end) throw new NotHandled();
        return;
      }
      this.need(8);
      const itemTag = this.tagAt(this.position);
      const itemLength = this.view.getUint32(this.position + 4, true);
      this.position += 8;
      if (itemTag === SequenceDelimitationItemTag) {
        if (end !== undefined) throw new NotHandled();
        return;
      }
      if (itemTag !== ItemTag) throw new NotHandled();
      const item: DataSet = {};
      element.Value!.push(item);
      const defined = itemLength !== UNDEFINED_LENGTH;
      this.elements(
        { dataSet: item, charset: level.charset },
        defined ? this.position + itemLength : undefined,
        depth + 1,
      );
    }
  }
}

function charsetOf(element: DataElement): CharacterSet {
  return new CharacterSet((element.Value ?? []).map((v) => (v ?? "") as string));
}
