/**
 * The Storage service as SCU (PS3.4 Annex B): instances sent with C-STORE (PS3.7 §9.1.1), from
 * Part 10 files streamed from disk behind the command set (in chunks of at most 1 MiB, the next
 * file read while the previous one's response is awaited), or from data sets in the DICOM JSON
 * model. Presentation contexts are proposed per SOP class and transfer syntax, with explicit
 * and implicit VR little endian fallbacks for uncompressed files; a file whose own transfer
 * syntax was refused is converted on the fly to an uncompressed one the peer accepted.
 *
 * The data set layer (the Part 10 reader, the converter, the writer and with them the
 * dictionary) is loaded on first need: files sent as they are never need it, and a short-lived
 * process (the `store` command) reaches its first association that much sooner.
 *
 * @module
 */
import { CommandField, type CommandSet, Priority } from "../dimse/command.ts";
import type { DimseResponse } from "../dimse/dispatcher.ts";
import type { DataSetSource } from "../dimse/message.ts";
import type { DataSet } from "../dataset/dataset.ts";
import { DataSetError } from "../dataset/errors.ts";
import { hasLongLength, isVr } from "../dataset/vr.ts";
import { decodeLatin1 } from "../dataset/character_set.ts";
import { STORAGE_SOP_CLASSES } from "../dataset/storage_sop_classes.ts";
import {
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
  isTranscodable,
  transferSyntaxOf,
} from "../dataset/transfer_syntax.ts";
import type { NegotiatedAssociation } from "../ul/negotiation.ts";

/** What a Part 10 file holds, as far as proposing a presentation context needs. */
export interface StorableFile {
  /** Path of the file. */
  path: string;
  /** Media Storage SOP Class UID (0002,0002). */
  sopClassUid: string;
  /** Media Storage SOP Instance UID (0002,0003). */
  sopInstanceUid: string;
  /** Transfer Syntax UID (0002,0010). */
  transferSyntaxUid: string;
  /** Size of the file in bytes, when known. */
  size?: number;
  /**
   * Byte offset of the data set in the file, after the File Meta Information (PS3.10 §7.1),
   * when known: sending then starts there without reading the meta information again.
   */
  dataSetOffset?: number;
}

/** A presentation context to propose for storage: one SOP class, one transfer syntax. */
export interface StorageContextProposal {
  /** Abstract syntax: the Storage SOP Class UID. */
  abstractSyntax: string;
  /** The one transfer syntax proposed with it. */
  transferSyntaxes: string[];
}

/** What {@linkcode storeInstance} needs of an association; the client's Association has it. */
export interface StorageScuAssociation {
  /** The negotiated association: its accepted presentation contexts. */
  readonly negotiated: NegotiatedAssociation;
  /** Sends a request and resolves with its final response. */
  request(
    command: CommandSet,
    options: {
      dataSet?: DataSetSource;
      presentationContextId?: number;
      timeoutMs?: number;
      onSent?: () => void;
    },
  ): Promise<DimseResponse>;
}

/** Options of {@linkcode storeInstance}. */
export interface StoreOptions {
  /** (0000,0700) Priority; default MEDIUM. */
  priority?: number;
  /** (0000,1030) Move Originator AE Title, for a C-STORE sub-operation of a C-MOVE. */
  moveOriginatorApplicationEntityTitle?: string;
  /** (0000,1031) Move Originator Message ID, for a C-STORE sub-operation of a C-MOVE. */
  moveOriginatorMessageId?: number;
  /**
   * Transfer syntax to send a data set in (data sets only): it needs an accepted context. By
   * default the first accepted of explicit VR LE, implicit VR LE and explicit VR BE.
   */
  transferSyntaxUid?: string;
  /** Response timeout in ms; default the association's. */
  timeoutMs?: number;
  /** Called as the instance's bytes are read (a file's bytes; a data set's encoded bytes). */
  onBytes?: (count: number) => void;
}

/** The outcome of one C-STORE. */
export interface StoreResult {
  /** (0000,0900) Status of the C-STORE-RSP. */
  status: number;
  /** The whole C-STORE-RSP command set (Error Comment, Offending Element, …). */
  command: CommandSet;
  /** Affected SOP Class UID sent. */
  sopClassUid: string;
  /** Affected SOP Instance UID sent. */
  sopInstanceUid: string;
  /** Transfer syntax of the presentation context the data set went on. */
  transferSyntaxUid: string;
  /** The file's own transfer syntax, when the data set was converted from it. */
  transcodedFrom?: string;
}

