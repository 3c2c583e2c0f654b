/**
 * Streaming conversion of a data set between the uncompressed transfer syntaxes (PS3.5 §10.1,
 * §A.1–§A.3): implicit VR little endian, explicit VR little endian and explicit VR big endian,
 * with deflated explicit VR little endian (§A.5) accepted as a source. It works on the reader's
 * tokens, so memory stays bounded by one chunk whatever the size of the data set; values keep
 * their bytes, swapped per their VR when the byte order changes (PS3.5 §7.3).
 *
 * Sequences and items are written with undefined length (PS3.5 §7.5.1), as their defined
 * lengths change with the VR form and cannot be known before their end. Group length elements
 * (gggg,0000), retired outside group 0002 (PS3.5 §7.2), are left out for the same reason.
 *
 * @module
 */

import { DataSetError } from "./errors.ts";
import { readDataSet, resolveTransferSyntax, UNDEFINED_LENGTH } from "./reader.ts";
import {
  ItemDelimitationItemTag,
  ItemTag,
  SequenceDelimitationItemTag,
  type Tag,
  tagToHex,
} from "./tag.ts";
import type { TransferSyntax } from "./transfer_syntax.ts";
import { hasLongLength, type Vr, VR_PROPERTIES } from "./vr.ts";

/** Options of {@linkcode transcodeDataSet}. */
export interface TranscodeOptions {
  /** Transfer syntax of the source: implicit VR LE, explicit VR LE or BE, or deflated explicit VR LE. */
  from: string | TransferSyntax;
  /** Transfer syntax to write: implicit VR LE, explicit VR LE or explicit VR BE. */
  to: string | TransferSyntax;
  /** Values longer than this are streamed in pieces rather than read whole; default 16384. */
  bulkThreshold?: number;
  /** Size of the chunks yielded; default 65536. */
  chunkSize?: number;
}

interface Encoding {
  explicitVr: boolean;
  littleEndian: boolean;
}

interface Level {
  input: Encoding;
  output: Encoding;
}

const IMPLICIT_LE: Encoding = { explicitVr: false, littleEndian: true };

/** True when data sets in this transfer syntax can be converted by {@linkcode transcodeDataSet}. */
export function isTranscodable(transferSyntax: string | TransferSyntax): boolean {
  const ts = resolveTransferSyntax(transferSyntax);
  if (ts.encapsulated || isReferenced(ts)) return false;
  return !ts.deflated || (ts.explicitVr && ts.littleEndian);
}

/** True when the transfer syntax can be written by {@linkcode transcodeDataSet}. */
export function isTranscodeTarget(transferSyntax: string | TransferSyntax): boolean {
  return isTranscodable(transferSyntax) && !resolveTransferSyntax(transferSyntax).deflated;
}

function isReferenced(ts: TransferSyntax): boolean {
  // JPIP referenced (PS3.5 §A.6) and MIME/XML/SMPTE transfer syntaxes carry no native data set
  // this conversion could rewrite.
  return /^1\.2\.840\.10008\.1\.2\.(4\.9[45]|4\.20[45]|6\.|7\.)/.test(ts.uid);
}

/** Collects output bytes into chunks of a fixed size. */
class Output {
  readonly #size: number;
  #buffer: Uint8Array;
  #used = 0;
  readonly ready: Uint8Array[] = [];

  constructor(size: number) {
    this.#size = size;
    this.#buffer = new Uint8Array(size);
  }

