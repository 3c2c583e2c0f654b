/**
 * An empty temp file made ahead in the store folder, between instances, so that a C-STORE
 * whose command has just arrived writes its file meta into a file that already exists.
 *
 * A sender such as DCMTK's storescu sends the data set right behind the command and waits for
 * each response, so every call made between the command's arrival and the response delays the
 * next instance; creating the file (a new directory entry and inode, and the runtime's own
 * bookkeeping for an open file) is one of the longest. Made once a response is on its way, in
 * the pause while the sender reads its next file, it is off that path.
 *
 * @module
 */

import { joinStorePath } from "./storage_layout.ts";

/**
 * A spare older than this is not used but removed: the start check of another process sharing
 * the store removes temp files untouched for a minute (see `leftoverRemover`), and an idle
 * store keeps no file it does not need.
 */
const SPARE_MAX_AGE_MS = 30_000;

/** A temp file made ahead, open for writing, empty. */
export interface SpareFile {
  /** Its name in the store folder, `.<uuid>.tmp`. */
  name: string;
  /** The open file. */
  file: Deno.FsFile;
}

/**
 * One spare temp file at most, in one folder, made on request and taken by the next instance.
 * Created synchronously when the file system does not wait on a journal (fsync off), through
 * the runtime's I/O threads otherwise, so that a create waiting behind a journal commit never
 * holds up other associations.
 */
export class SpareTempFile {
  #dir: string;
  #sync: boolean;
  #spare: (SpareFile & { madeAt: number }) | undefined;
  #making = false;
  #closed = false;
  #expiry: ReturnType<typeof setTimeout> | undefined;

  /** A maker of spare temp files in `dir` (which must exist when `refill` is called). */
  constructor(dir: string, options: { sync: boolean }) {
    this.#dir = dir;
    this.#sync = options.sync;
  }

  /** The spare, now the caller's to write, close and rename or remove; undefined when none. */
  take(): SpareFile | undefined {
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare === undefined) return undefined;
    if (performance.now() - spare.madeAt > SPARE_MAX_AGE_MS) {
      this.#discard(spare);
      return undefined;
    }
    return { name: spare.name, file: spare.file };
  }

  /**
   * Makes a spare when there is none (after a response is sent, while the peer prepares its next
   * instance). A failure (e.g. a full disk) is left for the next instance's own create to
   * report, with the status that goes with it.
   */
  refill(): void {
    if (this.#closed || this.#spare !== undefined || this.#making) return;
    const name = `.${crypto.randomUUID()}.tmp`;
    const path = joinStorePath(this.#dir, name);
    if (this.#sync) {
      try {
        this.#keep(name, Deno.openSync(path, { write: true, createNew: true }));
      } catch {
        // No spare this time.
      }
      return;
    }
    this.#making = true;
    Deno.open(path, { write: true, createNew: true }).then(
      (file) => {
        this.#making = false;
        if (this.#closed || this.#spare !== undefined) this.#discard({ name, file });
        else this.#keep(name, file);
      },
      () => {
        this.#making = false;
      },
    );
  }

  /** Removes the spare, and any made from now on; for the end of the service. */
  close(): void {
    this.#closed = true;
    this.#stopExpiry();
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare !== undefined) this.#discard(spare);
  }

  #keep(name: string, file: Deno.FsFile): void {
    this.#spare = { name, file, madeAt: performance.now() };
    if (this.#expiry === undefined) this.#checkIn(SPARE_MAX_AGE_MS);
  }

  /**
   * Removes the spare once it is too old, so that an idle store does not keep it: one timer
   * for many spares, none set or cleared per instance.
   */
  #checkIn(ms: number): void {
    const timer = setTimeout(() => {
      this.#expiry = undefined;
      const spare = this.#spare;
      if (spare === undefined) return;
      const age = performance.now() - spare.madeAt;
      if (age < SPARE_MAX_AGE_MS) {
        this.#checkIn(SPARE_MAX_AGE_MS - age + 1);
        return;
      }
      this.#spare = undefined;
      this.#discard(spare);
    }, ms);
    Deno.unrefTimer(timer);
    this.#expiry = timer;
  }

  #stopExpiry(): void {
    if (this.#expiry !== undefined) clearTimeout(this.#expiry);
    this.#expiry = undefined;
  }

  #discard(spare: SpareFile): void {
    try {
      spare.file.close();
    } catch {
      // Already closed.
    }
    try {
      Deno.removeSync(joinStorePath(this.#dir, spare.name));
    } catch {
      // Already gone.
    }
  }
}
