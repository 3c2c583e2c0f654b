/**
 * The Storage service as SCP (PS3.4 Annex B): each C-STORE-RQ's data set is streamed to a temp
 * file in the store folder behind a file meta group built from the command set and the
 * presentation context, and flushed to disk; its head is read up to Pixel Data on the way (or
 * read back from the file when large values come before Pixel Data) to check it against the
 * command and to learn its study and series; the file is then moved into place under the folder
 * layout and duplicate policy, and recorded in the index before the success response. When the
 * head is in memory, only its structure and UIDs are read before the response, and the rest of
 * it is decoded when the index writes the row. Nothing is held whole in memory; an instance is
 * on disk whole, or not at all.
 *
 * C-STORE statuses used (PS3.4 B.2.3, PS3.7 §9.1.1.1.9):
 * - 0000 Success: stored; under "keep-first" also for a duplicate, discarded with a log line:
 *   success means the SOP Instance is stored (PS3.4 B.2.2), which it is, and the B0xx warnings
 *   speak of elements of a stored data set coerced or discarded, not of a whole copy;
 * - B007 Warning, Data Set does not match SOP Class: stored as received, but the data set lacks
 *   SOP Class UID (0008,0016) or SOP Instance UID (0008,0018), Type 1 in the SOP Common Module
 *   of every IOD; Offending Element names them. B000 (coercion) and B006 (elements discarded)
 *   are never sent: instances are stored exactly as received;
 * - A700 Refused, Out of Resources: the file system failed (disk full, …) or the index could
 *   not record the instance; nothing of it is kept (an overwritten file is put back). A7xx says
 *   the refusal is on the SCP's side, so a later retry may succeed (0110 Processing failure is
 *   not among the C-STORE statuses);
 * - A900 Error, Data Set does not match SOP Class: (0008,0016) or (0008,0018) in the data set
 *   differ from the command's Affected SOP Class/Instance UID, or a Study/Series Instance UID
 *   the layout needs is not a valid UID; nothing is kept;
 * - C000 Error, Cannot understand: no data set, or the data set cannot be parsed up to Pixel
 *   Data; nothing is kept;
 * - 0117 Invalid SOP Instance: the Affected SOP Instance UID is not a valid UID (PS3.5 §9.1),
 *   so it cannot name a file.
 *
 * @module
 */
import { CommandField, type CommandSet } from "../dimse/command.ts";
import { Status, statusHex } from "../dimse/status.ts";
import type { DataSet } from "../dataset/dataset.ts";
import { encodeFileMetaInformation } from "../dataset/part10.ts";
import { readWholeDataSet } from "../dataset/reader.ts";
import { PixelDataTag } from "../dataset/tag.ts";
import { concatBytes } from "../dataset/writer.ts";
import { STORAGE_SOP_CLASSES } from "../dataset/storage_sop_classes.ts";
import {
  ExplicitVrLittleEndian,
  TRANSFER_SYNTAXES,
  type TransferSyntax,
  transferSyntaxOf,
} from "../dataset/transfer_syntax.ts";
import { copyHead, readDataSetHead, scanDataSetHead } from "../store/_data_set_head.ts";
import { releasePdvBytes } from "../ul/pdata.ts";
import { SpareTempFile } from "./_spare_temp_file.ts";
import type { IndexedInstance, InstanceIndex } from "../store/instance_index.ts";
import { lazyIndexedInstance } from "../store/_lazy_instance.ts";
import { InstanceReadError, readInstance } from "../store/read_instance.ts";
import type {
  AssociationInfo,
  Service,
  ServiceRequest,
  ServiceResponse,
  SopClassSupport,
} from "./service.ts";
import {
  type DuplicatePolicy,
  instanceLocation,
  isSafeUidForPath,
  joinStorePath,
  placeFile,
  type Placement,
  type StorageLayout,
  UnsafePathError,
} from "./storage_layout.ts";
import { logLines } from "../log_line.ts";

export { isSafeUidForPath };
export type { DuplicatePolicy, StorageLayout };

/** An instance now in the store, as {@linkcode StorageOptions.onStored} is told of it. */
export interface StoredInstance extends IndexedInstance {
  /** The file: the store folder joined with `path`. */
  file: string;
  /** "stored" under a new name, "replaced" an older copy, or "stored-beside" one (keep-both). */
  outcome: "stored" | "replaced" | "stored-beside";
  /** The status the C-STORE-RSP will carry (0000, or B007). */
  status: number;
  /** The association it came on. */
  association: AssociationInfo;
  /** Byte offset of the data set in the file (after the File Meta Information). */
  dataSetOffset: number;
  /** The stored data set's bytes, read from the file with backpressure. */
  dataSetStream(): ReadableStream<Uint8Array>;
}