/** No accepted presentation context can carry an instance (PS3.8 §9.3.3.2 results 1–4). */
export class StorageContextError extends Error {
  /** The SOP class of the instance. */
  readonly sopClassUid: string;
  /** The transfer syntax the instance is in. */
  readonly transferSyntaxUid: string;
  /** Creates the error. */
  constructor(sopClassUid: string, transferSyntaxUid: string, message: string) {
    super(message);
    this.name = "StorageContextError";
    this.sopClassUid = sopClassUid;
    this.transferSyntaxUid = transferSyntaxUid;
  }
}

/** Uncompressed transfer syntaxes a converted data set may be sent in, in order of preference. */
const TRANSCODE_TARGETS = [ExplicitVrLittleEndian, ImplicitVrLittleEndian, ExplicitVrBigEndian];

/** Fallback contexts proposed for every SOP class that has uncompressed files. */
const FALLBACKS = [ExplicitVrLittleEndian, ImplicitVrLittleEndian];

const SOP_CLASS_NAMES = new Map(STORAGE_SOP_CLASSES.map((c) => [c.uid, c.name]));

function sopClassName(uid: string): string {
  return SOP_CLASS_NAMES.get(uid) ?? uid;
}

function transferSyntaxName(uid: string): string {
  return transferSyntaxOf(uid)?.name ?? uid;
}

function metaString(meta: Record<string, { Value?: unknown[] }>, key: string): string {
  const value = meta[key]?.Value?.[0];
  return typeof value === "string" ? value : "";
}

/** Bytes read from the start of a file to find its File Meta Information in one read. */
const HEAD_BYTES = 8192;

/** The File Meta Information fields a C-STORE needs, and where the data set starts. */
interface FileMetaSummary {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  dataSetOffset: number;
}

function u16(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8);
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

/**
 * Reads the File Meta Information (PS3.10 §7.1: explicit VR little endian group 0002, after the
 * preamble and "DICM" or at the very start) from the first bytes of a file. Undefined when
 * those bytes do not settle it (meta information longer than them, an undefined length, no
 * Transfer Syntax UID, an unknown VR): the general reader decides then.
 */
function summarizeFileMeta(head: Uint8Array, atEnd: boolean): FileMetaSummary | undefined {
  let at: number;
  if (
    head.length >= 132 && head[128] === 0x44 && head[129] === 0x49 && head[130] === 0x43 &&
    head[131] === 0x4d
  ) {
    at = 132;
  } else if (head.length >= 2 && head[0] === 0x02 && head[1] === 0x00) {
    at = 0;
  } else {
    return undefined;
  }
  let sopClassUid = "";
  let sopInstanceUid = "";
  let transferSyntaxUid: string | undefined;
  while (true) {
    if (at + 8 > head.length) {
      // The meta information may go on past the bytes read, unless the file ends here.
      if (!atEnd || at !== head.length) return undefined;
      break;
    }
    if (head[at] !== 0x02 || head[at + 1] !== 0x00) break;
    const element = u16(head, at + 2);
    const vr = String.fromCharCode(head[at + 4], head[at + 5]);
    if (!isVr(vr)) return undefined;
    let length: number;
    let valueAt: number;
    if (hasLongLength(vr)) {
      if (at + 12 > head.length) return undefined;
      length = u32(head, at + 8);
      valueAt = at + 12;
    } else {
      length = u16(head, at + 6);
      valueAt = at + 8;
    }
    if (length === 0xffffffff || valueAt + length > head.length) return undefined;
    if (element === 0x0002 || element === 0x0003 || element === 0x0010) {
      const text = decodeLatin1(head.subarray(valueAt, valueAt + length));
      const value = text.split("\\")[0].replace(/[\0 ]+$/, "").replace(/^ +/, "");
      if (element === 0x0002) sopClassUid = value;
      else if (element === 0x0003) sopInstanceUid = value;
      else transferSyntaxUid = value;
    }
    at = valueAt + length;
  }
  if (!transferSyntaxUid) return undefined;
  return { sopClassUid, sopInstanceUid, transferSyntaxUid, dataSetOffset: at };
}

/** Reads until `buffer` is full or the file ends; the count read. */
async function readFully(file: Deno.FsFile, buffer: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const n = await file.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}

