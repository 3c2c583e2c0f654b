/**
 * Streaming data set reader (PS3.5 §7) for implicit VR little endian, explicit VR little and
 * big endian and deflated explicit VR little endian, over chunks split anywhere.
 *
 * @module
 */

import { ByteStream } from "./byte_stream.ts";
import { CharacterSet, DEFAULT_CHARACTER_SET } from "./character_set.ts";
import type { DataElement, DataSet } from "./dataset.ts";
import { vrOf } from "./dictionary.ts";
import { DataSetError } from "./errors.ts";
import {
  ItemDelimitationItemTag,
  ItemTag,
  PixelDataTag,
  SequenceDelimitationItemTag,
  SpecificCharacterSetTag,
  type Tag,
  tagToHex,
} from "./tag.ts";
import {
  ImplicitVrLittleEndian,
  type TransferSyntax,
  transferSyntaxOf,
} from "./transfer_syntax.ts";
import { decodeLatin1 } from "./character_set.ts";
import { decodeValue, toBase64 } from "./value.ts";
import { hasLongLength, isVr, type Vr } from "./vr.ts";

/** The length value meaning "undefined length" (PS3.5 §7.1.1). */
export const UNDEFINED_LENGTH = 0xffffffff;

/** A data element with its value (or, for a bulk value, without it). */
export interface ElementToken {
  /** Discriminant. */
  kind: "element";
  /** The tag. */
  tag: Tag;
  /** The VR, from the wire (explicit VR) or the dictionary (implicit VR). */
  vr: Vr;
  /** The value length. */
  length: number;
  /** The value field in the transfer syntax's byte order; absent for a skipped or chunked bulk value. */
  value?: Uint8Array;
  /** "skipped" when the bulk value was passed over, "chunked" when value-chunk tokens follow. */
  bulk?: "skipped" | "chunked";
  /** Offset of the tag in the stream. */
  offset: number;
  /** Nesting depth, 0 for the top level data set. */
  depth: number;
}

/** A piece of a chunked bulk value; a value-end token follows the last. */
export interface ValueChunkToken {
  /** Discriminant. */
  kind: "value-chunk";
  /** The bytes, valid only until the next token is requested. */
  bytes: Uint8Array;
}

/** The end of a chunked bulk value. */
export interface ValueEndToken {
  /** Discriminant. */
  kind: "value-end";
}

/** The start of a sequence (PS3.5 §7.5). */
export interface SequenceStartToken {
  /** Discriminant. */
  kind: "sequence-start";
  /** The tag. */
  tag: Tag;
  /** SQ, or UN for an undefined length UN read as an implicit VR sequence (PS3.5 §6.2.2). */
  vr: "SQ" | "UN";
  /** The length, undefined for undefined length. */
  length: number | undefined;
  /** Offset of the tag in the stream. */
  offset: number;
  /** Nesting depth of the sequence element. */
  depth: number;
}

/** The start of an item of a sequence. */
export interface ItemStartToken {
  /** Discriminant. */
  kind: "item-start";
  /** The item length, undefined for undefined length. */
  length: number | undefined;
}

/** The end of an item. */
export interface ItemEndToken {
  /** Discriminant. */
  kind: "item-end";
}

/** The end of a sequence or of encapsulated pixel data. */
export interface SequenceEndToken {
  /** Discriminant. */
  kind: "sequence-end";
}

/** The start of encapsulated pixel data (PS3.5 §A.4). */
export interface FragmentsStartToken {
  /** Discriminant. */
  kind: "fragments-start";
  /** The tag, normally (7FE0,0010). */
  tag: Tag;
  /** OB or OW as on the wire. */
  vr: Vr;
  /** Offset of the tag in the stream. */
  offset: number;
  /** Nesting depth. */
  depth: number;
}