/** Options of the Storage service. */
export interface StorageOptions {
  /** Folder the Part 10 files are written to; created when missing. */
  dir: string;
  /**
   * Flush each file to disk before the success response, so that an acknowledged instance
   * survives a crash; default true.
   */
  fsync?: boolean;
  /**
   * Keep one empty temp file made ahead in `dir`, between instances (made once a response is
   * sent, while the peer reads its next instance), so that a C-STORE writes into a file that
   * already exists instead of creating one while its data set waits. It is a hidden
   * `.<uuid>.tmp` file, removed when the service is closed (`Scp.close()`) and once unused for
   * 30 s; for a long-running SCP, which the `scp` command turns it on for. Default false.
   */
  spareTempFile?: boolean;
  /** Folder layout; default "flat" (`<SOP Instance UID>.dcm`). */
  layout?: StorageLayout;
  /** What a SOP Instance UID already stored does; default "overwrite". */
  duplicates?: DuplicatePolicy;
  /**
   * The store's index: each instance is added after its file is in place and before the
   * success response; when adding fails the new file is removed (an overwritten one restored)
   * and the answer is A700, so no acknowledged instance is missing from the index.
   */
  index?: InstanceIndex;
  /**
   * Called for each instance stored, after the index and before the response. A failure is
   * logged and does not change the response: the instance is stored.
   */
  onStored?: (instance: StoredInstance) => void | Promise<void>;
  /** Where log lines go, control characters escaped (see `printable`); default console.error. */
  log?: (line: string) => void;
  /**
   * Transfer syntaxes accepted, in preference order; default every standard one not retired,
   * Explicit VR Little Endian first, then the other uncompressed ones, then compressed ones.
   */
  transferSyntaxes?: readonly string[];
  /** SOP classes accepted; default every Storage SOP class. */
  sopClasses?: readonly string[];
}

const READ_CHUNK = 65536;
/** Largest file flushed synchronously (see writeTempFile). */
const SYNC_FLUSH_LIMIT = 4 << 20;
/** Bytes written between two flushes of a large instance as it arrives, with fsync on. */
const EARLY_FLUSH_BYTES = 32 << 20;
/** Bytes gathered per file write. */
const WRITE_BUFFER = 1 << 20;
/**
 * Pieces of a data set this long or longer are written as they are, not gathered: a copy of
 * them costs more than the call it saves.
 */
const DIRECT_WRITE = 32 * 1024;
/** Bytes of the data set kept in memory to read it up to Pixel Data without reading the file. */
const HEAD_LIMIT = 256 * 1024;
/**
 * Bytes of data set heads that index rows queued since the last flush may hold (see
 * `InstanceIndex.flush`): past this, the index is asked to write its queue once the response is
 * on its way.
 */
const QUEUED_HEADS_LIMIT = 32 << 20;
/** Values longer than this are left out of the index (as {@linkcode readInstance} does). */
const HEAD_BULK_THRESHOLD = 4096;
/** How the head is read: up to Pixel Data, large values left out. */
const HEAD_OPTIONS = { stopAtTag: PixelDataTag, bulkThreshold: HEAD_BULK_THRESHOLD };
const SOP_CLASS_UID = "00080016";
const SOP_INSTANCE_UID = "00080018";
const STUDY_INSTANCE_UID = "0020000D";
const SERIES_INSTANCE_UID = "0020000E";

/**
 * Every standard transfer syntax that is not retired: Explicit VR Little Endian first (it keeps
 * the VR of private attributes, which implicit VR loses), then the other uncompressed ones,
 * then the compressed ones, so that a peer proposing several gets the file it sent unconverted
 * whenever it can.
 */
function defaultTransferSyntaxes(): string[] {
  const active = TRANSFER_SYNTAXES.filter((ts) => !ts.retired);
  const uncompressed = active.filter((ts) => !ts.encapsulated && !ts.deflated).map((ts) => ts.uid);
  return [
    ...uncompressed.filter((uid) => uid === ExplicitVrLittleEndian),
    ...uncompressed.filter((uid) => uid !== ExplicitVrLittleEndian),
    ...active.filter((ts) => ts.encapsulated || ts.deflated).map((ts) => ts.uid),
  ];
}

/** The SOP classes a Storage service takes, each with the transfer syntaxes it accepts. */
function storageSopClassSupport(options: StorageHandlerOptions): SopClassSupport[] {
  const transferSyntaxes = options.transferSyntaxes ?? defaultTransferSyntaxes();
  const sopClasses = options.sopClasses ?? STORAGE_SOP_CLASSES.map((c) => c.uid);
  return sopClasses.map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes }));
}

/** A failure answered with a C-STORE status; the instance is not kept. */
class StoreRefusal extends Error {
  readonly status: number;
  readonly offendingElement?: number[];

  constructor(status: number, message: string, offendingElement?: number[]) {
    super(message);
    this.name = "StoreRefusal";
    this.status = status;
    this.offendingElement = offendingElement;
  }
}

