/**
 * Where the Storage SCP puts a received instance, and what it does when the SOP Instance UID is
 * already stored. Every path part is a UID checked by {@linkcode isSafeUidForPath}, so a file
 * can never land outside the store folder, whatever the peer sends.
 *
 * @module
 */

import { listStoreFiles } from "../store/reindex.ts";
import { isSafeUidForPath } from "../store/safe_uid.ts";

/**
 * Folder layout of the store:
 * - `"flat"`: `<SOP Instance UID>.dcm` in the store folder;
 * - `"hierarchical"`: `<Study Instance UID>/<Series Instance UID>/<SOP Instance UID>.dcm`
 *   (an instance with no Study or Series Instance UID, such as a non-patient object like a
 *   Hanging Protocol, is placed at the top level as in the flat layout).
 */
export type StorageLayout = "flat" | "hierarchical";

/**
 * What a C-STORE of a SOP Instance UID already in the store does:
 * - `"overwrite"`: the new file replaces the old one (success);
 * - `"keep-first"`: the new instance is discarded, the stored one stays (success: an instance
 *   with that UID is stored, PS3.4 B.2.2);
 * - `"keep-both"`: the new one is stored beside the first as `<uid>.<n>.dcm`, n = 1, 2, …
 */
export type DuplicatePolicy = "overwrite" | "keep-first" | "keep-both";

/** The storage layouts, for option parsing. */
export const STORAGE_LAYOUTS: readonly StorageLayout[] = ["flat", "hierarchical"];

/** The duplicate policies, for option parsing. */
export const DUPLICATE_POLICIES: readonly DuplicatePolicy[] = [
  "overwrite",
  "keep-first",
  "keep-both",
];

export { isSafeUidForPath };

/** The UIDs a layout builds a path from. */
export interface InstanceUids {
  /** SOP Instance UID; must be safe for a path. */
  sopInstanceUid: string;
  /** Study Instance UID (0020,000D), when the data set has one. */
  studyInstanceUid?: string;
  /** Series Instance UID (0020,000E), when the data set has one. */
  seriesInstanceUid?: string;
}

/** A path part that is not a safe UID. */
export class UnsafePathError extends Error {
  /** The attribute whose value could not be used, as eight hex digits. */
  readonly tag: string;

  /** An error naming the attribute whose value is not a safe UID. */
  constructor(tag: string, message: string) {
    super(message);
    this.name = "UnsafePathError";
    this.tag = tag;
  }
}

/**
 * The folder (relative to the store, "" for the top level, "/" separators) and the file name
 * stem of an instance under a layout; throws {@linkcode UnsafePathError} when a UID it needs is
 * not safe for a path.
 */
export function instanceLocation(
  layout: StorageLayout,
  uids: InstanceUids,
): { folder: string; stem: string } {
  if (!isSafeUidForPath(uids.sopInstanceUid)) {
    throw new UnsafePathError("00080018", "SOP Instance UID is not a valid UID");
  }
  if (layout === "flat") return { folder: "", stem: uids.sopInstanceUid };
  const study = uids.studyInstanceUid ?? "";
  const series = uids.seriesInstanceUid ?? "";
  if (study === "" || series === "") return { folder: "", stem: uids.sopInstanceUid };
  if (!isSafeUidForPath(study)) {
    throw new UnsafePathError("0020000D", "Study Instance UID is not a valid UID");
  }
  if (!isSafeUidForPath(series)) {
    throw new UnsafePathError("0020000E", "Series Instance UID is not a valid UID");
  }
  return { folder: `${study}/${series}`, stem: uids.sopInstanceUid };
}

/** What {@linkcode placeFile} did, and where the instance now is (relative to the store). */
export interface Placement {
  /**
   * "stored" under a new name; "replaced" an older file of the same SOP Instance UID;
   * "stored-beside" one already there (keep-both); "discarded" as a duplicate (keep-first).
   */
  outcome: "stored" | "replaced" | "stored-beside" | "discarded";
  /** Relative path of the file now holding the instance ("/" separators). */
  path: string;
  /** For "replaced": the old file when it was at another path; the caller removes it. */
  previous?: string;
  /**
   * For "replaced" at the same path: a hard link to the old file (relative path), so that it
   * can be put back if the instance cannot be recorded; the caller removes it.
   */
  backup?: string;
}

/** Joins the store folder and a relative path. */
export function joinStorePath(dir: string, relative: string): string {
  return relative === "" ? dir : `${dir.replace(/\/+$/, "")}/${relative}`;
}

/** Whether a file exists (a broken path is "no"). */
function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Moves a complete temp file into place under the duplicate policy. `known` is where the index
 * says the SOP Instance UID is already stored (relative path), when it knows; `null` when an
 * index was asked and has no such instance. A new name is taken with a hard link, which fails
 * rather than replace a file another association put there at the same moment; "overwrite"
 * renames over the old file, which is atomic (POSIX rename), and renames at once when the index
 * has no such instance (one call instead of a link and an unlink; a file the index does not
 * know is replaced, as the policy says). The temp file is gone afterwards in every outcome but
 * a thrown error. The calls are synchronous: each is a metadata change in the page cache,
 * cheaper than a round trip through the runtime's I/O threads.
 */
export function placeFile(
  dir: string,
  temp: string,
  location: { folder: string; stem: string },
  policy: DuplicatePolicy,
  known?: string | null,
): Promise<Placement> {
  try {
    return Promise.resolve(placeFileSync(dir, temp, location, policy, known));
  } catch (error) {
    return Promise.reject(error);
  }
}