/** One item of encapsulated pixel data: the Basic Offset Table first, then fragments. */
export interface FragmentToken {
  /** Discriminant. */
  kind: "fragment";
  /** The item length. */
  length: number;
  /** The bytes; absent for a skipped or chunked bulk fragment. */
  value?: Uint8Array;
  /** As for elements. */
  bulk?: "skipped" | "chunked";
}

/** The reader stopped before `stopAtTag`; the tag at `offset` was not consumed. */
export interface StoppedToken {
  /** Discriminant. */
  kind: "stopped";
  /** The first tag at or after stopAtTag. */
  tag: Tag;
  /** Offset of that tag in the (inflated) stream. */
  offset: number;
}

/** What the reader yields, in stream order. */
export type DataSetToken =
  | ElementToken
  | ValueChunkToken
  | ValueEndToken
  | SequenceStartToken
  | ItemStartToken
  | ItemEndToken
  | SequenceEndToken
  | FragmentsStartToken
  | FragmentToken
  | StoppedToken;

/** Options of the data set reader. */
export interface ReadDataSetOptions {
  /** Transfer syntax UID (or its properties); default implicit VR little endian. */
  transferSyntax?: string | TransferSyntax;
  /** Stop at the first top level tag greater than or equal to this one, before reading it. */
  stopAtTag?: Tag;
  /** Values (and fragments) longer than this are bulk values; default: none is. */
  bulkThreshold?: number;
  /** What to do with bulk values: deliver as value-chunk tokens (default) or skip them. */
  bulk?: "chunks" | "skip";
  /** Deepest nesting of sequences accepted; default 64. */
  maxDepth?: number;
}

interface Encoding {
  explicitVr: boolean;
  littleEndian: boolean;
}

const IMPLICIT_LE: Encoding = { explicitVr: false, littleEndian: true };

/** Inflates a deflate-raw stream (RFC 1951), as used by deflated transfer syntaxes (PS3.5 §A.5). */
export async function* inflateRaw(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const { createInflateRaw } = await import("node:zlib");
  const inflater = createInflateRaw();
  const pump = (async () => {
    try {
      for await (const chunk of source) {
        if (!inflater.write(chunk)) await new Promise((r) => inflater.once("drain", r));
      }
      inflater.end();
    } catch (error) {
      inflater.destroy(error as Error);
    }
  })();
  try {
    for await (const chunk of inflater) yield new Uint8Array(chunk as Uint8Array);
  } catch (error) {
    throw new DataSetError(
      "invalid-value",
      `Deflated data set is corrupt: ${(error as Error).message}`,
    );
  }
  await pump;
}

class Reader {
  readonly stream: ByteStream;
  readonly options: ReadDataSetOptions;
  readonly maxDepth: number;

  constructor(stream: ByteStream, options: ReadDataSetOptions) {
    this.stream = stream;
    this.options = options;
    this.maxDepth = options.maxDepth ?? 64;
  }

  async readTag(enc: Encoding): Promise<Tag> {
    const b = await this.stream.read(4);
    const v = new DataView(b.buffer, b.byteOffset, 4);
    return v.getUint16(0, enc.littleEndian) * 0x10000 + v.getUint16(2, enc.littleEndian);
  }

  async readUint32(enc: Encoding): Promise<number> {
    const b = await this.stream.read(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, enc.littleEndian);
  }