/** The Storage service class as SCP, writing Part 10 files under `options.dir`. */
export function storage(options: StorageOptions): Service {
  const fsync = options.fsync ?? true;
  const layout = options.layout ?? "flat";
  const duplicates = options.duplicates ?? "overwrite";
  const log = logLines(options.log);
  const dir = options.dir;
  let madeDir = false;
  const buffers = new BufferPool(WRITE_BUFFER);
  const metas = new FileMetaCache();
  const folders = new FolderFlusher();
  const spares = options.spareTempFile ? new SpareTempFile(dir, { sync: !fsync }) : undefined;
  /** Instances being received or placed now, on every association of this service. */
  let inFlight = 0;
  const concurrent = () => inFlight > 1;
  /** Bytes of heads held by index rows this service queued since it last asked for a flush. */
  let queuedHeadBytes = 0;
  const index = options.index;
  /**
   * What follows each success response: the index is asked to write its queue when its rows
   * hold much, and the next instance's temp file is made while the peer reads its next file.
   */
  const afterSend = () => {
    if (index?.flush !== undefined && queuedHeadBytes > QUEUED_HEADS_LIMIT) {
      queuedHeadBytes = 0;
      index.flush().catch((error) => log(`storage: index: ${describe(error)}`));
    }
    spares?.refill();
  };
  return {
    name: "storage",
    sopClasses: storageSopClassSupport(options),
    close(): Promise<void> {
      spares?.close();
      return Promise.resolve();
    },
    async handle(request: ServiceRequest): Promise<ServiceResponse> {
      const { command } = request;
      if (command.commandField !== CommandField.C_STORE_RQ) {
        return { status: Status.UNRECOGNIZED_OPERATION };
      }
      const sopClassUid = command.affectedSopClassUid ?? "";
      const sopInstanceUid = command.affectedSopInstanceUid ?? "";
      const answer = { affectedSopClassUid: sopClassUid, affectedSopInstanceUid: sopInstanceUid };
      const from = `${request.association.callingAeTitle}@${request.association.peerAddress}`;
      const logInstance = (line: string) => log(`storage: ${sopInstanceUid} from ${from}: ${line}`);
      function refuse(status: number, comment: string, offending?: number[]): ServiceResponse {
        log(
          `storage: ${sopInstanceUid || "(no SOP Instance UID)"} from ${from} not stored, ` +
            `status ${statusHex(status)}: ${comment}`,
        );
        const response: ServiceResponse = {
          status,
          command: { ...answer, errorComment: comment.slice(0, 64) },
        };
        if (offending) response.command!.offendingElement = offending;
        return response;
      }
      if (!request.dataSet) {
        return refuse(Status.CANNOT_UNDERSTAND, "C-STORE-RQ without a data set");
      }
      if (!isSafeUidForPath(sopInstanceUid)) {
        await drain(request.dataSet);
        return refuse(
          Status.INVALID_OBJECT_INSTANCE,
          "Affected SOP Instance UID is not a valid UID",
          [0x00001000],
        );
      }
      const spare = spares?.take();
      const tempName = spare?.name ?? `.${sopInstanceUid}.${crypto.randomUUID()}.tmp`;
      const temp = joinStorePath(dir, tempName);
      inFlight++;
      try {
        if (!madeDir) {
          Deno.mkdirSync(dir, { recursive: true });
          madeDir = true;
        }
        const meta = metas.encode(
          sopClassUid,
          sopInstanceUid,
          request.transferSyntax,
          request.association.callingAeTitle,
        );
        // The index is asked while the data set arrives rather than after it: the answer only
        // guides the placement, which the file system itself keeps safe (a hard link or a rename
        // is atomic), so an instance placed meanwhile on another association is still handled.
        const knowing = index ? knownPath(index, sopInstanceUid, logInstance) : undefined;
        // Awaited below; this only keeps a refusal from being unhandled should the data fail first.
        knowing?.catch(() => {});
        const received = await writeTempFile(temp, meta, request, {
          file: spare?.file,
          fsync,
          buffers,
          concurrent,
        });
        // Before the response only the UIDs are needed (and the structure, checked): the rest of
        // the head is decoded when the index row is written, after the response.
        const head = received.head ??
          (await readInstance(dir, tempName, { bulkThreshold: HEAD_BULK_THRESHOLD })).dataSet;
        const dataSet = head instanceof LazyHead ? head.uids : head;
        if (uidValue(dataSet, SOP_CLASS_UID) === undefined && sopClassUid === "") {
          throw new InstanceReadError(temp, `${temp} has no SOP Class UID or SOP Instance UID`);
        }
        const size = received.size;
        const status = checkAgainstCommand(dataSet, sopClassUid, sopInstanceUid);
        const location = instanceLocation(layout, {
          sopInstanceUid,
          studyInstanceUid: uidValue(dataSet, STUDY_INSTANCE_UID),
          seriesInstanceUid: uidValue(dataSet, SERIES_INSTANCE_UID),
        });
        const known = knowing === undefined ? undefined : await knowing;
        const placement = await placeFile(dir, temp, location, duplicates, known);
        if (fsync && placement.outcome !== "discarded") {
          // The new name is durable only once its folder is flushed too (POSIX fsync).
          await folders.flush(joinStorePath(dir, location.folder), concurrent());
        }
        if (placement.outcome === "discarded") {
          log(
            `storage: ${sopInstanceUid} from ${from} is already stored at ${placement.path}; ` +
              `the new copy is discarded (duplicates: keep-first)`,
          );
          return { status: Status.SUCCESS, command: answer };
        }
        const instance = indexedInstance(
          {
            path: placement.path,
            sopClassUid,
            sopInstanceUid,
            transferSyntaxUid: request.transferSyntax,
            size,
          },
          head,
          logInstance,
        );
        if (index) {
          try {
            // The row need not be flushed before the response when the start check can rebuild
            // it: with fsync off nothing is flushed anyway; with fsync on, a new file under a new
            // name is flushed (file and folder) before this point, and the start check adds any
            // file without a row (a row lost with the last transactions of the database's
            // write-ahead log on power loss is rebuilt from the file before the SCP serves).
            // A replaced or second copy leaves an older row under that path or SOP Instance UID
            // that the start check keeps as it is, so that row is flushed before the response.
            const durable = fsync && placement.outcome !== "stored";
            await index.add(instance, { durable });
            // A queued row holds its head (a decoded one at most as large as the bytes kept).
            if (!durable) {
              queuedHeadBytes += head instanceof LazyHead ? head.byteLength : HEAD_LIMIT;
            }
          } catch (error) {
            await undoPlacement(dir, placement);
            logInstance(`index: ${describe(error)}`);
            throw new StoreRefusal(Status.OUT_OF_RESOURCES, "Instance could not be indexed");
          }
        }
        if (placement.backup !== undefined || placement.previous !== undefined) {
          await commitPlacement(dir, placement, log);
        }
        if (placement.outcome !== "stored") {
          log(
            `storage: ${sopInstanceUid} from ${from} ${
              placement.outcome === "replaced" ? "replaced the copy" : "stored beside the copy"
            } already stored, at ${placement.path} (duplicates: ${duplicates})`,
          );
        }
        if (options.onStored) {
          const file = joinStorePath(dir, placement.path);
          try {
            await options.onStored({
              ...instance,
              file,
              outcome: placement.outcome,
              status: status.status,
              association: request.association,
              dataSetOffset: meta.length,
              dataSetStream: () => fileStream(file, meta.length),
            });
          } catch (error) {
            log(`storage: onStored failed for ${sopInstanceUid}: ${describe(error)}`);
          }
        }
        if (status.status === Status.SUCCESS) {
          return { status: Status.SUCCESS, command: answer, afterSend };
        }
        log(`storage: ${sopInstanceUid} from ${from} stored with a warning: ${status.comment}`);
        return {
          status: status.status,
          command: { ...answer, errorComment: status.comment, offendingElement: status.offending },
          afterSend,
        };
      } catch (error) {
        removeQuietly(temp);
        if (request.signal.aborted) throw error;
        await drain(request.dataSet);
        if (error instanceof StoreRefusal) {
          return refuse(error.status, error.message, error.offendingElement);
        }
        if (error instanceof UnsafePathError) {
          return refuse(Status.DATA_SET_DOES_NOT_MATCH_SOP_CLASS_ERROR, error.message, [
            parseInt(error.tag, 16),
          ]);
        }
        if (error instanceof InstanceReadError) {
          logInstance(error.message);
          return refuse(Status.CANNOT_UNDERSTAND, "Data set cannot be parsed up to Pixel Data");
        }
        // The details (paths of this host) go to the log, not to the peer.
        const outOfSpace = error instanceof Error && /ENOSPC|No space left/i.test(error.message);
        if (!outOfSpace) logInstance(describe(error));
        return refuse(
          Status.OUT_OF_RESOURCES,
          outOfSpace ? "Out of disk space" : "Instance could not be written to the store",
        );
      } finally {
        inFlight--;
      }
    },
  };
}