/** The file's bytes from where it is positioned, in chunks, without closing it. */
async function* chunksOf(file: Deno.FsFile, chunkSize: number): AsyncGenerator<Uint8Array> {
  while (true) {
    const buffer = new Uint8Array(chunkSize);
    const n = await readFully(file, buffer);
    if (n > 0) yield buffer.subarray(0, n);
    if (n < chunkSize) return;
  }
}

/** Options of {@linkcode inspectFile}. */
export interface InspectFileOptions {
  /** The file's size when the caller knows it already (saves a stat). */
  size?: number;
}

/** Reads a file's meta information; undefined when it is not a Part 10 file with one. */
export async function inspectFile(
  path: string,
  options: InspectFileOptions = {},
): Promise<StorableFile | undefined> {
  const file = await Deno.open(path, { read: true });
  try {
    const size = options.size ?? (await file.stat()).size;
    const head = new Uint8Array(Math.min(size, HEAD_BYTES));
    const n = await readFully(file, head);
    const quick = summarizeFileMeta(head.subarray(0, n), n < HEAD_BYTES);
    if (quick) {
      if (!quick.sopClassUid || !quick.sopInstanceUid) return undefined;
      return { path, ...quick, size };
    }
    await file.seek(0, Deno.SeekMode.Start);
    const { readPart10Header } = await import("../dataset/part10.ts");
    const header = await readPart10Header(chunksOf(file, 65536));
    const meta = header.meta as Record<string, { Value?: unknown[] }>;
    const sopClassUid = metaString(meta, "00020002");
    const sopInstanceUid = metaString(meta, "00020003");
    if (!sopClassUid || !sopInstanceUid) return undefined;
    return {
      path,
      sopClassUid,
      sopInstanceUid,
      transferSyntaxUid: header.transferSyntax.uid,
      size,
      dataSetOffset: header.dataSetOffset,
    };
  } catch {
    return undefined;
  } finally {
    file.close();
  }
}

/** A file to inspect: its path, and its size when known. */
export interface FileToInspect {
  /** Path of the file. */
  path: string;
  /** Size in bytes, when the caller knows it already. */
  size?: number;
}

/**
 * Inspects many files, in order, for planning associations: the first bytes of each are read
 * with synchronous calls (one open, one read, far cheaper than asynchronous ones for local
 * files; the event loop waits meanwhile), and only a file whose meta information they do not
 * settle is read again by {@linkcode inspectFile}. Undefined for a file that is not Part 10
 * with meta information, or that cannot be read.
 */
export async function inspectFiles(
  files: readonly (string | FileToInspect)[],
): Promise<(StorableFile | undefined)[]> {
  const out: (StorableFile | undefined)[] = new Array(files.length);
  const head = new Uint8Array(HEAD_BYTES);
  for (let i = 0; i < files.length; i++) {
    const entry = files[i];
    const path = typeof entry === "string" ? entry : entry.path;
    let size = typeof entry === "string" ? undefined : entry.size;
    let n: number;
    try {
      const file = Deno.openSync(path, { read: true });
      try {
        n = 0;
        const want = Math.min(size ?? HEAD_BYTES, HEAD_BYTES);
        while (n < want) {
          const got = file.readSync(head.subarray(n, want));
          if (got === null) break;
          n += got;
        }
        // A file that ended within the head is that long; else its end says (cheaper than a stat).
        size ??= n < want ? n : file.seekSync(0, Deno.SeekMode.End);
      } finally {
        file.close();
      }
    } catch {
      out[i] = undefined;
      continue;
    }
    const quick = summarizeFileMeta(head.subarray(0, n), n < HEAD_BYTES);
    if (quick) {
      out[i] = quick.sopClassUid && quick.sopInstanceUid ? { path, ...quick, size } : undefined;
    } else {
      out[i] = await inspectFile(path, { size }).catch(() => undefined);
    }
  }
  return out;
}

/** Reads a file into `buffer`, up to its length; the bytes read. */
function readSmallFileSync(path: string, buffer: Uint8Array): Uint8Array {
  const file = Deno.openSync(path, { read: true });
  try {
    let n = 0;
    while (n < buffer.length) {
      const got = file.readSync(buffer.subarray(n));
      if (got === null) break;
      n += got;
    }
    return buffer.subarray(0, n);
  } finally {
    file.close();
  }
}

/** Files up to this size are read whole, in one operation. */
const WHOLE_FILE_LIMIT = 1 << 20;

/** Chunk buffers a large file's reader reuses in turn (see FileDataSetReader.reuseBuffers). */
const RING_SIZE = 4;

/** Smallest buffer kept for reading small files, so that one fits most of them. */
const SCRATCH_SIZE = 262144;

