/**
 * The Storage service as SCP (PS3.4 Annex B): each C-STORE-RQ's data set is streamed to a temp
 * file in the store folder behind a file meta group built from the command set and the
 * presentation context, flushed to disk, and renamed into place only after its last fragment.
 * Nothing is held whole in memory; an instance is on disk whole, or not at all.
 *
 * @module
 */
import { CommandField } from "../dimse/command.ts";
import { Status } from "../dimse/status.ts";
import { encodeFileMetaInformation } from "../dataset/part10.ts";
import { STORAGE_SOP_CLASSES } from "../dataset/storage_sop_classes.ts";
import { TRANSFER_SYNTAXES } from "../dataset/transfer_syntax.ts";
import type { Service, ServiceRequest, ServiceResponse } from "./service.ts";

/** Options of the Storage service. */
export interface StorageOptions {
  /** Folder the Part 10 files are written to; created when missing. */
  dir: string;
  /**
   * Flush each file to disk before the success response, so that an acknowledged instance
   * survives a crash; default true.
   */
  fsync?: boolean;
  /** Transfer syntaxes accepted, in preference order; default every standard one, uncompressed first. */
  transferSyntaxes?: readonly string[];
  /** SOP classes accepted; default every Storage SOP class. */
  sopClasses?: readonly string[];
}

/** A UID fit to be a file name: digits and dots, 1–64 characters, no empty component (PS3.5 §9.1). */
const SAFE_UID = /^[0-9]+(\.[0-9]+)*$/;

/** Whether a UID may name a file in the store: no separators, no "..", bounded length. */
export function isSafeUidForPath(uid: string): boolean {
  return uid.length > 0 && uid.length <= 64 && SAFE_UID.test(uid);
}

/** Every standard transfer syntax that is not retired, uncompressed ones first. */
function defaultTransferSyntaxes(): string[] {
  const active = TRANSFER_SYNTAXES.filter((ts) => !ts.retired);
  return [
    ...active.filter((ts) => !ts.encapsulated && !ts.deflated).map((ts) => ts.uid),
    ...active.filter((ts) => ts.encapsulated || ts.deflated).map((ts) => ts.uid),
  ];
}

/** The Storage service class as SCP, writing Part 10 files named `<SOP Instance UID>.dcm`. */
export function storage(options: StorageOptions): Service {
  const transferSyntaxes = options.transferSyntaxes ?? defaultTransferSyntaxes();
  const sopClasses = options.sopClasses ?? STORAGE_SOP_CLASSES.map((c) => c.uid);
  const fsync = options.fsync ?? true;
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
      if (!request.dataSet) {
        return {
          status: Status.CANNOT_UNDERSTAND,
          command: { ...answer, errorComment: "C-STORE-RQ without a data set" },
        };
      }
      if (!isSafeUidForPath(sopInstanceUid)) {
        await request.dataSet.cancel();
        return {
          status: Status.CANNOT_UNDERSTAND,
          command: { ...answer, errorComment: "Affected SOP Instance UID is not a valid UID" },
        };
      }
      if (!madeDir) {
        await Deno.mkdir(options.dir, { recursive: true });
        madeDir = true;
      }
      const final = `${options.dir}/${sopInstanceUid}.dcm`;
      const temp = `${options.dir}/.${sopInstanceUid}.${crypto.randomUUID()}.tmp`;
      let file: Deno.FsFile | undefined;
      try {
        file = await Deno.open(temp, { write: true, createNew: true });
        await writeAll(
          file,
          encodeFileMetaInformation({
            mediaStorageSopClassUid: sopClassUid,
            mediaStorageSopInstanceUid: sopInstanceUid,
            transferSyntaxUid: request.transferSyntax,
            sourceApplicationEntityTitle: request.association.callingAeTitle,
          }),
        );
        for await (const chunk of request.dataSet) await writeAll(file, chunk);
        if (fsync) await file.syncData();
        file.close();
        file = undefined;
        await Deno.rename(temp, final);
        return { status: Status.SUCCESS, command: answer };
      } catch (error) {
        try {
          file?.close();
        } catch {
          // already closed
        }
        await Deno.remove(temp).catch(() => {});
        if (request.signal.aborted) throw error;
        const outOfSpace = error instanceof Error && /ENOSPC|No space left/i.test(error.message);
        console.error(
          `storage: ${sopInstanceUid} not stored: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
        return {
          status: outOfSpace ? Status.OUT_OF_RESOURCES : Status.CANNOT_UNDERSTAND,
          command: {
            ...answer,
            errorComment: outOfSpace ? "Out of disk space" : "Instance could not be stored",
          },
        };
      }
    },
  };
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await file.write(bytes.subarray(at));
}
