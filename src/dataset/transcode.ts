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
import { isTranscodable, isTranscodeTarget, type TransferSyntax } from "./transfer_syntax.ts";
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

/**
 * Collects output bytes into chunks of a fixed size. A full chunk is handed out and replaced by
 * a fresh buffer; nothing else is allocated per write, so a long value leaves no garbage behind
 * beyond the chunks themselves.
 */
class Output {
  readonly #size: number;
  #buffer: Uint8Array;
  #used = 0;
  /** A number split between two chunks, swapped here before it is copied. */
  readonly #straddling = new Uint8Array(8);
  readonly ready: Uint8Array[] = [];

  constructor(size: number) {
    this.#size = size;
    this.#buffer = new Uint8Array(size);
  }

  /** Copies `bytes[start, end)`. */
  write(bytes: Uint8Array, start = 0, end = bytes.length): void {
    while (start < end) {
      const take = Math.min(end - start, this.#size - this.#used);
      this.#buffer.set(
        take === bytes.length ? bytes : bytes.subarray(start, start + take),
        this.#used,
      );
      this.#used += take;
      start += take;
      if (this.#used === this.#size) this.#next();
    }
  }

  /**
   * Copies `bytes[start, end)`, a whole number of `unit`-byte numbers, reversing the byte order
   * of each (PS3.5 §7.3).
   */
  writeSwapped(bytes: Uint8Array, start: number, end: number, unit: number): void {
    while (start < end) {
      const room = this.#size - this.#used;
      if (room < unit) {
        for (let k = 0; k < unit; k++) this.#straddling[k] = bytes[start + unit - 1 - k];
        this.write(this.#straddling, 0, unit);
        start += unit;
        continue;
      }
      const take = Math.min(end - start, room - room % unit);
      swapInto(bytes, start, take, unit, this.#buffer, this.#used);
      this.#used += take;
      start += take;
      if (this.#used === this.#size) this.#next();
    }
  }

  flush(): void {
    if (this.#used > 0) this.ready.push(this.#buffer.slice(0, this.#used));
    this.#used = 0;
  }

  #next(): void {
    this.ready.push(this.#buffer);
    this.#buffer = new Uint8Array(this.#size);
    this.#used = 0;
  }
}

/** Copies `length` bytes, reversing the byte order of each `unit`-byte number (PS3.5 §7.3). */
function swapInto(
  from: Uint8Array,
  start: number,
  length: number,
  unit: number,
  to: Uint8Array,
  at: number,
): void {
  if (unit === 2) {
    for (let i = 0; i < length; i += 2) {
      to[at + i] = from[start + i + 1];
      to[at + i + 1] = from[start + i];
    }
    return;
  }
  for (let i = 0; i < length; i += unit) {
    const last = start + i + unit - 1;
    for (let k = 0; k < unit; k++) to[at + i + k] = from[last - k];
  }
}

/** Swaps a value arriving in pieces, carrying a number split between two pieces to the next. */
class Swapper {
  #unit = 1;
  readonly #carry = new Uint8Array(8);
  #carried = 0;

  /** Starts a value made of `unit`-byte numbers. */
  start(unit: number): void {
    this.#unit = unit;
    this.#carried = 0;
  }

  piece(bytes: Uint8Array, out: Output): void {
    const unit = this.#unit;
    let at = 0;
    if (this.#carried > 0) {
      const take = Math.min(unit - this.#carried, bytes.length);
      for (let k = 0; k < take; k++) this.#carry[this.#carried + k] = bytes[k];
      this.#carried += take;
      at = take;
      if (this.#carried < unit) return;
      out.writeSwapped(this.#carry, 0, unit, unit);
      this.#carried = 0;
    }
    const usable = Math.floor((bytes.length - at) / unit) * unit;
    if (usable > 0) out.writeSwapped(bytes, at, at + usable, unit);
    const rest = bytes.length - at - usable;
    for (let k = 0; k < rest; k++) this.#carry[k] = bytes[at + usable + k];
    this.#carried = rest;
  }

  end(out: Output): void {
    // A value whose length is not a multiple of its unit is malformed; its tail goes as it is.
    if (this.#carried > 0) out.write(this.#carry, 0, this.#carried);
    this.#carried = 0;
  }
}

/**
 * Headers are built here and copied into the output straight away, with no await in between,
 * so one buffer serves every conversion.
 */
const HEADER = new Uint8Array(12);
const HEADER_VIEW = new DataView(HEADER.buffer);

function tagBytes(at: number, tag: Tag, littleEndian: boolean): void {
  HEADER_VIEW.setUint16(at, Math.floor(tag / 0x10000), littleEndian);
  HEADER_VIEW.setUint16(at + 2, tag & 0xffff, littleEndian);
}

/** Writes an element header in the output encoding (PS3.5 §7.1.2, §7.1.3). */
function writeElementHeader(out: Output, enc: Encoding, tag: Tag, vr: Vr, length: number): void {
  tagBytes(0, tag, enc.littleEndian);
  if (!enc.explicitVr) {
    HEADER_VIEW.setUint32(4, length, enc.littleEndian);
    out.write(HEADER, 0, 8);
    return;
  }
  HEADER[4] = vr.charCodeAt(0);
  HEADER[5] = vr.charCodeAt(1);
  if (hasLongLength(vr)) {
    HEADER_VIEW.setUint16(6, 0);
    HEADER_VIEW.setUint32(8, length, enc.littleEndian);
    out.write(HEADER, 0, 12);
  } else {
    HEADER_VIEW.setUint16(6, length, enc.littleEndian);
    out.write(HEADER, 0, 8);
  }
}

/** Writes an item or delimitation item (PS3.5 §7.5). */
function writeItemHeader(out: Output, enc: Encoding, tag: Tag, length: number): void {
  tagBytes(0, tag, enc.littleEndian);
  HEADER_VIEW.setUint32(4, length, enc.littleEndian);
  out.write(HEADER, 0, 8);
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
  const swapper = new Swapper();
  let swapping = false;
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
        writeElementHeader(out, level.output, token.tag, vr, token.length);
        if (token.value) {
          if (unit > 1) {
            const value = token.value;
            const whole = value.length - value.length % unit;
            out.writeSwapped(value, 0, whole, unit);
            // A value whose length is not a multiple of its unit is malformed; its tail goes as it is.
            out.write(value, whole);
          } else {
            out.write(token.value);
          }
        } else if (token.bulk === "chunked") {
          swapping = unit > 1;
          if (swapping) swapper.start(unit);
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
        if (swapping) swapper.piece(token.bytes, out);
        else out.write(token.bytes);
        break;
      case "value-end":
        if (swapping) swapper.end(out);
        swapping = false;
        skipping = false;
        break;
      case "sequence-start": {
        // PS3.5 §6.2.2: an undefined length UN holds an implicit VR little endian sequence,
        // kept as it is; in implicit VR output it is a sequence like any other.
        const inner: Level = token.vr === "UN"
          ? { input: IMPLICIT_LE, output: IMPLICIT_LE }
          : { input: level.input, output: level.output };
        writeElementHeader(out, level.output, token.tag, token.vr, UNDEFINED_LENGTH);
        levels.push(inner);
        break;
      }
      case "item-start":
        writeItemHeader(out, level.output, ItemTag, UNDEFINED_LENGTH);
        break;
      case "item-end":
        writeItemHeader(out, level.output, ItemDelimitationItemTag, 0);
        break;
      case "sequence-end":
        writeItemHeader(out, level.output, SequenceDelimitationItemTag, 0);
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