  write(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      const take = Math.min(bytes.length - at, this.#size - this.#used);
      this.#buffer.set(bytes.subarray(at, at + take), this.#used);
      this.#used += take;
      at += take;
      if (this.#used === this.#size) {
        this.ready.push(this.#buffer);
        this.#buffer = new Uint8Array(this.#size);
        this.#used = 0;
      }
    }
  }

  flush(): void {
    if (this.#used > 0) this.ready.push(this.#buffer.slice(0, this.#used));
    this.#used = 0;
  }
}

/** Reverses the byte order of each `unit`-byte number in place (PS3.5 §7.3). */
function swapInPlace(bytes: Uint8Array, unit: number): void {
  for (let i = 0; i + unit <= bytes.length; i += unit) {
    for (let a = i, b = i + unit - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/** Swaps a value arriving in pieces, carrying a number split between two pieces to the next. */
class Swapper {
  readonly unit: number;
  #carry = new Uint8Array(8);
  #carried = 0;

  constructor(unit: number) {
    this.unit = unit;
  }

  piece(bytes: Uint8Array, out: Output): void {
    let at = 0;
    if (this.#carried > 0) {
      const take = Math.min(this.unit - this.#carried, bytes.length);
      this.#carry.set(bytes.subarray(0, take), this.#carried);
      this.#carried += take;
      at = take;
      if (this.#carried < this.unit) return;
      const whole = this.#carry.slice(0, this.unit);
      swapInPlace(whole, this.unit);
      out.write(whole);
      this.#carried = 0;
    }
    const usable = Math.floor((bytes.length - at) / this.unit) * this.unit;
    if (usable > 0) {
      const copy = bytes.slice(at, at + usable);
      swapInPlace(copy, this.unit);
      out.write(copy);
    }
    const rest = bytes.length - at - usable;
    if (rest > 0) {
      this.#carry.set(bytes.subarray(at + usable), 0);
      this.#carried = rest;
    }
  }

  end(out: Output): void {
    // A value whose length is not a multiple of its unit is malformed; its tail goes as it is.
    if (this.#carried > 0) out.write(this.#carry.slice(0, this.#carried));
    this.#carried = 0;
  }
}

function tagBytes(view: DataView, at: number, tag: Tag, littleEndian: boolean): void {
  view.setUint16(at, Math.floor(tag / 0x10000), littleEndian);
  view.setUint16(at + 2, tag & 0xffff, littleEndian);
}

/** An element header in the output encoding (PS3.5 §7.1.2, §7.1.3). */
function elementHeader(enc: Encoding, tag: Tag, vr: Vr, length: number): Uint8Array {
  if (!enc.explicitVr) {
    const out = new Uint8Array(8);
    const view = new DataView(out.buffer);
    tagBytes(view, 0, tag, enc.littleEndian);
    view.setUint32(4, length, enc.littleEndian);
    return out;
  }
  const long = hasLongLength(vr);
  const out = new Uint8Array(long ? 12 : 8);
  const view = new DataView(out.buffer);
  tagBytes(view, 0, tag, enc.littleEndian);
  out[4] = vr.charCodeAt(0);
  out[5] = vr.charCodeAt(1);
  if (long) view.setUint32(8, length, enc.littleEndian);
  else view.setUint16(6, length, enc.littleEndian);
  return out;
}

/** An item or delimitation item (PS3.5 §7.5). */
function itemHeader(enc: Encoding, tag: Tag, length: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  tagBytes(view, 0, tag, enc.littleEndian);
  view.setUint32(4, length, enc.littleEndian);
  return out;
}

/** The VR to write: explicit VR with a 2-byte length cannot carry more than 65535 bytes. */
function outputVr(enc: Encoding, vr: Vr, length: number): Vr {
  // PS3.5 §6.2.2 Note: a value too long for its VR's length field is written as UN.
  if (enc.explicitVr && !hasLongLength(vr) && length > 0xffff) return "UN";
  return vr;
}

/** The size of the numbers to swap in a value of this VR; 1 when none (bytes, text, UN). */
function swapUnit(vr: Vr): number {
  return vr === "UN" ? 1 : VR_PROPERTIES[vr].unitSize;
}

/**
 * Converts an encoded data set from one uncompressed transfer syntax to another, yielding the
 * encoded bytes in chunks. Throws a {@linkcode DataSetError} for a compressed (encapsulated)
 * transfer syntax, which is never transcoded, and for malformed input.
 */
export async function* transcodeDataSet(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: TranscodeOptions,
): AsyncGenerator<Uint8Array, void> {
  const from = resolveTransferSyntax(options.from);
  const to = resolveTransferSyntax(options.to);
  if (!isTranscodable(from)) {
    throw new DataSetError(
      "invalid-value",
      `Data sets in ${from.name} cannot be transcoded: only uncompressed transfer syntaxes can`,
      { tag: "00020010" },
    );
  }
  if (!isTranscodeTarget(to)) {
    throw new DataSetError(
      "invalid-value",
      `Cannot transcode to ${to.name}: only implicit VR little endian, explicit VR little endian and explicit VR big endian`,
      { tag: "00020010" },
    );
  }
  const out = new Output(options.chunkSize ?? 65536);
  const levels: Level[] = [{
    input: { explicitVr: from.explicitVr, littleEndian: from.littleEndian },
    output: { explicitVr: to.explicitVr, littleEndian: to.littleEndian },
  }];
  let swapper: Swapper | undefined;
  let skipping = false;
  const tokens = readDataSet(source, {
    transferSyntax: from,
    bulkThreshold: options.bulkThreshold ?? 16384,
    bulk: "chunks",
  });
  for await (const token of tokens) {
    const level = levels[levels.length - 1];
    switch (token.kind) {
      case "element": {
        // PS3.5 §7.2: group lengths (other than group 0002's) are retired and would be wrong.
        if ((token.tag & 0xffff) === 0) {
          skipping = token.bulk === "chunked";
          break;
        }
        const swap = level.input.littleEndian !== level.output.littleEndian;
        const unit = swap ? swapUnit(token.vr) : 1;
        const vr = outputVr(level.output, token.vr, token.length);
        out.write(elementHeader(level.output, token.tag, vr, token.length));
        if (token.value) {
          if (unit > 1) {
            const copy = token.value.slice();
            swapInPlace(copy, unit);
            out.write(copy);
          } else {
            out.write(token.value);
          }
        } else if (token.bulk === "chunked") {
          swapper = unit > 1 ? new Swapper(unit) : undefined;
        } else {
          throw new DataSetError(
            "bulk-data-not-available",
            `Value of ${tagToHex(token.tag)} was not read`,
            { tag: tagToHex(token.tag), offset: token.offset },
          );
        }
        break;
      }
      case "value-chunk":
        if (skipping) break;
        if (swapper) swapper.piece(token.bytes, out);
        else out.write(token.bytes);
        break;
      case "value-end":
        swapper?.end(out);
        swapper = undefined;
        skipping = false;
        break;
      case "sequence-start": {
        // PS3.5 §6.2.2: an undefined length UN holds an implicit VR little endian sequence,
        // kept as it is; in implicit VR output it is a sequence like any other.
        const inner: Level = token.vr === "UN"
          ? { input: IMPLICIT_LE, output: IMPLICIT_LE }
          : { input: level.input, output: level.output };
        out.write(elementHeader(level.output, token.tag, token.vr, UNDEFINED_LENGTH));
        levels.push(inner);
        break;
      }
      case "item-start":
        out.write(itemHeader(level.output, ItemTag, UNDEFINED_LENGTH));
        break;
      case "item-end":
        out.write(itemHeader(level.output, ItemDelimitationItemTag, 0));
        break;
      case "sequence-end":
        out.write(itemHeader(level.output, SequenceDelimitationItemTag, 0));
        levels.pop();
        break;
      case "fragments-start":
        throw new DataSetError(
          "invalid-value",
          `Encapsulated ${tagToHex(token.tag)} in ${from.name}: compressed data is not transcoded`,
          { tag: tagToHex(token.tag), offset: token.offset },
        );
      case "fragment":
      case "stopped":
        break;
    }
    if (out.ready.length > 0) {
      yield* out.ready;
      out.ready.length = 0;
    }
  }
  out.flush();
  yield* out.ready;
}
