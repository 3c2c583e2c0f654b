/**
 * Walking the files and folders named on a command line (`store`, `commit`).
 *
 * @module
 */
import type { FileToInspect } from "../src/services/storage_scu.ts";

/**
 * Appends the regular files under `path` (itself when a file) to `out`, in name order; symbolic
 * links are followed. Sizes are left for the inspection to read from each open file. Throws on
 * the first path that cannot be read; what was found before it stays in `out`.
 */
export function collectFiles(path: string, out: FileToInspect[]): void {
  // Synchronous calls: planning waits for them anyway, and they cost a fraction of async ones.
  const info = Deno.statSync(path);
  if (info.isDirectory) collectFolder(path, out);
  else if (info.isFile) out.push({ path, size: info.size });
}

/** A folder's files, from the types its listing gives: no call per plain file or folder. */
function collectFolder(path: string, out: FileToInspect[]): void {
  const entries: Deno.DirEntry[] = [];
  for (const entry of Deno.readDirSync(path)) entries.push(entry);
  entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const folder = path.replace(/\/+$/, "");
  for (const entry of entries) {
    const child = `${folder}/${entry.name}`;
    if (entry.isFile) out.push({ path: child });
    else if (entry.isDirectory) collectFolder(child, out);
    else if (entry.isSymlink) collectFiles(child, out);
  }
}