  /** Yields the elements of a data set or item until `end`, an item delimiter, or end of data. */
  async *elements(
    enc: Encoding,
    end: number | undefined,
    depth: number,
  ): AsyncGenerator<DataSetToken, void> {
    const s = this.stream;
    const topLevel = depth === 0;
    while (true) {
      if (end !== undefined) {
        if (s.position === end) return;
        if (s.position > end) {
          throw new DataSetError("invalid-length", "Element runs past the end of its item", {
            offset: s.position,
          });
        }
      } else if (topLevel && await s.atEnd()) {
        return;
      }
      const offset = s.position;
      if (topLevel && this.options.stopAtTag !== undefined) {
        const head = await s.peek(4);
        if (head) {
          const v = new DataView(head.buffer, head.byteOffset, 4);
          const tag = v.getUint16(0, enc.littleEndian) * 0x10000 + v.getUint16(2, enc.littleEndian);
          if (tag >= this.options.stopAtTag) {
            yield { kind: "stopped", tag, offset };
            return;
          }
        }
      }
      const tag = await this.readTag(enc);
      if (tag === ItemDelimitationItemTag) {
        await s.read(4);
        if (end !== undefined || topLevel) {
          throw new DataSetError(
            "invalid-item",
            "Item Delimitation Item outside an undefined length item",
            {
              offset,
            },
          );
        }
        return;
      }
      if (tag === SequenceDelimitationItemTag || tag === ItemTag) {
        throw new DataSetError("invalid-item", `Unexpected ${tagToHex(tag)} among data elements`, {
          offset,
        });
      }
      let vr: Vr;
      let length: number;
      if (enc.explicitVr) {
        const vrBytes = await s.read(2);
        const text = String.fromCharCode(vrBytes[0], vrBytes[1]);
        if (!isVr(text)) {
          throw new DataSetError(
            "invalid-vr",
            `Element ${tagToHex(tag)} has invalid VR ${JSON.stringify(text)}`,
            {
              tag: tagToHex(tag),
              offset,
            },
          );
        }
        vr = text;
        if (hasLongLength(vr)) {
          await s.read(2);
          length = await this.readUint32(enc);
        } else {
          const b = await s.read(2);
          length = new DataView(b.buffer, b.byteOffset, 2).getUint16(0, enc.littleEndian);
        }
      } else {
        vr = vrOf(tag);
        length = await this.readUint32(enc);
      }
      if (length === UNDEFINED_LENGTH) {
        if (vr === "SQ" || (!enc.explicitVr && tag !== PixelDataTag)) {
          yield* this.sequence(enc, tag, "SQ", undefined, offset, depth);
        } else if (vr === "UN") {
          // PS3.5 §6.2.2: UN of undefined length holds an implicit VR little endian sequence.
          yield* this.sequence(IMPLICIT_LE, tag, "UN", undefined, offset, depth);
        } else {
          yield* this.fragments(enc, tag, enc.explicitVr ? vr : "OB", offset, depth);
        }
        continue;
      }
      if (vr === "SQ") {
        yield* this.sequence(enc, tag, "SQ", length, offset, depth);
        continue;
      }
      yield* this.value(tag, vr, length, offset, depth);
    }
  }

  async *value(
    tag: Tag,
    vr: Vr,
    length: number,
    offset: number,
    depth: number,
  ): AsyncGenerator<DataSetToken> {
    const threshold = this.options.bulkThreshold ?? Infinity;
    if (length <= threshold) {
      yield {
        kind: "element",
        tag,
        vr,
        length,
        value: await this.stream.readCopy(length),
        offset,
        depth,
      };
      return;
    }
    if (this.options.bulk === "skip") {
      await this.stream.skip(length);
      yield { kind: "element", tag, vr, length, bulk: "skipped", offset, depth };
      return;
    }
    yield { kind: "element", tag, vr, length, bulk: "chunked", offset, depth };
    for await (const bytes of this.stream.pieces(length)) yield { kind: "value-chunk", bytes };
    yield { kind: "value-end" };
  }

