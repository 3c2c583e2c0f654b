/**
 * P-DATA streaming (PS3.8 §9.3.5, Annex E): {@link PduStreamReader} frames the bytes of a
 * socket into PDUs and PDV fragments as they arrive, and {@link PDataWriter} fragments commands
 * and data sets into P-DATA-TF PDUs no longer than the peer accepts. Both run in a Wasm codec
 * instance of their own; data set bytes are copied once and never held whole.
 *
 * @module
 */
import { newCodecInstance } from "./_wasm.ts";
import type { CodecInstance } from "./_wasm.ts";
import { PduError } from "./errors.ts";

/** Something the reader found in the byte stream. */
export type PduStreamEvent =
  | PduStreamPduEvent
  | PduStreamPDataTfEvent
  | PduStreamPdvEvent
  | PduStreamPdvDataEvent;

/** A whole PDU other than P-DATA-TF, header included (an owned copy). */
export interface PduStreamPduEvent {
  /** Event discriminator. */
  kind: "pdu";
  /** PDU type (PS3.8 Table 9-11): 1–3 and 5–7. */
  pduType: number;
  /** The whole PDU, header included. */
  bytes: Uint8Array;
}

/** The header of a P-DATA-TF PDU was read (PS3.8 §9.3.5). */
export interface PduStreamPDataTfEvent {
  /** Event discriminator. */
  kind: "p-data-tf";
  /** The PDU length: the bytes of its variable field. */
  length: number;
}

/**
 * The header of a PDV item was read (PS3.8 §9.3.5.1, Annex E.2). One or more `pdv-data`
 * events follow, the last of them with `endOfPdv` set (also for an empty fragment).
 */
export interface PduStreamPdvEvent {
  /** Event discriminator. */
  kind: "pdv";
  /** Presentation context id (odd, 1–255). */
  presentationContextId: number;
  /** Message control header bit 0: a command fragment, else a data set fragment. */
  isCommand: boolean;
  /** Message control header bit 1: the last fragment of the command or data set. */
  isLast: boolean;
  /** Fragment length: the item length less the 2 bytes of context id and control header. */
  length: number;
}

/** A piece of the current PDV's fragment, as it arrived (an owned copy). */
export interface PduStreamPdvDataEvent {
  /** Event discriminator. */
  kind: "pdv-data";
  /** The bytes. */
  bytes: Uint8Array;
  /** Whether these are the fragment's final bytes. */
  endOfPdv: boolean;
}

/** Options of {@link PduStreamReader}. */
export interface PduStreamReaderOptions {
  /**
   * Our maximum receive length: the largest variable field of a P-DATA-TF PDU we accept
   * (PS3.8 Annex D.1); 0 means unlimited. Default 65536.
   */
  maxPDataTfLength?: number;
  /** The largest PDU length of any other PDU (A-ASSOCIATE-RQ/AC and the rest). Default 1 MiB. */
  maxOtherPduLength?: number;
}

// Event kinds, as in wasm/assembly/pdata.ts.
const EV_PDU = 1;
const EV_P_DATA_TF = 2;
const EV_PDV = 3;
const EV_PDV_DATA = 4;

const ERROR_CODES = [
  "",
  "pdu-type-unrecognized",
  "pdu-length-exceeds-maximum",
  "missing-item",
  "item-too-short",
  "length-overrun",
  "invalid-value",
];

const PDU_NAMES = [
  "pdu",
  "a-associate-rq",
  "a-associate-ac",
  "a-associate-rj",
  "p-data-tf",
  "a-release-rq",
  "a-release-rp",
  "a-abort",
];

const ERROR_FIELDS = [
  "",
  "pdu.type",
  "pdu.length",
  "presentation-data-value-item.header",
  "presentation-data-value-item.length",
  "presentation-data-value-item.presentation-context-id",
  "presentation-data-value-item",
];

const EMPTY = new Uint8Array(0);

/** Size of the input region offered by default. */
const DEFAULT_INPUT = 65536;

function readerError(codec: CodecInstance): PduError {
  const code = ERROR_CODES[codec.fn.pdata_error_code()] ?? "invalid-pdu";
  const fieldCode = codec.fn.pdata_error_field();
  let field = ERROR_FIELDS[fieldCode & 0xff] ?? "pdu";
  if ((fieldCode & 0xff) === 2) field = `${PDU_NAMES[(fieldCode >> 8) & 0xff] ?? "pdu"}.length`;
  return new PduError(code, field, { abortReason: codec.fn.pdata_error_reason() });
}