/** What the data set says against the command: A900 when they disagree, B007 when it is silent. */
function checkAgainstCommand(
  dataSet: DataSet,
  sopClassUid: string,
  sopInstanceUid: string,
): { status: number; comment: string; offending: number[] } {
  const inClass = uidValue(dataSet, SOP_CLASS_UID);
  const inInstance = uidValue(dataSet, SOP_INSTANCE_UID);
  // PS3.4 B.2.3: a data set that contradicts the command is not stored (A9xx).
  if (inClass !== undefined && inClass !== sopClassUid) {
    throw new StoreRefusal(
      Status.DATA_SET_DOES_NOT_MATCH_SOP_CLASS_ERROR,
      "SOP Class UID differs from Affected SOP Class UID",
      [0x00080016],
    );
  }
  if (inInstance !== undefined && inInstance !== sopInstanceUid) {
    throw new StoreRefusal(
      Status.DATA_SET_DOES_NOT_MATCH_SOP_CLASS_ERROR,
      "SOP Instance UID differs from Affected SOP Instance UID",
      [0x00080018],
    );
  }
  const missing: number[] = [];
  if (inClass === undefined) missing.push(0x00080016);
  if (inInstance === undefined) missing.push(0x00080018);
  if (missing.length === 0) return { status: Status.SUCCESS, comment: "", offending: [] };
  // PS3.4 B.2.3: stored as received, with the warning that it does not match (B007).
  return {
    status: Status.DATA_SET_DOES_NOT_MATCH_SOP_CLASS,
    comment: missing.length === 2
      ? "SOP Class UID and SOP Instance UID missing"
      : missing[0] === 0x00080016
      ? "SOP Class UID missing"
      : "SOP Instance UID missing",
    offending: missing,
  };
}

/**
 * Where the index has the SOP Instance UID, null when it has no such instance; an index that
 * cannot answer refuses with A700.
 */
async function knownPath(
  index: InstanceIndex,
  sopInstanceUid: string,
  log: (line: string) => void,
): Promise<string | null> {
  try {
    return (await index.get(sopInstanceUid))?.path ?? null;
  } catch (error) {
    log(`index: ${describe(error)}`);
    throw new StoreRefusal(Status.OUT_OF_RESOURCES, "Instance could not be looked up in the index");
  }
}

