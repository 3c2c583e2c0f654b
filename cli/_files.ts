/**
 * Walking the files and folders named on a command line (`store`, `commit`).
 *
 * @module
 */
import type { FileToInspect } from "../src/services/storage_scu.ts";

/**
 * Appends the regular files under `path` (itself when a file) to `out`, in name order, with their
 * sizes. Throws on the first path that cannot be read; what was found before it stays in `out`.
 */
export function collectFiles(path: string, out: FileToInspect[]): void {
  // Synchronous calls: planning waits for them anyway, and they cost a fraction of async ones.
  const info = Deno.statSync(path);
  if (info.isDirectory) {
    const names = [];
    for (const entry of Deno.readDirSync(path)) names.push(entry.name);
    for (const name of names.sort()) collectFiles(`${path.replace(/\/+$/, "")}/${name}`, out);
  } else if (info.isFile) {
    out.push({ path, size: info.size });
  }
}
