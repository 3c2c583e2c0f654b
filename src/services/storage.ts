/**
 * The Storage service as SCP (PS3.4 Annex B): each C-STORE-RQ's data set is streamed to a temp
 * file in the store folder behind a file meta group built from the command set and the
 * presentation context, flushed to disk, read back up to Pixel Data (a file's head is still in
 * the page cache) to check it against the command and to learn its study and series, then moved
 * into place under the folder layout and duplicate policy, and recorded in the index before the
 * success response. Nothing is held whole in memory; an instance is on disk whole, or not at all.
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
import { Status } from "../dimse/status.ts";
import type { DataSet } from "../dataset/dataset.ts";
import { encodeFileMetaInformation } from "../dataset/part10.ts";
import { STORAGE_SOP_CLASSES } from "../dataset/storage_sop_classes.ts";
import { ExplicitVrLittleEndian, TRANSFER_SYNTAXES } from "../dataset/transfer_syntax.ts";
import type { IndexedInstance, InstanceIndex } from "../store/instance_index.ts";
import { InstanceReadError, readInstance } from "../store/read_instance.ts";
import type { AssociationInfo, Service, ServiceRequest, ServiceResponse } from "./service.ts";
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
  /** Where log lines go; default console.error. */
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
  const transferSyntaxes = options.transferSyntaxes ?? defaultTransferSyntaxes();
  const sopClasses = options.sopClasses ?? STORAGE_SOP_CLASSES.map((c) => c.uid);
  const fsync = options.fsync ?? true;
  const layout = options.layout ?? "flat";
  const duplicates = options.duplicates ?? "overwrite";
  const log = options.log ?? ((line: string) => console.error(line));
  const dir = options.dir;
  let madeDir = false;
  return {
    name: "storage",
    sopClasses: sopClasses.map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes })),
    async handle(request: ServiceRequest): Promise<ServiceResponse> {
      const { command } = request;
      if (command.commandField !== CommandField.C_STORE_RQ) {
        return { status: Status.UNRECOGNIZED_OPERATION };
      }
      const sopClassUid = command.affectedSopClassUid ?? "";
      const sopInstanceUid = command.affectedSopInstanceUid ?? "";
      const answer = { affectedSopClassUid: sopClassUid, affectedSopInstanceUid: sopInstanceUid };
      const from = `${request.association.callingAeTitle}@${request.association.peerAddress}`;
      function refuse(status: number, comment: string, offending?: number[]): ServiceResponse {
        log(
          `storage: ${sopInstanceUid || "(no SOP Instance UID)"} from ${from} not stored, ` +
            `status ${hex(status)}: ${comment}`,
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
      const tempName = `.${sopInstanceUid}.${crypto.randomUUID()}.tmp`;
      const temp = joinStorePath(dir, tempName);
      try {
        if (!madeDir) {
          await Deno.mkdir(dir, { recursive: true });
          madeDir = true;
        }
        const meta = encodeFileMetaInformation({
          mediaStorageSopClassUid: sopClassUid,
          mediaStorageSopInstanceUid: sopInstanceUid,
          transferSyntaxUid: request.transferSyntax,
          sourceApplicationEntityTitle: request.association.callingAeTitle,
        });
        const size = await writeTempFile(temp, meta, request.dataSet, fsync);
        // The file's head is still in the page cache: reading it back up to Pixel Data is cheap.
        const { dataSet } = await readInstance(dir, tempName);
        const status = checkAgainstCommand(dataSet, sopClassUid, sopInstanceUid);
        const location = instanceLocation(layout, {
          sopInstanceUid,
          studyInstanceUid: uidValue(dataSet, STUDY_INSTANCE_UID),
          seriesInstanceUid: uidValue(dataSet, SERIES_INSTANCE_UID),
        });
        const known = options.index
          ? await knownPath(
            options.index,
            sopInstanceUid,
            (line) => log(`storage: ${sopInstanceUid} from ${from}: ${line}`),
          )
          : undefined;
        const placement = await placeFile(dir, temp, location, duplicates, known);
        if (fsync && placement.outcome !== "discarded") {
          // The new name is durable only once its folder is flushed too (POSIX fsync).
          await syncFolder(joinStorePath(dir, location.folder));
        }
        if (placement.outcome === "discarded") {
          log(
            `storage: ${sopInstanceUid} from ${from} is already stored at ${placement.path}; ` +
              `the new copy is discarded (duplicates: keep-first)`,
          );
          return { status: Status.SUCCESS, command: answer };
        }
        const instance: IndexedInstance = {
          path: placement.path,
          sopClassUid,
          sopInstanceUid,
          transferSyntaxUid: request.transferSyntax,
          size,
          dataSet,
        };
        if (options.index) {
          try {
            await options.index.add(instance);
          } catch (error) {
            await undoPlacement(dir, placement);
            log(`storage: ${sopInstanceUid} from ${from}: index: ${describe(error)}`);
            throw new StoreRefusal(Status.OUT_OF_RESOURCES, "Instance could not be indexed");
          }
        }
        await commitPlacement(dir, placement, log);
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
        if (status.status === Status.SUCCESS) return { status: Status.SUCCESS, command: answer };
        log(`storage: ${sopInstanceUid} from ${from} stored with a warning: ${status.comment}`);
        return {
          status: status.status,
          command: { ...answer, errorComment: status.comment, offendingElement: status.offending },
        };
      } catch (error) {
        await Deno.remove(temp).catch(() => {});
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
          log(`storage: ${sopInstanceUid} from ${from}: ${error.message}`);
          return refuse(Status.CANNOT_UNDERSTAND, "Data set cannot be parsed up to Pixel Data");
        }
        // The details (paths of this host) go to the log, not to the peer.
        const outOfSpace = error instanceof Error && /ENOSPC|No space left/i.test(error.message);
        if (!outOfSpace) log(`storage: ${sopInstanceUid} from ${from}: ${describe(error)}`);
        return refuse(
          Status.OUT_OF_RESOURCES,
          outOfSpace ? "Out of disk space" : "Instance could not be written to the store",
        );
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

/** Where the index has the SOP Instance UID; an index that cannot answer refuses with A700. */
async function knownPath(
  index: InstanceIndex,
  sopInstanceUid: string,
  log: (line: string) => void,
): Promise<string | undefined> {
  try {
    return (await index.get(sopInstanceUid))?.path;
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

/** Writes the meta and the data set stream to a new file; returns its size. */
async function writeTempFile(
  path: string,
  meta: Uint8Array,
  dataSet: ReadableStream<Uint8Array>,
  fsync: boolean,
): Promise<number> {
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    let size = await writeAll(file, meta);
    for await (const chunk of dataSet) size += await writeAll(file, chunk);
    if (fsync) await file.syncData();
    return size;
  } finally {
    file.close();
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

/** Flushes a folder's entries to disk; a platform that cannot open folders is left as is. */
async function syncFolder(path: string): Promise<void> {
  let folder: Deno.FsFile;
  try {
    folder = await Deno.open(path, { read: true });
  } catch {
    return;
  }
  try {
    await folder.syncData();
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

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<number> {
  let at = 0;
  while (at < bytes.length) at += await file.write(bytes.subarray(at));
  return bytes.length;
}

function hex(status: number): string {
  return status.toString(16).toUpperCase().padStart(4, "0");
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
  const transferSyntaxes = options.transferSyntaxes ?? defaultTransferSyntaxes();
  const sopClasses = options.sopClasses ?? STORAGE_SOP_CLASSES.map((c) => c.uid);
  return {
    name: "storage",
    sopClasses: sopClasses.map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes })),
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
        fileMetaInformation: encodeFileMetaInformation({
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