  async *sequence(
    enc: Encoding,
    tag: Tag,
    vr: "SQ" | "UN",
    length: number | undefined,
    offset: number,
    depth: number,
  ): AsyncGenerator<DataSetToken> {
    if (depth >= this.maxDepth) {
      throw new DataSetError("nesting-too-deep", `Sequences nest deeper than ${this.maxDepth}`, {
        tag: tagToHex(tag),
        offset,
      });
    }
    const s = this.stream;
    yield { kind: "sequence-start", tag, vr, length, offset, depth };
    const end = length === undefined ? undefined : s.position + length;
    while (true) {
      if (end !== undefined && s.position >= end) {
        if (s.position > end) {
          throw new DataSetError(
            "invalid-length",
            `Sequence ${tagToHex(tag)} overruns its length`,
            { offset },
          );
        }
        break;
      }
      const itemOffset = s.position;
      const itemTag = await this.readTag(enc);
      const itemLength = await this.readUint32(enc);
      if (itemTag === SequenceDelimitationItemTag) {
        if (end !== undefined) {
          throw new DataSetError(
            "invalid-item",
            "Sequence Delimitation Item in a defined length sequence",
            {
              offset: itemOffset,
            },
          );
        }
        break;
      }
      if (itemTag !== ItemTag) {
        throw new DataSetError(
          "invalid-item",
          `Expected an Item in ${tagToHex(tag)}, found ${tagToHex(itemTag)}`,
          {
            tag: tagToHex(tag),
            offset: itemOffset,
          },
        );
      }
      const defined = itemLength !== UNDEFINED_LENGTH;
      yield { kind: "item-start", length: defined ? itemLength : undefined };
      yield* this.elements(enc, defined ? s.position + itemLength : undefined, depth + 1);
      yield { kind: "item-end" };
    }
    yield { kind: "sequence-end" };
  }

  async *fragments(
    enc: Encoding,
    tag: Tag,
    vr: Vr,
    offset: number,
    depth: number,
  ): AsyncGenerator<DataSetToken> {
    const s = this.stream;
    yield { kind: "fragments-start", tag, vr, offset, depth };
    const threshold = this.options.bulkThreshold ?? Infinity;
    while (true) {
      const itemOffset = s.position;
      const itemTag = await this.readTag(enc);
      const length = await this.readUint32(enc);
      if (itemTag === SequenceDelimitationItemTag) break;
      if (itemTag !== ItemTag || length === UNDEFINED_LENGTH) {
        throw new DataSetError(
          "invalid-item",
          `Encapsulated ${tagToHex(tag)} holds ${tagToHex(itemTag)}, not a fragment`,
          {
            offset: itemOffset,
          },
        );
      }
      if (length <= threshold) {
        yield { kind: "fragment", length, value: await s.readCopy(length) };
      } else if (this.options.bulk === "skip") {
        await s.skip(length);
        yield { kind: "fragment", length, bulk: "skipped" };
      } else {
        yield { kind: "fragment", length, bulk: "chunked" };
        for await (const bytes of s.pieces(length)) yield { kind: "value-chunk", bytes };
        yield { kind: "value-end" };
      }
    }
    yield { kind: "sequence-end" };
  }
}

function encodingOf(ts: TransferSyntax): Encoding {
  return { explicitVr: ts.explicitVr, littleEndian: ts.littleEndian };
}

/** Resolves the transfer syntax option; implicit VR little endian when absent. */
export function resolveTransferSyntax(option: string | TransferSyntax | undefined): TransferSyntax {
  if (option === undefined) return transferSyntaxOf(ImplicitVrLittleEndian)!;
  if (typeof option !== "string") return option;
  const ts = transferSyntaxOf(option);
  if (!ts) {
    throw new DataSetError("invalid-value", "Transfer syntax UID is empty", { tag: "00020010" });
  }
  return ts;
}

/**
 * Reads a data set as a stream of tokens, holding at most one non-bulk value at a time.
 * A deflated transfer syntax is inflated on the way in.
 */
export async function* readDataSet(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ReadDataSetOptions = {},
): AsyncGenerator<DataSetToken, void> {
  const ts = resolveTransferSyntax(options.transferSyntax);
  const input = ts.deflated ? inflateRaw(toAsyncIterable(source)) : source;
  const reader = new Reader(new ByteStream(input), options);
  yield* reader.elements(encodingOf(ts), undefined, 0);
}

async function* toAsyncIterable(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  yield* source;
}