function placeFileSync(
  dir: string,
  temp: string,
  location: { folder: string; stem: string },
  policy: DuplicatePolicy,
  knownOrNull?: string | null,
): Placement {
  if (location.folder !== "") {
    Deno.mkdirSync(joinStorePath(dir, location.folder), { recursive: true });
  }
  const prefix = location.folder === "" ? "" : `${location.folder}/`;
  const first = `${prefix}${location.stem}.dcm`;
  if (policy === "overwrite" && knownOrNull === null) {
    Deno.renameSync(temp, joinStorePath(dir, first));
    return { outcome: "stored", path: first };
  }
  const known = knownOrNull ?? undefined;
  const knownElsewhere = known !== undefined && known !== first &&
    exists(joinStorePath(dir, known));
  if (policy === "overwrite") {
    const target = joinStorePath(dir, first);
    // Most instances are new: taking the name with a hard link then finds no old file without
    // a failed call (a failure costs more than the call).
    if (claim(temp, target)) {
      if (!knownElsewhere) return { outcome: "stored", path: first };
      return { outcome: "replaced", path: first, previous: known };
    }
    let backup: string | undefined = `.${location.stem}.${crypto.randomUUID()}.bak`;
    let replacedHere = true;
    try {
      Deno.linkSync(target, joinStorePath(dir, backup));
    } catch (error) {
      backup = undefined;
      // No old file; or no hard links here, and then an old file cannot be put back.
      replacedHere = !(error instanceof Deno.errors.NotFound) && exists(target);
    }
    try {
      Deno.renameSync(temp, target);
    } catch (error) {
      if (backup !== undefined) removeQuietly(joinStorePath(dir, backup));
      throw error;
    }
    const placement: Placement = { outcome: "stored", path: first };
    if (knownElsewhere || replacedHere) placement.outcome = "replaced";
    if (knownElsewhere) placement.previous = known;
    if (backup !== undefined) placement.backup = backup;
    return placement;
  }
  if (policy === "keep-first" && knownElsewhere) {
    Deno.removeSync(temp);
    return { outcome: "discarded", path: known! };
  }
  for (let n = 0;; n++) {
    const name = n === 0 ? first : `${prefix}${location.stem}.${n}.dcm`;
    if (!claim(temp, joinStorePath(dir, name))) {
      if (policy === "keep-first") {
        Deno.removeSync(temp);
        return { outcome: "discarded", path: first };
      }
      continue;
    }
    if (n === 0 && !knownElsewhere) return { outcome: "stored", path: name };
    return { outcome: "stored-beside", path: name };
  }
}

/**
 * Moves `temp` to `target` unless a file is there; false when one is. A hard link cannot
 * replace a file, so two associations storing the same name at once cannot both win; where the
 * file system has no hard links, a check then a rename is the best it allows.
 */
function claim(temp: string, target: string): boolean {
  try {
    Deno.linkSync(temp, target);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    if (exists(target)) return false;
    Deno.renameSync(temp, target);
    return true;
  }
  Deno.removeSync(temp);
  return true;
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Already gone.
  }
}

/**
 * A hidden temp file or backup the Storage SCP names (`.<uid>.<uuid>.tmp` or `.bak`, and
 * `.<uuid>.tmp` for a temp file made ahead of its instance).
 */
const LEFTOVER_NAME =
  /^\.(?:[0-9.]+\.)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(tmp|bak)$/;

/** Options of {@linkcode removeLeftovers} and {@linkcode leftoverRemover}. */
export interface RemoveLeftoversOptions {
  /**
   * Only files not modified (nor linked) for this long are removed, so that a temp file another
   * process is still writing into the same store is left alone; default 60 000 ms.
   */
  olderThanMs?: number;
}

/** Removes leftovers one hidden file at a time, as a walk of the store meets them. */
export interface LeftoverRemover {
  /** Looks at a hidden file (relative path) and removes it when it is an old enough leftover. */
  visit(path: string): Promise<void>;
  /** The relative paths removed so far. */
  readonly removed: string[];
}

/**
 * The hidden-file visitor of {@linkcode removeLeftovers}, for a walk of the store that is made
 * anyway: pass `visit` as `onHiddenFile` to `reindex` so that the start check removes leftovers
 * in the same pass.
 */
export function leftoverRemover(
  dir: string,
  options: RemoveLeftoversOptions = {},
): LeftoverRemover {
  const olderThan = Date.now() - (options.olderThanMs ?? 60_000);
  const removed: string[] = [];
  return {
    removed,
    async visit(path: string): Promise<void> {
      if (!LEFTOVER_NAME.test(path.slice(path.lastIndexOf("/") + 1))) return;
      try {
        const info = await Deno.lstat(joinStorePath(dir, path));
        // A link changes the status time, not the modification time, of an older file.
        const touched = Math.max(info.mtime?.getTime() ?? 0, info.ctime?.getTime() ?? 0);
        if (touched > olderThan) return;
        await Deno.remove(joinStorePath(dir, path));
        removed.push(path);
      } catch {
        // Gone meanwhile.
      }
    },
  };
}

/**
 * Removes the hidden temp files and backups a stopped or crashed Storage SCP left in the store
 * folder `dir` and its subfolders (an instance being received when the process ended, or a
 * temp name not yet removed after its file was placed); returns the relative paths removed.
 * Nothing else is touched: only names of the form `.<uid>.<uuid>.tmp`, `.<uuid>.tmp` and
 * `.<uid>.<uuid>.bak`.
 */
export async function removeLeftovers(
  dir: string,
  options: RemoveLeftoversOptions = {},
): Promise<string[]> {
  const remover = leftoverRemover(dir, options);
  try {
    for await (const _ of listStoreFiles(dir, "", remover.visit)) {
      // Visible files are instances, not leftovers.
    }
  } catch {
    // A folder that cannot be listed holds nothing to remove.
  }
  return remover.removed;
}