/** A UI value of the top level data set, or undefined when absent or empty. */
function uidValue(dataSet: DataSet, tag: string): string | undefined {
  const value = dataSet[tag]?.Value?.[0];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** What {@linkcode writeTempFile} wrote, and the data set read from its head on the way. */
interface ReceivedDataSet {
  /** Bytes of the file: meta and data set. */
  size: number;
  /**
   * The data set up to Pixel Data, from the head kept in memory (checked, with its UIDs read
   * and the rest decoded when asked for, or read whole); undefined when the head ends before
   * Pixel Data (large values before it), so that the file must be read.
   */
  head?: LazyHead | DataSet;
}

/** Top level tags read before the response: the command check and the folder layout. */
const UID_TAGS: ReadonlySet<number> = new Set([0x00080016, 0x00080018, 0x0020000d, 0x0020000e]);

/**
 * The head of a data set up to Pixel Data whose structure is checked and whose UIDs are read,
 * the rest decoded on first use (for the index, after the response). It keeps a copy of the
 * bytes up to Pixel Data only.
 */
class LazyHead {
  /** The top level UIDs of {@linkcode UID_TAGS} (and Specific Character Set). */
  readonly uids: DataSet;
  #bytes: Uint8Array;
  #transferSyntax: TransferSyntax;

  constructor(uids: DataSet, bytes: Uint8Array, transferSyntax: TransferSyntax) {
    this.uids = uids;
    this.#bytes = bytes;
    this.#transferSyntax = transferSyntax;
  }

  /** Bytes kept until the head is decoded. */
  get byteLength(): number {
    return this.#bytes.length;
  }

  /**
   * Every element up to Pixel Data, decoded now. The scan that made this head walks the bytes
   * as the reader does, so the reader takes them; were it not to, the UIDs stand in, with a log
   * line.
   */
  dataSet(log: (line: string) => void): DataSet {
    const read = readDataSetHead(this.#bytes, this.#transferSyntax, HEAD_OPTIONS);
    if (read === undefined) log("the head read for the index holds its UIDs only");
    return read?.dataSet ?? this.uids;
  }
}

/** The index entry of a stored instance, its data set decoded from a lazy head when read. */
function indexedInstance(
  fields: Omit<IndexedInstance, "dataSet">,
  head: LazyHead | DataSet,
  log: (line: string) => void,
): IndexedInstance {
  if (!(head instanceof LazyHead)) return { ...fields, dataSet: head };
  return lazyIndexedInstance(fields, () => head.dataSet(log));
}

/**
 * Writes the meta and the data set stream to a new file, flushed when `fsync`, and reads the
 * data set up to Pixel Data from its head on the way.
 *
 * `options.file`, when given, is an empty file already made at `path` (a spare, made between
 * instances): the meta goes into it at once. Otherwise, with fsync on, creating a file can take
 * a millisecond behind a journal commit, so the file is created by the runtime's I/O threads
 * while the data set arrives into memory and its head is parsed; with fsync off it is created
 * at once and the meta written before the data set arrives. Small pieces (16 KiB PDVs) are gathered into large writes, one file system call for
 * many; pieces of 32 KiB or more are written as they come, without a copy. The writes are
 * synchronous: a write into the page cache takes microseconds, less than a round trip through
 * the I/O threads. The file is open and closed again (or never created)
 * whenever this returns or throws, so the caller can remove it. Throws
 * {@linkcode InstanceReadError} when the whole data set is in memory and cannot be parsed.
 */
async function writeTempFile(
  path: string,
  meta: Uint8Array,
  request: ServiceRequest,
  options: {
    file?: Deno.FsFile;
    fsync: boolean;
    buffers: BufferPool;
    concurrent: () => boolean;
  },
): Promise<ReceivedDataSet> {
  const { fsync, buffers } = options;
  // Without fsync the journal is rarely busy and a create takes tens of microseconds, less than
  // a round trip through the runtime's I/O threads; with fsync on, a create can wait behind a
  // journal commit, and the I/O threads do that wait while other associations go on.
  const opening = fsync && options.file === undefined
    ? Deno.open(path, { write: true, createNew: true })
    : undefined;
  // Settled below in every case; this only keeps an early failure from being unhandled.
  opening?.catch(() => {});
  let file: Deno.FsFile | undefined;
  const buffer = buffers.take();
  // With fsync on, a large instance is flushed as it arrives (one flush in flight at a time,
  // each started once EARLY_FLUSH_BYTES more are written): the disk writes while the network
  // delivers, and the final flush before the response has little left to write.
  let flushing: Promise<void> | undefined;
  let flushError: unknown;
  let flushedUpTo = 0;
  const flushEarly = (written: number) => {
    if (!fsync || flushing !== undefined || written - flushedUpTo < EARLY_FLUSH_BYTES) return;
    flushedUpTo = written;
    flushing = file!.syncData().then(
      () => {
        flushing = undefined;
      },
      (error) => {
        flushError ??= error;
        flushing = undefined;
      },
    );
  };
  try {
    let size = meta.length;
    const head: Uint8Array[] = [];
    let headLength = 0;
    let used = 0;
    if (opening === undefined) {
      // The meta goes to the file before the data set arrives, so that a data set arriving in
      // one piece is written straight from the bytes read, without a copy.
      file = options.file ?? Deno.openSync(path, { write: true, createNew: true });
      writeAllSync(file, meta);
    } else {
      buffer.set(meta);
      used = meta.length;
    }
    // A reader of its own rather than `for await`: releasing the lock of a finished stream
    // builds an error for its `closed` promise, which costs more than the rest of the loop.
    // The lock is released only when the stream did not end, so that it can be drained.
    const reader = request.dataSet!.getReader();
    let ended = false;
    try {
      while (true) {
        const next = await reader.read();
        if (next.done) {
          ended = true;
          break;
        }
        const chunk = next.value;
        const keep = headLength < HEAD_LIMIT;
        if (keep) {
          head.push(chunk);
          headLength += chunk.length;
        }
        size += chunk.length;
        const direct = chunk.length >= DIRECT_WRITE;
        if (used > 0 && (direct || used + chunk.length > buffer.length)) {
          file ??= await opening!;
          writeAllSync(file, buffer.subarray(0, used));
          used = 0;
          flushEarly(size - chunk.length);
        }
        if (direct) {
          file ??= await opening!;
          writeAllSync(file, chunk);
          flushEarly(size);
        } else {
          buffer.set(chunk, used);
          used += chunk.length;
        }
        // Copied or written: its buffer can take a later read (the head is given back below).
        if (!keep) releasePdvBytes(chunk);
      }
    } finally {
      if (!ended) reader.releaseLock();
    }
    const headIsWhole = headLength === size - meta.length;
    const ts = transferSyntaxOf(request.transferSyntax);
    const parsed = (ts && scanHead(head, headIsWhole, ts)) ??
      await parseHead(head, headIsWhole, request.transferSyntax, path);
    // Parsed into values of their own (strings, numbers, base64): the bytes are not referenced.
    for (const chunk of head) releasePdvBytes(chunk);
    file ??= await opening!;
    if (used > 0) writeAllSync(file, buffer.subarray(0, used));
    await flushing;
    if (flushError !== undefined) throw flushError;
    if (fsync) {
      // A small file received alone is flushed at once: waiting for the runtime's I/O threads
      // costs more than the flush itself. A large one, or one received while others are, is
      // flushed by them: the others go on meanwhile, and flushes issued together share the
      // file system's journal commits.
      if (size <= SYNC_FLUSH_LIMIT && !options.concurrent()) file.syncDataSync();
      else await file.syncData();
    }
    if (parsed instanceof Error) throw parsed;
    return { size, head: parsed };
  } finally {
    buffers.give(buffer);
    // The file is closed only once no flush of it is in flight.
    await flushing;
    if (file === undefined && opening !== undefined) {
      try {
        file = await opening;
      } catch {
        // Never created.
      }
    }
    file?.close();
  }
}

/**
 * The head kept in memory, checked up to Pixel Data with its UIDs read, when the fast reader
 * takes it; undefined when it does not (the general reader then tries), or when the head ends
 * before Pixel Data and is not the whole data set.
 */
function scanHead(
  head: Uint8Array[],
  headIsWhole: boolean,
  ts: TransferSyntax,
): LazyHead | undefined {
  // The first PDV usually holds everything before Pixel Data: try it alone before copying.
  if (head.length > 1) {
    const first = scanDataSetHead(head[0], ts, UID_TAGS, HEAD_OPTIONS);
    if (first?.stopped) return new LazyHead(first.dataSet, copyHead(head[0], first.length), ts);
  }
  const bytes = head.length === 1 ? head[0] : concatBytes(head);
  const scanned = scanDataSetHead(bytes, ts, UID_TAGS, HEAD_OPTIONS);
  if (scanned === undefined || !(scanned.stopped || headIsWhole)) return undefined;
  return new LazyHead(scanned.dataSet, copyHead(bytes, scanned.length), ts);
}

/**
 * The data set up to Pixel Data read by the general reader from the head kept in memory, when
 * {@linkcode scanHead} did not take it (big endian, deflate, fragments or malformed bytes before
 * Pixel Data); undefined when the head ends before Pixel Data, and an
 * {@linkcode InstanceReadError} (returned, for the caller to throw once the file is closed)
 * when the whole data set is there and cannot be parsed.
 */
async function parseHead(
  head: Uint8Array[],
  headIsWhole: boolean,
  transferSyntax: string,
  path: string,
): Promise<DataSet | InstanceReadError | undefined> {
  try {
    const { dataSet, stopped } = await readWholeDataSet(head, {
      transferSyntax,
      ...HEAD_OPTIONS,
      bulk: "skip",
    });
    if (stopped !== undefined || headIsWhole) return dataSet;
  } catch (error) {
    if (headIsWhole) {
      return new InstanceReadError(
        path,
        `${path} is not a readable Part 10 file: ${describe(error)}`,
      );
    }
  }
  return undefined;
}

/**
 * File Meta Information (PS3.10 §7.1) of received instances: encoded once per SOP class,
 * transfer syntax and calling AE title as a template, in which only (0002,0003) Media Storage
 * SOP Instance UID and (0002,0000) File Meta Information Group Length change per instance.
 */
class FileMetaCache {
  #templates = new Map<string, MetaTemplate>();
  /** The template used last, and what it was for: instances on one association share it. */
  #last: { sopClassUid: string; transferSyntaxUid: string; aeTitle: string } | undefined;
  #lastTemplate: MetaTemplate | undefined;

  encode(
    sopClassUid: string,
    sopInstanceUid: string,
    transferSyntaxUid: string,
    sourceApplicationEntityTitle: string,
  ): Uint8Array {
    const { before, after } = this.#template(
      sopClassUid,
      transferSyntaxUid,
      sourceApplicationEntityTitle,
    );
    // PS3.5 §6.2: a UI value is padded to an even length with a single NUL.
    const valueLength = sopInstanceUid.length + (sopInstanceUid.length & 1);
    const bodyLength = before.length + 8 + valueLength + after.length;
    const out = new Uint8Array(META_PREFIX + bodyLength);
    out.set(DICM, 128);
    out.set(GROUP_LENGTH_HEAD, 132);
    const view = new DataView(out.buffer);
    view.setUint32(140, bodyLength, true);
    out.set(before, META_PREFIX);
    let at = META_PREFIX + before.length;
    out.set(MEDIA_STORAGE_SOP_INSTANCE_UID_HEAD, at);
    view.setUint16(at + 6, valueLength, true);
    at += 8;
    for (let i = 0; i < sopInstanceUid.length; i++) out[at + i] = sopInstanceUid.charCodeAt(i);
    out.set(after, at + valueLength);
    return out;
  }

  #template(sopClassUid: string, transferSyntaxUid: string, aeTitle: string): MetaTemplate {
    const last = this.#last;
    if (
      last !== undefined && last.sopClassUid === sopClassUid &&
      last.transferSyntaxUid === transferSyntaxUid && last.aeTitle === aeTitle
    ) {
      return this.#lastTemplate!;
    }
    const key = `${sopClassUid}\\${transferSyntaxUid}\\${aeTitle}`;
    let template = this.#templates.get(key);
    if (template === undefined) {
      template = metaTemplate(sopClassUid, transferSyntaxUid, aeTitle);
      if (this.#templates.size >= 64) this.#templates.clear();
      this.#templates.set(key, template);
    }
    this.#last = { sopClassUid, transferSyntaxUid, aeTitle };
    this.#lastTemplate = template;
    return template;
  }
}

/** The meta elements before and after (0002,0003) Media Storage SOP Instance UID. */
interface MetaTemplate {
  before: Uint8Array;
  after: Uint8Array;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Preamble, "DICM" and the (0002,0000) element. */
const META_PREFIX = 144;
/** "DICM" (PS3.10 §7.1). */
const DICM = new Uint8Array([0x44, 0x49, 0x43, 0x4d]);
/** (0002,0000) UL with a 4-byte value, explicit VR little endian; the value follows. */
const GROUP_LENGTH_HEAD = new Uint8Array([0x02, 0x00, 0x00, 0x00, 0x55, 0x4c, 0x04, 0x00]);
/** (0002,0003) UI, its 2-byte length to follow. */
const MEDIA_STORAGE_SOP_INSTANCE_UID_HEAD = new Uint8Array([0x02, 0x00, 0x03, 0x00, 0x55, 0x49]);

/** The meta elements before and after (0002,0003), from the standard encoder. */
function metaTemplate(
  sopClassUid: string,
  transferSyntaxUid: string,
  sourceApplicationEntityTitle: string,
): MetaTemplate {
  const encoded = encodeFileMetaInformation({
    mediaStorageSopClassUid: sopClassUid,
    mediaStorageSopInstanceUid: "1",
    transferSyntaxUid,
    sourceApplicationEntityTitle,
  });
  const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.length);
  let at = META_PREFIX;
  while (at + 8 <= encoded.length) {
    const element = view.getUint16(at + 2, true);
    const vr = String.fromCharCode(encoded[at + 4], encoded[at + 5]);
    const long = vr === "OB" || vr === "OW" || vr === "UN" || vr === "UT" || vr === "UR";
    const length = long ? view.getUint32(at + 8, true) : view.getUint16(at + 6, true);
    const end = at + (long ? 12 : 8) + length;
    if (element === 0x0003) {
      return {
        before: encoded.slice(META_PREFIX, at),
        after: encoded.slice(end),
      };
    }
    at = end;
  }
  throw new Error("File Meta Information has no Media Storage SOP Instance UID");
}

/** Reusable write buffers, one per instance being received. */
class BufferPool {
  #size: number;
  #free: Uint8Array[] = [];

  constructor(size: number) {
    this.#size = size;
  }

  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.#size);
  }

  give(buffer: Uint8Array): void {
    // As many are kept as instances are usually in flight at once (an asynchronous operations
    // window of 16): fewer, and each burst allocates and frees megabytes that the allocator then
    // keeps (64 KiB instances, window 16, fsync on: a peak RSS of 151–161 MiB with 4 kept,
    // 88–92 MiB with 16).
    if (this.#free.length < 16) this.#free.push(buffer);
  }
}

function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.length) at += file.writeSync(bytes.subarray(at));
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Never created, or already moved into place.
  }
}