/** Chunk size of larger files: each chunk is one read, read ahead of the one being sent. */
const CHUNK_SIZE = 1 << 20;

/**
 * The data set of a Part 10 file, from its known offset, read as soon as this is created (so
 * that the next file is read while the previous one's response is awaited): a small file in one
 * read, a larger one in chunks with one chunk read ahead. Holds at most two chunks.
 */
class FileDataSetReader implements AsyncIterable<Uint8Array> {
  readonly #offset: number;
  #whole?: Promise<Uint8Array>;
  #file?: Promise<Deno.FsFile>;
  #opened?: Deno.FsFile;
  #closed = false;
  #pending?: Promise<Uint8Array | null>;
  #left: number;
  #ring?: Uint8Array[];
  #ringAt = 0;

  /**
   * Starts reading. Given a `scratch` buffer that holds it, a small file is read into it at
   * once with synchronous calls: cheaper than asynchronous ones and than a fresh buffer, for a
   * caller that reads ahead while it waits anyway and reuses the buffer once the data is sent.
   */
  constructor(path: string, offset: number, size: number | undefined, scratch?: Uint8Array) {
    this.#offset = offset;
    this.#left = size === undefined ? Infinity : Math.max(0, size - offset);
    if (size !== undefined && size <= WHOLE_FILE_LIMIT) {
      if (scratch && scratch.length >= size) {
        try {
          this.#whole = Promise.resolve(readSmallFileSync(path, scratch.subarray(0, size)));
        } catch (e) {
          this.#whole = Promise.reject(e);
        }
      } else {
        this.#whole = Deno.readFile(path);
      }
      this.#whole.catch(() => {});
      return;
    }
    this.#file = Deno.open(path, { read: true }).then(async (file) => {
      this.#opened = file;
      if (this.#closed) {
        file.close();
        throw new Deno.errors.BadResource("File closed before it was read");
      }
      await file.seek(offset, Deno.SeekMode.Start);
      return file;
    });
    this.#file.catch(() => {});
    this.#pending = this.#readNext();
  }

  #readNext(): Promise<Uint8Array | null> {
    const want = Math.min(CHUNK_SIZE, this.#left);
    if (want <= 0) return Promise.resolve(null);
    const buffer = this.#bufferFor(want);
    const reading = this.#file!.then(async (file) => {
      const n = await readFully(file, buffer);
      if (n === 0) return null;
      // A file shorter than its size said ends here.
      this.#left = n < want ? 0 : this.#left - n;
      return n < want ? buffer.subarray(0, n) : buffer;
    });
    reading.catch(() => {});
    return reading;
  }

  /**
   * Lets the following chunks be read into a ring of {@linkcode RING_SIZE} buffers instead of
   * fresh ones. Only for a consumer done with each chunk once it has taken the next one, as
   * the dispatcher is (it copies a chunk into the PDU writer when the next one arrives): a
   * chunk's read starts as the one before is handed over, so three buffers are in use at most.
   */
  reuseBuffers(): void {
    this.#ring ??= [];
  }

  #bufferFor(size: number): Uint8Array {
    const ring = this.#ring;
    if (!ring || size !== CHUNK_SIZE) return new Uint8Array(size);
    const at = this.#ringAt;
    this.#ringAt = (at + 1) % RING_SIZE;
    return ring[at] ??= new Uint8Array(CHUNK_SIZE);
  }

  /**
   * Resolves once the first bytes are read; rejects when the file cannot be read, so that a
   * C-STORE-RQ is not started for a data set that cannot follow.
   */
  async ready(): Promise<void> {
    await (this.#whole ?? this.#pending);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      if (this.#whole) {
        const bytes = await this.#whole;
        if (bytes.length > this.#offset) yield bytes.subarray(this.#offset);
        return;
      }
      while (true) {
        const chunk = await this.#pending!;
        if (chunk === null) return;
        // The next chunk is read while this one is sent.
        this.#pending = this.#readNext();
        yield chunk;
      }
    } finally {
      this.close();
    }
  }

  /** Closes the file; the bytes read ahead are dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#whole = undefined;
    const file = this.#opened;
    if (file) {
      // A read still pending ends with an error nobody waits for.
      const pending = this.#pending ?? Promise.resolve(null);
      pending.finally(() => file.close()).catch(() => {});
    }
  }
}

/** The presentation context a file needs, as a key: its SOP class and transfer syntax. */
export function storageContextKey(file: StorableFile): string {
  return `${file.sopClassUid}|${file.transferSyntaxUid}`;
}

