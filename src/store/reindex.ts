/**
 * Building the index from the files of a store folder: a full rebuild (`scp --reindex`), which
 * makes any folder of Part 10 files queryable, and the cheap check run on every start.
 *
 * The start check walks the folder once, listing names without opening files, and compares
 * the listing with the index rows: a row whose file is gone is dropped; a file with no row (an
 * instance written just before a crash, before it was indexed) is read up to Pixel Data and
 * added. Files already indexed are not opened. Names starting with "." (the index database,
 * temp files of the Storage SCP) and `*.json` records of other services are skipped. A file
 * holding an instance that is already indexed under another path whose file exists (a copy
 * kept by a duplicate policy) leaves the row as it is.
 *
 * @module
 */
import type { InstanceIndex } from "./instance_index.ts";
import { readInstance } from "./read_instance.ts";
import type { IndexEntry } from "./sqlite_index.ts";

/** An index that can list its rows, as the re-indexing needs. */
export interface ListableIndex extends InstanceIndex {
  /** Every row's SOP Instance UID, path (relative, "/" separated) and size. */
  entries(): Iterable<IndexEntry>;
}

/** Options of {@linkcode reindex}. */
export interface ReindexOptions {
  /**
   * "full" reads every file and replaces its row (rebuild); "check" (default) reads only files
   * without a row. Both drop rows whose file is gone.
   */
  mode?: "full" | "check";
  /**
   * Files (relative paths) not to read; default {@linkcode skipNonInstanceFile}: the JSON
   * records other services keep in the store folder (MPPS, Storage Commitment).
   */
  skip?: (path: string) => boolean;
  /** Called for each file that could not be read as a Part 10 instance. */
  onError?: (path: string, error: Error) => void;
  /**
   * Called for each hidden (dot-named) file met on the walk, which the index never reads (temp
   * files, the index's own database), e.g. to remove leftovers in the same pass.
   */
  onHiddenFile?: (path: string) => void | Promise<void>;
}

/** What a re-indexing did. */
export interface ReindexResult {
  /** Files read and added (or replaced, in full mode). */
  added: number;
  /** Rows dropped because their file is gone. */
  removed: number;
  /** Rows whose file is present and was not read. */
  kept: number;
  /** Files that are not readable Part 10 instances, relative paths. */
  failed: string[];
  /** Files holding an instance already indexed under another path (left as they are). */
  duplicates: string[];
}

/** The default of {@linkcode ReindexOptions.skip}: `*.json` files. */
export function skipNonInstanceFile(path: string): boolean {
  return path.endsWith(".json");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Relative paths ("/" separated) of the regular files under `dir`, dot names skipped; each
 * hidden (dot-named) file met on the way is handed to `onHidden` instead, when given.
 */
export async function* listStoreFiles(
  dir: string,
  prefix = "",
  onHidden?: (path: string) => void | Promise<void>,
): AsyncGenerator<string> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(prefix === "" ? dir : `${dir}/${prefix}`)) {
    entries.push(entry);
  }
  entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  for (const entry of entries) {
    const relative = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.name.startsWith(".")) {
      if (onHidden !== undefined && entry.isFile) await onHidden(relative);
      continue;
    }
    if (entry.isDirectory) yield* listStoreFiles(dir, relative, onHidden);
    else if (entry.isFile) yield relative;
  }
}

/**
 * Brings the index of `dir` in line with its files: see the module documentation for what the
 * "check" mode (default) reads; "full" re-reads every file.
 */
export async function reindex(
  index: ListableIndex,
  dir: string,
  options: ReindexOptions = {},
): Promise<ReindexResult> {
  const full = options.mode === "full";
  const rows = new Map<string, string[]>();
  for (const entry of index.entries()) {
    const uids = rows.get(entry.path);
    if (uids) uids.push(entry.sopInstanceUid);
    else rows.set(entry.path, [entry.sopInstanceUid]);
  }
  const result: ReindexResult = { added: 0, removed: 0, kept: 0, failed: [], duplicates: [] };
  const seen = new Set<string>();
  try {
    await Deno.stat(dir);
  } catch {
    // No folder: every row points to a missing file.
    for (const uids of rows.values()) {
      for (const uid of uids) await index.remove(uid);
      result.removed += uids.length;
    }
    return result;
  }
  const skip = options.skip ?? skipNonInstanceFile;
  for await (const path of listStoreFiles(dir, "", options.onHiddenFile)) {
    seen.add(path);
    if (!full && rows.has(path)) {
      result.kept += rows.get(path)!.length;
      continue;
    }
    if (skip(path)) continue;
    try {
      const instance = await readInstance(dir, path);
      if (!full) {
        // A second copy of an indexed instance (kept under another name): the row stays.
        const existing = await index.get(instance.sopInstanceUid);
        if (existing && existing.path !== path && await exists(`${dir}/${existing.path}`)) {
          result.duplicates.push(path);
          continue;
        }
      }
      await index.add(instance);
      result.added++;
      // A row of another instance under this path is stale.
      for (const uid of rows.get(path) ?? []) {
        if (uid !== instance.sopInstanceUid) await index.remove(uid);
      }
    } catch (error) {
      result.failed.push(path);
      options.onError?.(path, error as Error);
    }
  }
  for (const [path, uids] of rows) {
    if (seen.has(path)) continue;
    for (const uid of uids) {
      // The instance may have been re-added from another path during this walk.
      const current = await index.get(uid);
      if (current && current.path !== path) continue;
      await index.remove(uid);
      result.removed++;
    }
  }
  return result;
}