function checkLength(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${name} must be an integer from 0 to 4294967295, got ${value}`);
  }
  return value;
}

/** Size of the reusable buffers pdv-data bytes are copied into (a read is at most this). */
const SLAB_SIZE = 256 * 1024;
/** Runs with fewer bytes than this get a buffer of their own, never reused. */
const SLAB_MIN = 16 * 1024;
/** Buffers kept for reuse, shared by every reader of the process. */
const SLAB_POOL_LIMIT = 16;
const slabPool: Uint8Array[] = [];
/** For each pdv-data view of a reusable buffer: that buffer. */
const SLAB_OF_VIEW = new WeakMap<Uint8Array, Uint8Array>();
/** For each reusable buffer handed out: how many of its views are not given back yet. */
const VIEWS_OUT = new WeakMap<Uint8Array, number>();

/** A buffer for `total` bytes cut into `views` views: a reused one when it fits. */
function takeSlab(total: number, views: number): Uint8Array {
  if (total < SLAB_MIN || total > SLAB_SIZE) return new Uint8Array(total);
  const slab = slabPool.pop() ?? new Uint8Array(SLAB_SIZE);
  VIEWS_OUT.set(slab, views);
  return slab;
}

/**
 * Gives back the bytes of a pdv-data event once they are copied or written and no longer
 * referenced: when every view of its buffer is given back, the buffer is reused for a later
 * read instead of left to the garbage collector, which keeps memory flat while large data sets
 * stream through. Only for a consumer that owns the bytes and drops them: after this call the
 * view may be overwritten. Bytes of other origins, and a second call, are ignored.
 */
export function releasePdvBytes(bytes: Uint8Array): void {
  const slab = SLAB_OF_VIEW.get(bytes);
  if (slab === undefined) return;
  SLAB_OF_VIEW.delete(bytes);
  const left = (VIEWS_OUT.get(slab) ?? 1) - 1;
  if (left > 0) {
    VIEWS_OUT.set(slab, left);
    return;
  }
  VIEWS_OUT.delete(slab);
  if (slabPool.length < SLAB_POOL_LIMIT) slabPool.push(slab);
}

/**
 * Frames a byte stream split at any boundary into PDUs (PS3.8 §9.3.1). Non-P-DATA PDUs are
 * delivered whole; P-DATA-TF PDUs as their header, then each PDV's header and its fragment in
 * pieces as the bytes arrive, so a data set of any size flows through in constant memory.
 * A malformed stream throws {@link PduError} carrying the A-ABORT reason (PS3.8 Table 9-26);
 * the events of that call are dropped and every later call throws the same error.
 */
export class PduStreamReader {
  #codec: CodecInstance;
  #error: PduError | undefined;

  /** Creates a reader with a codec instance of its own. */
  constructor(options: PduStreamReaderOptions = {}) {
    const maxPData = checkLength("maxPDataTfLength", options.maxPDataTfLength ?? 65536);
    const maxOther = checkLength("maxOtherPduLength", options.maxOtherPduLength ?? 1048576);
    this.#codec = newCodecInstance();
    this.#codec.fn.pdata_reader_init(maxPData, maxOther);
    this.#codec.fn.pdata_reader_input(DEFAULT_INPUT);
  }

  /** True while a PDU has been started but not completed (for "closed mid-PDU" handling). */
  get midPdu(): boolean {
    return this.#codec.fn.pdata_reader_mid_pdu() !== 0;
  }

  /**
   * Reads a chunk of the stream. Fragment bytes are copied straight from `chunk` into the
   * events; only headers and non-P-DATA PDUs pass through the codec's memory.
   */
  push(chunk: Uint8Array): PduStreamEvent[] {
    this.#checkFailed();
    const fn = this.#codec.fn;
    const events: PduStreamEvent[] = [];
    let off = 0;
    while (off < chunk.length) {
      const remaining = fn.pdata_reader_data_remaining() >>> 0;
      if (remaining > 0) {
        const n = Math.min(remaining, chunk.length - off);
        const bytes = chunk.slice(off, off + n);
        const ended = fn.pdata_reader_take(n);
        events.push({ kind: "pdv-data", bytes, endOfPdv: ended === 1 });
        off += n;
        continue;
      }
      const want = fn.pdata_reader_want() >>> 0;
      const n = Math.min(Math.max(want, 1), chunk.length - off, DEFAULT_INPUT);
      this.writable(n).set(chunk.subarray(off, off + n));
      off += n;
      this.#run(n, events);
    }
    return events;
  }

  /**
   * A writable view into the codec's memory, at least `minBytes` long (default 64 KiB), to read
   * the socket into; then call {@link commit} with the count read. The view is valid until the
   * next call on this reader.
   */
  writable(minBytes = 0): Uint8Array {
    this.#checkFailed();
    const fn = this.#codec.fn;
    const ptr = fn.pdata_reader_input(Math.max(minBytes, 0));
    const cap = fn.pdata_reader_input_capacity();
    return new Uint8Array(this.#codec.memory.buffer, ptr, cap);
  }

  /** Frames `n` bytes written into the view from {@link writable}. */
  commit(n: number): PduStreamEvent[] {
    this.#checkFailed();
    const events: PduStreamEvent[] = [];
    this.#run(n, events);
    return events;
  }

  #checkFailed(): void {
    if (this.#error) throw this.#error;
  }

  #run(n: number, events: PduStreamEvent[]): void {
    const { fn } = this.#codec;
    if (!Number.isInteger(n) || n < 0 || fn.pdata_reader_commit(n) < 0) {
      throw new RangeError(`Cannot commit ${n} bytes: more than the writable view`);
    }
    do {
      const count = fn.pdata_reader_run();
      if (count < 0) {
        this.#error = readerError(this.#codec);
        throw this.#error;
      }
      const buffer = this.#codec.memory.buffer;
      const records = new Uint32Array(buffer, fn.pdata_reader_events(), count * 4);
      const input = fn.pdata_reader_input(0);
      // The fragments of this run are copied out of the codec's memory into one buffer, each
      // event owning a view of it: one buffer per read instead of one per PDV, taken from the
      // slabs consumers gave back (releasePdvBytes) when there is one.
      let total = 0;
      let views = 0;
      for (let i = 0; i < count * 4; i += 4) {
        if (records[i] === EV_PDV_DATA) {
          total += records[i + 2];
          views++;
        }
      }
      const slab = total > 0 ? takeSlab(total, views) : EMPTY;
      const reusable = VIEWS_OUT.has(slab);
      let at = 0;
      for (let i = 0; i < count * 4; i += 4) {
        const a = records[i + 1];
        const b = records[i + 2];
        switch (records[i]) {
          case EV_PDV_DATA: {
            slab.set(new Uint8Array(buffer, input + a, b), at);
            const bytes = slab.subarray(at, at + b);
            if (reusable) SLAB_OF_VIEW.set(bytes, slab);
            events.push({ kind: "pdv-data", bytes, endOfPdv: records[i + 3] === 1 });
            at += b;
            break;
          }
          case EV_PDV:
            events.push({
              kind: "pdv",
              presentationContextId: a,
              isCommand: (b & 1) !== 0,
              isLast: (b & 2) !== 0,
              length: records[i + 3],
            });
            break;
          case EV_P_DATA_TF:
            events.push({ kind: "p-data-tf", length: a });
            break;
          case EV_PDU:
            events.push({
              kind: "pdu",
              pduType: a,
              bytes: new Uint8Array(buffer, fn.pdata_reader_other(), b).slice(),
            });
            break;
        }
      }
    } while (fn.pdata_reader_input_left() > 0);
  }
}

/** Options of {@link PDataWriter}. */
export interface PDataWriterOptions {
  /**
   * The peer's maximum length (PS3.8 Annex D.1): the largest variable field of a P-DATA-TF PDU
   * it accepts, at least 7 (a PDV header and one byte); 0 means unlimited.
   */
  maxPduLength: number;
  /**
   * PDU length used when the peer says 0, and the largest sent even when the peer allows more
   * (smaller PDUs are always acceptable). Default 1 MiB.
   */
  unlimitedPduLength?: number;
}

/**
 * Fragments commands and data sets into P-DATA-TF PDUs (PS3.8 §9.3.5, Annex E) no longer than
 * the peer's maximum length. PDVs share a PDU when they fit; the last-fragment bit is set on
 * the final fragment of each command and data set only, so pass `isLast` with the final bytes
 * (after a {@link flush} mid-stream, an end given with no bytes becomes an empty PDV). Each
 * byte is copied once, into the codec's memory where the headers are written around it;
 * memory is bounded by the PDU length and the largest fragment passed.
 */
export class PDataWriter {
  #codec: CodecInstance;
  #maxPduLength: number;
  /** The codec's memory buffer the views below are of (a growth of the memory replaces it). */
  #buffer?: ArrayBufferLike;
  #bytes: Uint8Array = EMPTY;
  #words: Uint32Array = new Uint32Array(0);

  /** Creates a writer with a codec instance of its own; throws RangeError for a max below 7. */
  constructor(options: PDataWriterOptions) {
    const max = checkLength("maxPduLength", options.maxPduLength);
    const unlimited = checkLength("unlimitedPduLength", options.unlimitedPduLength ?? 1048576);
    const effective = max === 0 ? unlimited : Math.min(max, Math.max(unlimited, 7));
    if (effective < 7) {
      throw new RangeError(`Maximum PDU length must be 0 or at least 7, got ${effective}`);
    }
    this.#codec = newCodecInstance();
    this.#maxPduLength = effective;
    this.#codec.fn.pdata_writer_init(effective);
  }

  /**
   * Drops everything laid out and not yet returned (the PDU being filled), as after creation:
   * for a message abandoned before any of its PDUs was returned.
   */
  reset(): void {
    this.#codec.fn.pdata_writer_init(this.#maxPduLength);
  }

  /**
   * Appends a fragment of a message's command (isCommand) or data set for a presentation
   * context; isLast ends that command or data set. Returns the complete P-DATA-TF PDUs ready to
   * send, back to back in one view, valid until the next call on this writer (possibly empty).
   */
  write(
    presentationContextId: number,
    isCommand: boolean,
    bytes: Uint8Array,
    isLast: boolean,
  ): Uint8Array {
    this.#layOut(presentationContextId, isCommand, bytes, isLast);
    const fn = this.#codec.fn;
    return this.#view(fn.pdata_writer_output(), fn.pdata_writer_output_length());
  }

  /**
   * {@link write} then {@link flush}: the PDUs of the fragment and the PDU it leaves open, in
   * one view (valid until the next call), so that the end of a message is one socket write.
   */
  writeAndFlush(
    presentationContextId: number,
    isCommand: boolean,
    bytes: Uint8Array,
    isLast: boolean,
  ): Uint8Array {
    this.#layOut(presentationContextId, isCommand, bytes, isLast);
    const fn = this.#codec.fn;
    const start = fn.pdata_writer_output();
    const length = fn.pdata_writer_output_length();
    if (length === 0) return this.flush();
    // After a last fragment no byte is held back, so the flush closes the PDU being filled in
    // place, right after the PDUs just written: one view covers both. Mid-stream, a held-back
    // byte may start the next PDU where the written ones are: those are copied first.
    const copied = isLast ? undefined : this.#view(start, length).slice();
    fn.pdata_writer_flush();
    const restStart = fn.pdata_writer_output();
    const restLength = fn.pdata_writer_output_length();
    if (isLast && restStart === start + length) return this.#view(start, length + restLength);
    const head = copied ?? this.#view(start, length);
    if (restLength === 0) return head;
    const out = new Uint8Array(head.length + restLength);
    out.set(head);
    out.set(this.#view(restStart, restLength), head.length);
    return out;
  }

  /**
   * Closes the PDU being filled and returns everything not yet returned (possibly empty). Call
   * it whenever the caller is about to wait (end of a message, before awaiting more data).
   */
  flush(): Uint8Array {
    const fn = this.#codec.fn;
    fn.pdata_writer_flush();
    return this.#view(fn.pdata_writer_output(), fn.pdata_writer_output_length());
  }

  /** Lays out a fragment's PDUs in the codec's memory and copies its bytes into their gaps. */
  #layOut(
    presentationContextId: number,
    isCommand: boolean,
    bytes: Uint8Array,
    isLast: boolean,
  ): void {
    if (
      !Number.isInteger(presentationContextId) || presentationContextId < 1 ||
      presentationContextId > 255 || presentationContextId % 2 === 0
    ) {
      throw new RangeError(
        `Presentation context id must be odd, from 1 to 255, got ${presentationContextId}`,
      );
    }
    const fn = this.#codec.fn;
    const count = fn.pdata_writer_write(
      presentationContextId,
      isCommand ? 1 : 0,
      bytes.length,
      isLast ? 1 : 0,
    );
    if (count < 0) throw new RangeError(`Cannot hold a fragment of ${bytes.length} bytes`);
    this.#refreshViews();
    const out = this.#bytes;
    const segments = this.#words;
    // Segments are 3 u32 each at an address the codec's allocator aligns to 16 bytes.
    const first = fn.pdata_writer_segments() >>> 2;
    for (let i = first; i < first + count * 3; i += 3) {
      const at = segments[i];
      const from = segments[i + 1];
      const n = segments[i + 2];
      if (n === 1) out[at] = bytes[from];
      else if (n === bytes.length) out.set(bytes, at);
      else out.set(bytes.subarray(from, from + n), at);
    }
  }

  /** A view of the codec's memory, valid until the next call on this writer. */
  #view(at: number, length: number): Uint8Array {
    this.#refreshViews();
    return this.#bytes.subarray(at, at + length);
  }

  /**
   * Takes the views of the codec's memory again if it has grown since: kept across calls, as
   * views made for each call cost more than laying out a small command.
   */
  #refreshViews(): void {
    const buffer = this.#codec.memory.buffer;
    if (buffer === this.#buffer) return;
    this.#buffer = buffer;
    this.#bytes = new Uint8Array(buffer);
    this.#words = new Uint32Array(buffer);
  }
}
