/**
 * Data set writer (PS3.5 §7) for implicit VR little endian, explicit VR little and big endian
 * and deflated explicit VR little endian, with defined or undefined sequence lengths.
 *
 * @module
 */

import { CharacterSet, DEFAULT_CHARACTER_SET } from "./character_set.ts";
import type { DataElement, DataSet } from "./dataset.ts";
import { DataSetError } from "./errors.ts";
import { resolveTransferSyntax } from "./reader.ts";
import {
  ItemDelimitationItemTag,
  ItemTag,
  parseTag,
  SequenceDelimitationItemTag,
  SpecificCharacterSetTag,
  tagToHex,
} from "./tag.ts";
import type { TransferSyntax } from "./transfer_syntax.ts";
import { encodeValue, fromBase64 } from "./value.ts";
import { hasLongLength } from "./vr.ts";

/** Options of the data set writer. */
export interface WriteDataSetOptions {
  /** Transfer syntax UID (or its properties); default implicit VR little endian. */
  transferSyntax?: string | TransferSyntax;
  /** Length form of sequences and items (PS3.5 §7.5.1); default "undefined". */
  sequenceLength?: "defined" | "undefined";
  /** Leave out group 0002 (file meta information, written only by the Part 10 writer); default true. */
  skipFileMetaGroup?: boolean;
}

interface Context {
  explicitVr: boolean;
  littleEndian: boolean;
  definedLength: boolean;
  skipMeta: boolean;
}

const UNDEFINED = 0xffffffff;

function header(ctx: Context, tag: number, vr: string, length: number, key: string): Uint8Array {
  const le = ctx.littleEndian;
  if (!ctx.explicitVr) {
    const out = new Uint8Array(8);
    const v = new DataView(out.buffer);
    v.setUint16(0, Math.floor(tag / 0x10000), le);
    v.setUint16(2, tag & 0xffff, le);
    v.setUint32(4, length, le);
    return out;
  }
  const long = hasLongLength(vr as "OB");
  const out = new Uint8Array(long ? 12 : 8);
  const v = new DataView(out.buffer);
  v.setUint16(0, Math.floor(tag / 0x10000), le);
  v.setUint16(2, tag & 0xffff, le);
  out[4] = vr.charCodeAt(0);
  out[5] = vr.charCodeAt(1);
  if (long) {
    v.setUint32(8, length, le);
  } else {
    if (length > 0xffff) {
      throw new DataSetError(
        "value-too-long",
        `Attribute ${key} (${vr}) is longer than 65534 bytes`,
        { tag: key },
      );
    }
    v.setUint16(6, length, le);
  }
  return out;
}

function delimiter(ctx: Context, tag: number, length: number): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xfffe, ctx.littleEndian);
  v.setUint16(2, tag & 0xffff, ctx.littleEndian);
  v.setUint32(4, length, ctx.littleEndian);
  return out;
}

function sum(parts: Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

function encodeElements(
  dataSet: DataSet,
  ctx: Context,
  inherited: CharacterSet,
  out: Uint8Array[],
): void {
  let charset = inherited;
  const charsetElement = dataSet[tagToHex(SpecificCharacterSetTag)];
  if (charsetElement) {
    charset = new CharacterSet((charsetElement.Value ?? []).map((v) => String(v ?? "")));
  }
  const keys = Object.keys(dataSet).map((k) => {
    const tag = parseTag(k);
    if (tag === undefined) throw new DataSetError("invalid-value", `Key ${k} is not a tag`);
    return [tag, k] as const;
  }).sort((a, b) => a[0] - b[0]);
  for (const [tag, key] of keys) {
    const group = Math.floor(tag / 0x10000);
    if (ctx.skipMeta && group === 0x0002) continue;
    // PS3.5 §7.2: group lengths outside group 0002 are retired; a stale one misleads readers.
    if ((tag & 0xffff) === 0 && group !== 0x0002) continue;
    encodeElement(tag, tagToHex(tag), dataSet[key], ctx, charset, out);
  }
}

function encodeElement(
  tag: number,
  key: string,
  element: DataElement,
  ctx: Context,
  charset: CharacterSet,
  out: Uint8Array[],
): void {
  if (element.vr === "SQ") {
    const body: Uint8Array[] = [];
    for (const item of element.Value ?? []) {
      const content: Uint8Array[] = [];
      encodeElements((item ?? {}) as DataSet, { ...ctx, skipMeta: false }, charset, content);
      if (ctx.definedLength) {
        body.push(delimiter(ctx, ItemTag, sum(content)), ...content);
      } else {
        body.push(
          delimiter(ctx, ItemTag, UNDEFINED),
          ...content,
          delimiter(ctx, ItemDelimitationItemTag, 0),
        );
      }
    }
    if (ctx.definedLength) {
      out.push(header(ctx, tag, "SQ", sum(body), key), ...body);
    } else {
      out.push(
        header(ctx, tag, "SQ", UNDEFINED, key),
        ...body,
        delimiter(ctx, SequenceDelimitationItemTag, 0),
      );
    }
    return;
  }
  if (element.Fragments !== undefined) {
    // PS3.5 §A.4: encapsulated pixel data is OB of undefined length, items of even length.
    out.push(header(ctx, tag, element.vr === "OW" ? "OW" : "OB", UNDEFINED, key));
    for (const fragment of element.Fragments) {
      let bytes = fromBase64(fragment);
      if (bytes.length % 2 === 1) {
        const padded = new Uint8Array(bytes.length + 1);
        padded.set(bytes);
        bytes = padded;
      }
      out.push(delimiter(ctx, ItemTag, bytes.length), bytes);
    }
    out.push(delimiter(ctx, SequenceDelimitationItemTag, 0));
    return;
  }
  const value = encodeValue(key, element, ctx.littleEndian, charset);
  out.push(header(ctx, tag, element.vr, value.length, key), value);
}

/**
 * Encodes a data set as the byte parts of its stream, in tag order, without deflating.
 * Concatenating the parts gives the encoded data set.
 */
export function encodeDataSetParts(
  dataSet: DataSet,
  options: WriteDataSetOptions = {},
): Uint8Array[] {
  const ts = resolveTransferSyntax(options.transferSyntax);
  const ctx: Context = {
    explicitVr: ts.explicitVr,
    littleEndian: ts.littleEndian,
    definedLength: options.sequenceLength === "defined",
    skipMeta: options.skipFileMetaGroup ?? true,
  };
  const out: Uint8Array[] = [];
  encodeElements(dataSet, ctx, DEFAULT_CHARACTER_SET, out);
  return out;
}

/** Joins byte parts into one array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(sum(parts as Uint8Array[]));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Compresses bytes with deflate-raw (RFC 1951) for a deflated transfer syntax (PS3.5 §A.5). */
export async function deflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("deflate-raw"),
  );
  const compressed = new Uint8Array(await new Response(stream).arrayBuffer());
  if (compressed.length % 2 === 0) return compressed;
  // Keep the encoded data set even length, as every DICOM stream is; inflaters stop at the
  // end of the deflate stream and ignore the pad byte.
  const padded = new Uint8Array(compressed.length + 1);
  padded.set(compressed);
  return padded;
}

/** Encodes a data set in the transfer syntax, deflating it when the transfer syntax says so. */
export async function writeDataSet(
  dataSet: DataSet,
  options: WriteDataSetOptions = {},
): Promise<Uint8Array> {
  const ts = resolveTransferSyntax(options.transferSyntax);
  const bytes = concatBytes(encodeDataSetParts(dataSet, options));
  return ts.deflated ? await deflateRaw(bytes) : bytes;
}
