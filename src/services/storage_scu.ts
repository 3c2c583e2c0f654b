/**
 * The Storage service as SCU (PS3.4 Annex B): Part 10 files sent with C-STORE, their data sets
 * streamed from disk behind the command set, never read whole.
 *
 * @module
 */
import type { Association, ProposedPresentationContext } from "../client.ts";
import { CommandField, DATA_SET_PRESENT, Priority } from "../dimse/command.ts";
import { readPart10Header } from "../dataset/part10.ts";

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
}

function metaString(meta: Record<string, { Value?: unknown[] }>, key: string): string {
  const value = meta[key]?.Value?.[0];
  return typeof value === "string" ? value : "";
}

/** Reads a file's meta information; undefined when it is not a Part 10 file with one. */
export async function inspectFile(path: string): Promise<StorableFile | undefined> {
  const file = await Deno.open(path, { read: true });
  try {
    const header = await readPart10Header(file.readable);
    const meta = header.meta as Record<string, { Value?: unknown[] }>;
    const sopClassUid = metaString(meta, "00020002");
    const sopInstanceUid = metaString(meta, "00020003");
    if (!sopClassUid || !sopInstanceUid) return undefined;
    return { path, sopClassUid, sopInstanceUid, transferSyntaxUid: header.transferSyntax.uid };
  } catch {
    return undefined;
  } finally {
    try {
      file.close();
    } catch {
      // the stream closed it
    }
  }
}

/** The presentation context a file needs, as a key: its SOP class and transfer syntax. */
export function storageContextKey(file: StorableFile): string {
  return `${file.sopClassUid}|${file.transferSyntaxUid}`;
}

/** One presentation context per SOP class and transfer syntax found, in order of first sight. */
export function storageContexts(files: readonly StorableFile[]): ProposedPresentationContext[] {
  const seen = new Map<string, ProposedPresentationContext>();
  for (const f of files) {
    const key = storageContextKey(f);
    if (!seen.has(key)) {
      seen.set(key, { abstractSyntax: f.sopClassUid, transferSyntaxes: [f.transferSyntaxUid] });
    }
  }
  return [...seen.values()];
}

/** Sends one file with C-STORE on the context accepted for its SOP class and transfer syntax; returns the status. */
export async function storeFile(association: Association, file: StorableFile): Promise<number> {
  const context = association.negotiated.accepted.find((c) =>
    c.abstractSyntax === file.sopClassUid && c.transferSyntax === file.transferSyntaxUid
  );
  if (!context) {
    throw new Error(
      `No accepted presentation context for ${file.sopClassUid} in ${file.transferSyntaxUid}`,
    );
  }
  const handle = await Deno.open(file.path, { read: true });
  try {
    const header = await readPart10Header(handle.readable);
    const response = await association.request({
      commandField: CommandField.C_STORE_RQ,
      affectedSopClassUid: file.sopClassUid,
      affectedSopInstanceUid: file.sopInstanceUid,
      priority: Priority.MEDIUM,
      commandDataSetType: DATA_SET_PRESENT,
    }, { dataSet: header.rest, presentationContextId: context.presentationContextId });
    return response.command.status ?? 0xc000;
  } finally {
    try {
      handle.close();
    } catch {
      // the stream closed it
    }
  }
}