/** After the index took the instance: drops the backup of a replaced file and an old copy. */
async function commitPlacement(
  dir: string,
  placement: Placement,
  log: (line: string) => void,
): Promise<void> {
  for (const leftover of [placement.backup, placement.previous]) {
    if (leftover === undefined) continue;
    await Deno.remove(joinStorePath(dir, leftover)).catch((error) => {
      log(`storage: could not remove ${leftover}: ${describe(error)}`);
    });
  }
}

/** When the index refused the instance: removes the new file and restores a replaced one. */
async function undoPlacement(dir: string, placement: Placement): Promise<void> {
  const path = joinStorePath(dir, placement.path);
  if (placement.backup !== undefined) {
    await Deno.rename(joinStorePath(dir, placement.backup), path);
  } else {
    await Deno.remove(path).catch(() => {});
  }
}

/**
 * Flushes folders' entries to disk (POSIX: a new name is durable once its folder is flushed),
 * one flush per folder at a time: a flush asked for while one runs waits for it and then shares
 * the next one with every other asked for meanwhile, so that instances placed together cost
 * one folder flush. A platform or file system that cannot flush a folder is left as is (the
 * file itself is flushed).
 */
class FolderFlusher {
  #folders = new Map<string, { running: Promise<void>; next?: Promise<void> }>();