/**
 * Every presentation context proposed for a file, as keys: its own SOP class and transfer
 * syntax, plus explicit and implicit VR little endian when the file is uncompressed.
 */
export function storageContextKeys(file: StorableFile): readonly string[] {
  // Files of one SOP class and transfer syntax share their keys: most of a batch is a few kinds.
  let bySyntax = CONTEXT_KEYS.get(file.sopClassUid);
  if (bySyntax === undefined) {
    if (CONTEXT_KEYS.size >= 256) CONTEXT_KEYS.clear();
    CONTEXT_KEYS.set(file.sopClassUid, bySyntax = new Map());
  }
  let keys = bySyntax.get(file.transferSyntaxUid);
  if (keys === undefined) {
    const own = [storageContextKey(file)];
    if (isTranscodable(file.transferSyntaxUid)) {
      for (const uid of FALLBACKS) {
        const key = `${file.sopClassUid}|${uid}`;
        if (!own.includes(key)) own.push(key);
      }
    }
    bySyntax.set(file.transferSyntaxUid, keys = own);
  }
  return keys;
}

/** {@linkcode storageContextKeys} by SOP class and transfer syntax. */
const CONTEXT_KEYS = new Map<string, Map<string, readonly string[]>>();

/**
 * One presentation context per SOP class and transfer syntax found, in order of first sight,
 * plus the explicit and implicit VR little endian fallbacks of each SOP class with uncompressed
 * files. Each context carries one transfer syntax, so that the peer may accept some and refuse
 * others (PS3.8 §9.3.3.2).
 */
export function storageContexts(files: readonly StorableFile[]): StorageContextProposal[] {
  const seen = new Map<string, StorageContextProposal>();
  for (const file of files) {
    for (const key of storageContextKeys(file)) {
      if (seen.has(key)) continue;
      const [abstractSyntax, transferSyntax] = key.split("|");
      seen.set(key, { abstractSyntax, transferSyntaxes: [transferSyntax] });
    }
  }
  return [...seen.values()];
}

/** Presentation contexts one association can carry: odd ids 1–255 (PS3.8 §9.3.2.2). */
export const MAX_PRESENTATION_CONTEXTS = 128;

/**
 * Groups files, in order, so that the contexts each group needs fit in one association;
 * a group ends when the next file would need more than `maxContexts` contexts.
 */