/** The result of reading a whole data set. */
export interface WholeDataSet {
  /** The data set in the DICOM JSON model. */
  dataSet: DataSet;
  /** Set when reading stopped at `stopAtTag`: the tag found and its offset. */
  stopped?: { tag: Tag; offset: number };
}

interface Level {
  dataSet: DataSet;
  charset: CharacterSet;
}

function charsetOf(element: DataElement): CharacterSet {
  return new CharacterSet((element.Value ?? []).map((v) => (v ?? "") as string));
}

/**
 * Reads a whole data set into memory as the DICOM JSON model. Skipped bulk values appear with
 * their VR and no value; chunked bulk values are gathered (so set `bulk: "skip"` to leave them).
 */
export async function readWholeDataSet(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ReadDataSetOptions = {},
): Promise<WholeDataSet> {
  const ts = resolveTransferSyntax(options.transferSyntax);
  const root: DataSet = {};
  const levels: Level[] = [{ dataSet: root, charset: DEFAULT_CHARACTER_SET }];
  // Sequence/fragment elements being filled, innermost last.
  const open: { element: DataElement; littleEndian: boolean }[] = [];
  let pending: { tag: Tag; vr: Vr; parts: Uint8Array[]; fragment: boolean } | undefined;
  let stopped: WholeDataSet["stopped"];
  let littleEndian = ts.littleEndian;
  const finish = (tag: Tag, vr: Vr, bytes: Uint8Array) => {
    const level = levels[levels.length - 1];
    const element = decodeValue(vr, bytes, littleEndian, level.charset);
    if (tag === SpecificCharacterSetTag) level.charset = charsetOf(element);
    level.dataSet[tagToHex(tag)] = element;
  };
  for await (const token of readDataSet(source, options)) {
    switch (token.kind) {
      case "element":
        if (token.value) finish(token.tag, token.vr, token.value);
        else if (token.bulk === "skipped") {
          levels[levels.length - 1].dataSet[tagToHex(token.tag)] = { vr: token.vr };
        } else pending = { tag: token.tag, vr: token.vr, parts: [], fragment: false };
        break;
      case "value-chunk":
        pending?.parts.push(token.bytes.slice());
        break;
      case "value-end": {
        if (!pending) break;
        const bytes = concat(pending.parts);
        if (pending.fragment) open[open.length - 1].element.Fragments!.push(toBase64(bytes));
        else finish(pending.tag, pending.vr, bytes);
        pending = undefined;
        break;
      }
      case "sequence-start": {
        const element: DataElement = { vr: "SQ", Value: [] };
        levels[levels.length - 1].dataSet[tagToHex(token.tag)] = element;
        open.push({ element, littleEndian });
        if (token.vr === "UN") littleEndian = true;
        break;
      }
      case "item-start": {
        const item: DataSet = {};
        open[open.length - 1].element.Value!.push(item);
        levels.push({ dataSet: item, charset: levels[levels.length - 1].charset });
        break;
      }
      case "item-end":
        levels.pop();
        break;
      case "fragments-start": {
        const element: DataElement = { vr: token.vr, Fragments: [] };
        levels[levels.length - 1].dataSet[tagToHex(token.tag)] = element;
        open.push({ element, littleEndian });
        break;
      }
      case "fragment":
        if (token.value) open[open.length - 1].element.Fragments!.push(toBase64(token.value));
        else if (token.bulk === "chunked") {
          pending = { tag: 0, vr: "OB", parts: [], fragment: true };
        }
        break;
      case "sequence-end": {
        const closed = open.pop();
        if (closed) littleEndian = closed.littleEndian;
        break;
      }
      case "stopped":
        stopped = { tag: token.tag, offset: token.offset };
        break;
    }
  }
  return stopped ? { dataSet: root, stopped } : { dataSet: root };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decodes the text of a UI or CS value read from the wire (no character set applies). */
export function decodeAsciiValue(bytes: Uint8Array): string {
  return decodeLatin1(bytes).replace(/[\0 ]+$/, "");
}