  /**
   * Resolves once `path` was flushed after this call. Alone (nothing running for the folder and
   * no other instance in flight), the flush is made synchronously: it writes a few metadata
   * blocks, less than a round trip through the runtime's I/O threads.
   */
  flush(path: string, concurrent: boolean): Promise<void> {
    const state = this.#folders.get(path);
    if (state === undefined) {
      if (!concurrent) {
        flushFolderSync(path);
        return Promise.resolve();
      }
      const running = this.#run(path);
      this.#folders.set(path, { running });
      return running;
    }
    state.next ??= state.running.then(() => {
      const running = this.#run(path);
      this.#folders.set(path, { running });
      return running;
    });
    return state.next;
  }

  async #run(path: string): Promise<void> {
    try {
      const folder = await Deno.open(path, { read: true });
      try {
        await folder.syncData();
      } finally {
        folder.close();
      }
    } catch {
      // Not flushable here (see the class documentation).
    } finally {
      const state = this.#folders.get(path);
      if (state !== undefined && state.next === undefined) this.#folders.delete(path);
    }
  }
}

function flushFolderSync(path: string): void {
  let folder: Deno.FsFile;
  try {
    folder = Deno.openSync(path, { read: true });
  } catch {
    return;
  }
  try {
    folder.syncDataSync();
  } catch {
    // Some platforms and file systems cannot flush a folder; the file itself is flushed.
  } finally {
    folder.close();
  }
}