export function planAssociations(
  files: readonly StorableFile[],
  maxContexts: number = MAX_PRESENTATION_CONTEXTS,
): StorableFile[][] {
  const groups: StorableFile[][] = [];
  let group: StorableFile[] = [];
  let keys = new Set<string>();
  for (const file of files) {
    const needed = storageContextKeys(file).filter((k) => !keys.has(k));
    if (group.length > 0 && keys.size + needed.length > maxContexts) {
      groups.push(group);
      group = [];
      keys = new Set();
    }
    for (const key of storageContextKeys(file)) keys.add(key);
    group.push(file);
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** Where an instance goes: the accepted context, and whether its data set must be converted. */
export interface StorageContextChoice {
  /** The accepted presentation context id. */
  presentationContextId: number;
  /** Its transfer syntax. */
  transferSyntaxUid: string;
  /** True when the data set must be converted to that transfer syntax. */
  transcode: boolean;
}

/**
 * Picks the accepted context for an instance of `sopClassUid` in `transferSyntaxUid`: the one
 * in that very transfer syntax, else, for an uncompressed instance, explicit VR LE, implicit
 * VR LE or explicit VR BE. Throws {@linkcode StorageContextError} when none fits; a compressed
 * instance is never converted.
 */
export function chooseStorageContext(
  negotiated: NegotiatedAssociation,
  sopClassUid: string,
  transferSyntaxUid: string,
): StorageContextChoice {
  const forClass = negotiated.accepted.filter((c) => c.abstractSyntax === sopClassUid);
  const exact = forClass.find((c) => c.transferSyntax === transferSyntaxUid);
  if (exact) {
    return {
      presentationContextId: exact.presentationContextId,
      transferSyntaxUid,
      transcode: false,
    };
  }
  const where = `${sopClassName(sopClassUid)} in ${transferSyntaxName(transferSyntaxUid)}`;
  if (!isTranscodable(transferSyntaxUid)) {
    throw new StorageContextError(
      sopClassUid,
      transferSyntaxUid,
      `Presentation context for ${where} was not accepted, and compressed data is not transcoded`,
    );
  }
  for (const target of TRANSCODE_TARGETS) {
    const context = forClass.find((c) => c.transferSyntax === target);
    if (context) {
      return {
        presentationContextId: context.presentationContextId,
        transferSyntaxUid: target,
        transcode: true,
      };
    }
  }
  throw new StorageContextError(
    sopClassUid,
    transferSyntaxUid,
    forClass.length === 0
      ? `No presentation context accepted for ${sopClassName(sopClassUid)}`
      : `Presentation context for ${where} was not accepted, nor one in an uncompressed transfer syntax`,
  );
}

function storeCommand(
  sopClassUid: string,
  sopInstanceUid: string,
  options: StoreOptions,
): CommandSet {
  // PS3.7 §9.3.1.1: C-STORE-RQ; the dispatcher fills in Message ID and Command Data Set Type.
  const command: CommandSet = {
    commandField: CommandField.C_STORE_RQ,
    affectedSopClassUid: sopClassUid,
    affectedSopInstanceUid: sopInstanceUid,
    priority: options.priority ?? Priority.MEDIUM,
    commandDataSetType: 0x0000,
  };
  if (options.moveOriginatorApplicationEntityTitle !== undefined) {
    command.moveOriginatorApplicationEntityTitle = options.moveOriginatorApplicationEntityTitle;
  }
  if (options.moveOriginatorMessageId !== undefined) {
    command.moveOriginatorMessageId = options.moveOriginatorMessageId;
  }
  return command;
}

async function* counted(
  source: AsyncIterable<Uint8Array>,
  onBytes: ((count: number) => void) | undefined,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    onBytes?.(chunk.length);
    yield chunk;
  }
}

function uidOf(dataSet: DataSet, key: string): string {
  const value = dataSet[key]?.Value?.[0];
  return typeof value === "string" ? value.replace(/[\0 ]+$/, "") : "";
}

async function storeFromFile(
  association: StorageScuAssociation,
  path: string,
  options: StoreOptions,
): Promise<StoreResult> {
  const handle = await Deno.open(path, { read: true });
  try {
    const source = counted(chunksOf(handle, SCRATCH_SIZE), options.onBytes);
    const { readPart10Header } = await import("../dataset/part10.ts");
    const header = await readPart10Header(source);
    const meta = header.meta as Record<string, { Value?: unknown[] }>;
    const sopClassUid = metaString(meta, "00020002");
    const sopInstanceUid = metaString(meta, "00020003");
    if (!sopClassUid || !sopInstanceUid) {
      throw new DataSetError(
        "not-part10",
        `${path} has no Media Storage SOP Class UID or SOP Instance UID (0002,0002/0003)`,
        { tag: sopClassUid ? "00020003" : "00020002" },
      );
    }
    const from = header.transferSyntax.uid;
    const choice = chooseStorageContext(association.negotiated, sopClassUid, from);
    const dataSet = choice.transcode
      ? (await import("../dataset/transcode.ts")).transcodeDataSet(header.rest, {
        from,
        to: choice.transferSyntaxUid,
      })
      : header.rest;
    return await sendStore(association, { sopClassUid, sopInstanceUid, from }, choice, dataSet, {
      options,
    });
  } finally {
    handle.close();
  }
}

/**
 * Sends a file inspected beforehand: its data set from the known offset, read by `reader` when
 * one was started ahead (it is consumed or closed here).
 */
async function storeFromStorable(
  association: StorageScuAssociation,
  file: StorableFile,
  options: StoreOptions,
  reader?: FileDataSetReader,
  onSent?: () => void,
): Promise<StoreResult> {
  const offset = file.dataSetOffset;
  if (offset === undefined) {
    reader?.close();
    return await storeFromFile(association, file.path, options);
  }
  reader ??= new FileDataSetReader(file.path, offset, file.size);
  try {
    const { sopClassUid, sopInstanceUid, transferSyntaxUid: from } = file;
    const choice = chooseStorageContext(association.negotiated, sopClassUid, from);
    // The converter may hold on to earlier chunks; the dispatcher alone does not.
    if (!choice.transcode) reader.reuseBuffers();
    await reader.ready();
    options.onBytes?.(offset);
    const read = counted(reader, options.onBytes);
    const dataSet = choice.transcode
      ? (await import("../dataset/transcode.ts")).transcodeDataSet(read, {
        from,
        to: choice.transferSyntaxUid,
      })
      : read;
    return await sendStore(association, { sopClassUid, sopInstanceUid, from }, choice, dataSet, {
      options,
      onSent,
    });
  } finally {
    reader.close();
  }
}

async function* partsOf(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* parts;
}

async function storeFromDataSet(
  association: StorageScuAssociation,
  dataSet: DataSet,
  options: StoreOptions,
): Promise<StoreResult> {
  const sopClassUid = uidOf(dataSet, "00080016");
  const sopInstanceUid = uidOf(dataSet, "00080018");
  if (!sopClassUid || !sopInstanceUid) {
    throw new DataSetError(
      "invalid-value",
      "Data set has no SOP Class UID (0008,0016) or SOP Instance UID (0008,0018)",
      { tag: sopClassUid ? "00080018" : "00080016" },
    );
  }
  let choice: StorageContextChoice;
  const named = options.transferSyntaxUid;
  if (named !== undefined) {
    const exact = association.negotiated.accepted.find((c) =>
      c.abstractSyntax === sopClassUid && c.transferSyntax === named
    );
    if (!exact) {
      throw new StorageContextError(
        sopClassUid,
        named,
        `Presentation context for ${sopClassName(sopClassUid)} in ${
          transferSyntaxName(named)
        } was not accepted`,
      );
    }
    choice = {
      presentationContextId: exact.presentationContextId,
      transferSyntaxUid: named,
      transcode: false,
    };
  } else {
    const encapsulated = Object.values(dataSet).some((e) => e.Fragments !== undefined);
    if (encapsulated) {
      throw new StorageContextError(
        sopClassUid,
        "",
        "Data set has encapsulated pixel data: give its transferSyntaxUid in the options",
      );
    }
    choice = chooseStorageContext(association.negotiated, sopClassUid, ExplicitVrLittleEndian);
  }
  const ts = transferSyntaxOf(choice.transferSyntaxUid)!;
  const { concatBytes, deflateRaw, encodeDataSetParts } = await import("../dataset/writer.ts");
  // The data set is in memory already; encoding it costs one more copy of its values.
  const parts = encodeDataSetParts(dataSet, { transferSyntax: ts });
  const encoded = ts.deflated ? [await deflateRaw(concatBytes(parts))] : parts;
  return await sendStore(
    association,
    { sopClassUid, sopInstanceUid, from: choice.transferSyntaxUid },
    // Encoded in the accepted transfer syntax itself: nothing is converted.
    { ...choice, transcode: false },
    counted(partsOf(encoded), options.onBytes),
    { options },
  );
}

/**
 * Sends the C-STORE-RQ of one instance with its data set on the chosen context, and gives the
 * response as a {@linkcode StoreResult} (naming the transfer syntax converted from, if any).
 */
async function sendStore(
  association: StorageScuAssociation,
  instance: { sopClassUid: string; sopInstanceUid: string; from: string },
  choice: StorageContextChoice,
  dataSet: DataSetSource,
  send: { options: StoreOptions; onSent?: () => void },
): Promise<StoreResult> {
  const { sopClassUid, sopInstanceUid } = instance;
  const { options } = send;
  const response = await association.request(
    storeCommand(sopClassUid, sopInstanceUid, options),
    {
      dataSet,
      presentationContextId: choice.presentationContextId,
      timeoutMs: options.timeoutMs,
      onSent: send.onSent,
    },
  );
  const result: StoreResult = {
    status: response.command.status ?? 0xc000,
    command: response.command,
    sopClassUid,
    sopInstanceUid,
    transferSyntaxUid: choice.transferSyntaxUid,
  };
  if (choice.transcode) result.transcodedFrom = instance.from;
  return result;
}

/**
 * Sends one instance with C-STORE and resolves with the response: from a Part 10 file (a path;
 * streamed, converted to an accepted uncompressed transfer syntax when its own was refused) or
 * from a data set in the DICOM JSON model (SOP Class and Instance UIDs read from it). Rejects
 * with {@linkcode StorageContextError} when no accepted context fits, before sending anything.
 */
export function storeInstance(
  association: StorageScuAssociation,
  source: string | DataSet,
  options: StoreOptions = {},
): Promise<StoreResult> {
  return typeof source === "string"
    ? storeFromFile(association, source, options)
    : storeFromDataSet(association, source, options);
}

/** Sends one file with C-STORE on an accepted context; resolves with the response status. */
export async function storeFile(
  association: StorageScuAssociation,
  file: StorableFile,
): Promise<number> {
  return (await storeFromStorable(association, file, {})).status;
}

/** Options of {@linkcode storeFiles}. */
export interface StoreFilesOptions extends Omit<StoreOptions, "onBytes" | "transferSyntaxUid"> {
  /**
   * C-STOREs outstanding at once, within the negotiated asynchronous operations window
   * (PS3.7 Annex D.3.3.3); default that window, at most 16.
   */
  maxOutstanding?: number;
  /** Called as each file's bytes are read. */
  onBytes?: (count: number, file: StorableFile) => void;
  /** Called with each file's outcome, as soon as it is known. */
  onOutcome?: (outcome: StoreFileOutcome) => void;
}

/** The outcome of one file of {@linkcode storeFiles}: its result, or why it failed. */
export interface StoreFileOutcome {
  /** The file. */
  file: StorableFile;
  /** The C-STORE result, when a response came. */
  result?: StoreResult;
  /** Why no response came (no context, association ended, file unreadable). */
  error?: Error;
}

/** Largest number of C-STOREs {@linkcode storeFiles} keeps outstanding by default. */
const MAX_OUTSTANDING = 16;

/**
 * Sends inspected files with C-STORE, in order, over one association, and resolves with every
 * outcome in the same order. The next file is read while the previous one's response is
 * awaited, and as many C-STOREs are kept outstanding as the negotiated asynchronous operations
 * window allows (PS3.7 Annex D.3.3.3; one at a time by default). Memory stays bounded: a few
 * buffers of at most 1 MiB per outstanding file, whatever the files' sizes.
 */
export async function storeFiles(
  association: StorageScuAssociation,
  files: readonly StorableFile[],
  options: StoreFilesOptions = {},
): Promise<StoreFileOutcome[]> {
  const window = association.negotiated.maxOperationsInvoked;
  const limit = Math.max(
    1,
    Math.min(options.maxOutstanding ?? MAX_OUTSTANDING, window === 0 ? MAX_OUTSTANDING : window),
  );
  const outcomes: StoreFileOutcome[] = new Array(files.length);
  // Buffers for small files, each back in the pool once its file is sent: a few in all.
  const pool: Uint8Array[] = [];
  const scratchFor = (size: number | undefined) => {
    if (size === undefined || size > WHOLE_FILE_LIMIT) return undefined;
    const at = pool.findIndex((b) => b.length >= size);
    if (at >= 0) return pool.splice(at, 1)[0];
    return new Uint8Array(Math.min(WHOLE_FILE_LIMIT, Math.max(size, SCRATCH_SIZE)));
  };
  const scratches = new Map<number, Uint8Array>();
  const prepare = (index: number) => {
    const file = files[index];
    if (file.dataSetOffset === undefined) return undefined;
    const scratch = scratchFor(file.size);
    if (scratch) scratches.set(index, scratch);
    return new FileDataSetReader(file.path, file.dataSetOffset, file.size, scratch);
  };
  const sent = (index: number) => {
    // The data set is written: its buffer may take the next file.
    const scratch = scratches.get(index);
    if (scratch) {
      scratches.delete(index);
      pool.push(scratch);
    }
    readAhead(index + 1);
  };
  // The next file is read once this one is written, while its response is awaited.
  let ahead: { index: number; reader: FileDataSetReader | undefined } | undefined;
  let taken = -1;
  const readAhead = (index: number) => {
    if (index < files.length && index > taken && ahead === undefined) {
      ahead = { index, reader: prepare(index) };
    }
  };
  const send = async (index: number) => {
    const file = files[index];
    const reader = ahead?.index === index ? ahead.reader : prepare(index);
    if (ahead?.index === index) ahead = undefined;
    taken = index;
    const onBytes = options.onBytes;
    let outcome: StoreFileOutcome;
    try {
      const result = await storeFromStorable(
        association,
        file,
        { ...options, onBytes: onBytes ? (count) => onBytes(count, file) : undefined },
        reader,
        () => sent(index),
      );
      outcome = { file, result };
    } catch (e) {
      outcome = { file, error: e instanceof Error ? e : new Error(String(e)) };
    }
    // A buffer whose data set was not sent whole is dropped, not reused.
    scratches.delete(index);
    outcomes[index] = outcome;
    options.onOutcome?.(outcome);
  };
  const running = new Set<Promise<void>>();
  for (let i = 0; i < files.length; i++) {
    const sending: Promise<void> = send(i).finally(() => running.delete(sending));
    running.add(sending);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
  return outcomes;
}
