/**
 * The Storage service as SCU (PS3.4 Annex B): instances sent with C-STORE (PS3.7 §9.1.1), from
 * Part 10 files streamed from disk behind the command set, never read whole, or from data sets
 * in the DICOM JSON model. Presentation contexts are proposed per SOP class and transfer syntax,
 * with explicit and implicit VR little endian fallbacks for uncompressed files; a file whose own
 * transfer syntax was refused is converted on the fly to an uncompressed one the peer accepted.
 *
 * @module
 */
import { CommandField, type CommandSet, Priority } from "../dimse/command.ts";
import type { DimseResponse } from "../dimse/dispatcher.ts";
import type { DataSetSource } from "../dimse/message.ts";
import type { DataSet } from "../dataset/dataset.ts";
import { DataSetError } from "../dataset/errors.ts";
import { readPart10Header } from "../dataset/part10.ts";
import { STORAGE_SOP_CLASSES } from "../dataset/storage_sop_classes.ts";
import { isTranscodable, transcodeDataSet } from "../dataset/transcode.ts";
import {
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
  transferSyntaxOf,
} from "../dataset/transfer_syntax.ts";
import { concatBytes, deflateRaw, encodeDataSetParts } from "../dataset/writer.ts";
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
    options: { dataSet?: DataSetSource; presentationContextId?: number; timeoutMs?: number },
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

function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch {
    // the stream closed it
  }
}

/** Reads a file's meta information; undefined when it is not a Part 10 file with one. */
export async function inspectFile(path: string): Promise<StorableFile | undefined> {
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    const header = await readPart10Header(file.readable);
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
    };
  } catch {
    return undefined;
  } finally {
    closeQuietly(file);
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
export function storageContextKeys(file: StorableFile): string[] {
  const keys = [storageContextKey(file)];
  if (isTranscodable(file.transferSyntaxUid)) {
    for (const uid of FALLBACKS) {
      const key = `${file.sopClassUid}|${uid}`;
      if (!keys.includes(key)) keys.push(key);
    }
  }
  return keys;
}

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
    const source = counted(handle.readable, options.onBytes);
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
      ? transcodeDataSet(header.rest, { from, to: choice.transferSyntaxUid })
      : header.rest;
    const response = await association.request(
      storeCommand(sopClassUid, sopInstanceUid, options),
      {
        dataSet,
        presentationContextId: choice.presentationContextId,
        timeoutMs: options.timeoutMs,
      },
    );
    const result: StoreResult = {
      status: response.command.status ?? 0xc000,
      command: response.command,
      sopClassUid,
      sopInstanceUid,
      transferSyntaxUid: choice.transferSyntaxUid,
    };
    if (choice.transcode) result.transcodedFrom = from;
    return result;
  } finally {
    closeQuietly(handle);
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
  // The data set is in memory already; encoding it costs one more copy of its values.
  const parts = encodeDataSetParts(dataSet, { transferSyntax: ts });
  const encoded = ts.deflated ? [await deflateRaw(concatBytes(parts))] : parts;
  const response = await association.request(
    storeCommand(sopClassUid, sopInstanceUid, options),
    {
      dataSet: counted(partsOf(encoded), options.onBytes),
      presentationContextId: choice.presentationContextId,
      timeoutMs: options.timeoutMs,
    },
  );
  return {
    status: response.command.status ?? 0xc000,
    command: response.command,
    sopClassUid,
    sopInstanceUid,
    transferSyntaxUid: choice.transferSyntaxUid,
  };
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
  return (await storeInstance(association, file.path)).status;
}
