/**
 * Storage Commitment transactions the SCP has acknowledged (N-ACTION success) but not yet
 * reported (N-EVENT-REPORT answered), one JSON file per transaction under
 * `<store>/commitment/<Transaction UID>.json`. A file is written to a temp name, flushed and
 * renamed into place, so a restart finds each pending transaction whole or not at all (PS3.4
 * J.3.3.1.2: the report is owed whatever happens to the SCP in between).
 *
 * @module
 */

import { isSafeUidForPath } from "./safe_uid.ts";

/** One SOP instance a commitment refers to (an item of Referenced SOP Sequence (0008,1199)). */
export interface CommitmentReference {
  /** Referenced SOP Class UID (0008,1150). */
  sopClassUid: string;
  /** Referenced SOP Instance UID (0008,1155). */
  sopInstanceUid: string;
}

/** A Storage Commitment request acknowledged and not yet reported. */
export interface PendingCommitment {
  /** Transaction UID (0008,1195) of the N-ACTION. */
  transactionUid: string;
  /** The requestor's AE title (the calling AE title of the N-ACTION's association). */
  requestorAeTitle: string;
  /** The AE title the requestor called us by. */
  calledAeTitle: string;
  /** The instances to commit, in the order of the request. */
  references: CommitmentReference[];
  /** When the N-ACTION was received, ISO 8601. */
  receivedAt: string;
}

/** Whether a Transaction UID can name a file of the commitment store (a valid UID, PS3.5 §9.1). */
export function isValidTransactionUid(uid: string): boolean {
  return isSafeUidForPath(uid);
}

/** A pending transaction file could not be read back. */
export class CommitmentStoreError extends Error {
  /** The file concerned. */
  readonly path: string;
  /** Creates the error. */
  constructor(message: string, path: string) {
    super(message);
    this.name = "CommitmentStoreError";
    this.path = path;
  }
}

/** Persisted pending Storage Commitment transactions of one store folder. */
export class CommitmentStore {
  /** The folder holding the transaction files. */
  readonly dir: string;
  #madeDir = false;

  /** Opens (lazily creates) `dir`, the folder of the transaction files. */
  constructor(dir: string) {
    this.dir = dir.replace(/\/+$/, "");
  }

  /** The file of a transaction. */
  pathOf(transactionUid: string): string {
    if (!isValidTransactionUid(transactionUid)) {
      throw new CommitmentStoreError(
        `Transaction UID "${transactionUid}" is not a valid UID`,
        this.dir,
      );
    }
    return `${this.dir}/${transactionUid}.json`;
  }

  /** Records a transaction durably (temp file, fsync, rename), replacing one with its UID. */
  async save(commitment: PendingCommitment): Promise<void> {
    const final = this.pathOf(commitment.transactionUid);
    if (!this.#madeDir) {
      await Deno.mkdir(this.dir, { recursive: true });
      this.#madeDir = true;
    }
    const temp = `${this.dir}/.${commitment.transactionUid}.${crypto.randomUUID()}.tmp`;
    const bytes = new TextEncoder().encode(JSON.stringify(commitment, null, 2) + "\n");
    let file: Deno.FsFile | undefined;
    try {
      file = await Deno.open(temp, { write: true, createNew: true });
      let at = 0;
      while (at < bytes.length) at += await file.write(bytes.subarray(at));
      await file.syncData();
      file.close();
      file = undefined;
      await Deno.rename(temp, final);
    } catch (error) {
      try {
        file?.close();
      } catch {
        // already closed
      }
      await Deno.remove(temp).catch(() => {});
      throw error;
    }
  }

  /** Forgets a transaction once reported; a missing file is not an error. */
  async remove(transactionUid: string): Promise<void> {
    try {
      await Deno.remove(this.pathOf(transactionUid));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  /** The pending transaction with this UID, if any. */
  async get(transactionUid: string): Promise<PendingCommitment | undefined> {
    const path = this.pathOf(transactionUid);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    return parseCommitment(text, path);
  }

  /**
   * Every pending transaction, oldest first. Leftover temp files (a write cut short) are
   * removed; a file that cannot be read is reported through `onError` and skipped.
   */
  async list(onError?: (error: CommitmentStoreError) => void): Promise<PendingCommitment[]> {
    const out: PendingCommitment[] = [];
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(this.dir));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return out;
      throw error;
    }
    for (const entry of entries) {
      if (!entry.isFile) continue;
      const path = `${this.dir}/${entry.name}`;
      if (entry.name.startsWith(".") && entry.name.endsWith(".tmp")) {
        await Deno.remove(path).catch(() => {});
        continue;
      }
      if (!entry.name.endsWith(".json")) continue;
      try {
        out.push(parseCommitment(await Deno.readTextFile(path), path));
      } catch (error) {
        onError?.(
          error instanceof CommitmentStoreError ? error : new CommitmentStoreError(
            `Cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`,
            path,
          ),
        );
      }
    }
    return out.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
  }
}

/** Checks a transaction file's content. */
function parseCommitment(text: string, path: string): PendingCommitment {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new CommitmentStoreError(`Transaction file ${path} is not JSON`, path);
  }
  const record = data as Partial<PendingCommitment> | null;
  const isString = (v: unknown): v is string => typeof v === "string";
  if (
    record === null || typeof record !== "object" || !isString(record.transactionUid) ||
    !isString(record.requestorAeTitle) || !isString(record.calledAeTitle) ||
    !isString(record.receivedAt) || !Array.isArray(record.references) ||
    !record.references.every((r) =>
      typeof r === "object" && r !== null && isString(r.sopClassUid) && isString(r.sopInstanceUid)
    )
  ) {
    throw new CommitmentStoreError(`Transaction file ${path} is not a pending commitment`, path);
  }
  return {
    transactionUid: record.transactionUid,
    requestorAeTitle: record.requestorAeTitle,
    calledAeTitle: record.calledAeTitle,
    references: record.references.map((r) => ({
      sopClassUid: r.sopClassUid,
      sopInstanceUid: r.sopInstanceUid,
    })),
    receivedAt: record.receivedAt,
  };
}