/** A file's bytes from `offset`, read as the consumer pulls. */
function fileStream(path: string, offset: number): ReadableStream<Uint8Array> {
  let file: Deno.FsFile | undefined;
  return new ReadableStream<Uint8Array>({
    async start() {
      file = await Deno.open(path, { read: true });
      await file.seek(offset, Deno.SeekMode.Start);
    },
    async pull(controller) {
      const buffer = new Uint8Array(READ_CHUNK);
      const n = await file!.read(buffer);
      if (n === null) {
        file!.close();
        controller.close();
      } else {
        controller.enqueue(buffer.subarray(0, n));
      }
    },
    cancel() {
      file?.close();
    },
  }, { highWaterMark: 0 });
}

/** Reads a data set stream to its end, discarding it, so the response follows the request. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
  try {
    for await (const _ of stream) { /* discarded */ }
  } catch {
    // Already read, cancelled, or the association ended: nothing left to discard.
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An instance as it arrives, handed to an {@linkcode InstanceHandler}. */
export interface IncomingInstance {
  /** The C-STORE-RQ command set. */
  command: CommandSet;
  /** Affected SOP Class UID of the command. */
  sopClassUid: string;
  /** Affected SOP Instance UID of the command; not checked: do not use it as a path unseen. */
  sopInstanceUid: string;
  /** Transfer syntax of the data set (the presentation context's). */
  transferSyntax: string;
  /** The association it comes on. */
  association: AssociationInfo;
  /**
   * Preamble, "DICM" and File Meta Information (PS3.10 §7.1) for the instance, as the store
   * would write them: these bytes followed by `dataSet` make a Part 10 file.
   */
  fileMetaInformation: Uint8Array;
  /** The data set as it arrives, with backpressure; whatever is not read is discarded. */
  dataSet: ReadableStream<Uint8Array>;
  /** Aborted when the association ends (or on C-CANCEL-RQ) while the instance is arriving. */
  signal: AbortSignal;
}

/**
 * Takes one instance instead of the store; resolves with the C-STORE status (PS3.4 B.2.3) or
 * a whole response. A handler that throws answers 0110 Processing failure with the message.
 */
export type InstanceHandler = (instance: IncomingInstance) => Promise<number | ServiceResponse>;

/** Options of {@linkcode storageHandler}. */
export interface StorageHandlerOptions {
  /**
   * Transfer syntaxes accepted, in preference order; default every standard one not retired,
   * Explicit VR Little Endian first, then the other uncompressed ones, then compressed ones.
   */
  transferSyntaxes?: readonly string[];
  /** SOP classes accepted; default every Storage SOP class. */
  sopClasses?: readonly string[];
}

/**
 * The Storage service class as SCP handing each instance to `onInstance` as a stream, instead
 * of writing it to the store: for forwarding, custom stores, or inspecting instances on the fly.
 */
export function storageHandler(
  onInstance: InstanceHandler,
  options: StorageHandlerOptions = {},
): Service {
  const metas = new FileMetaCache();
  return {
    name: "storage",
    sopClasses: storageSopClassSupport(options),
    async handle(request: ServiceRequest): Promise<ServiceResponse> {
      const { command } = request;
      if (command.commandField !== CommandField.C_STORE_RQ) {
        return { status: Status.UNRECOGNIZED_OPERATION };
      }
      if (!request.dataSet) {
        return {
          status: Status.CANNOT_UNDERSTAND,
          command: { errorComment: "C-STORE-RQ without a data set" },
        };
      }
      const sopClassUid = command.affectedSopClassUid ?? "";
      const sopInstanceUid = command.affectedSopInstanceUid ?? "";
      const result = await onInstance({
        command,
        sopClassUid,
        sopInstanceUid,
        transferSyntax: request.transferSyntax,
        association: request.association,
        // The UID is not checked here: one that is not plain ASCII goes through the encoder.
        fileMetaInformation: PRINTABLE_ASCII.test(sopInstanceUid)
          ? metas.encode(
            sopClassUid,
            sopInstanceUid,
            request.transferSyntax,
            request.association.callingAeTitle,
          )
          : encodeFileMetaInformation({
            mediaStorageSopClassUid: sopClassUid,
            mediaStorageSopInstanceUid: sopInstanceUid,
            transferSyntaxUid: request.transferSyntax,
            sourceApplicationEntityTitle: request.association.callingAeTitle,
          }),
        dataSet: request.dataSet,
        signal: request.signal,
      });
      return typeof result === "number" ? { status: result } : result;
    },
  };
}
