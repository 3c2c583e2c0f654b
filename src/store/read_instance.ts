/**
 * Reads a stored Part 10 file into an {@linkcode IndexedInstance}: its File Meta Information
 * and its data set up to Pixel Data (7FE0,0010), which is never read. Values longer than a few
 * kilobytes (icons, private blobs) are skipped and kept as VR only, so index rows stay small.
 *
 * @module
 */
import { readPart10Header } from "../dataset/part10.ts";
import { readWholeDataSet } from "../dataset/reader.ts";
import type { DataSet } from "../dataset/dataset.ts";
import { PixelDataTag } from "../dataset/tag.ts";
import type { IndexedInstance } from "./instance_index.ts";

/** Options of {@linkcode readInstance}. */
export interface ReadInstanceOptions {
  /** Values longer than this many bytes are skipped (VR kept, no value); default 4096. */
  bulkThreshold?: number;
}

/** Why a file could not be read as an instance. */
export class InstanceReadError extends Error {
  /** The file's path as given. */
  readonly path: string;

  /** Creates the error for `path`. */
  constructor(path: string, message: string) {
    super(message);
    this.name = "InstanceReadError";
    this.path = path;
  }
}

const CHUNK = 64 * 1024;

/** The bytes of an open file in fresh chunks; stops reading as soon as the consumer does. */
async function* fileChunks(file: Deno.FsFile): AsyncGenerator<Uint8Array> {
  while (true) {
    const buffer = new Uint8Array(CHUNK);
    const n = await file.read(buffer);
    if (n === null) return;
    yield buffer.subarray(0, n);
  }
}

function text(dataSet: DataSet, tag: string): string {
  const v = dataSet[tag]?.Value?.[0];
  return typeof v === "string" ? v.trim() : "";
}

/** Joins a relative path's segments with "/" whatever the platform's separator. */
function toSlashes(path: string): string {
  return path.replaceAll("\\", "/");
}

/**
 * Reads the Part 10 file at `root`/`relativePath` up to Pixel Data into an instance record.
 * SOP Class and Instance UIDs come from the data set, else from the file meta; throws
 * {@linkcode InstanceReadError} when the file is not Part 10 or lacks them.
 */
export async function readInstance(
  root: string,
  relativePath: string,
  options: ReadInstanceOptions = {},
): Promise<IndexedInstance> {
  const path = `${root}/${relativePath}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    throw new InstanceReadError(path, `Cannot open ${path}: ${(error as Error).message}`);
  }
  try {
    const size = (await file.stat()).size;
    const header = await readPart10Header(fileChunks(file));
    const { dataSet } = await readWholeDataSet(header.rest, {
      transferSyntax: header.transferSyntax,
      stopAtTag: PixelDataTag,
      bulkThreshold: options.bulkThreshold ?? 4096,
      bulk: "skip",
    });
    const sopClassUid = text(dataSet, "00080016") || text(header.meta, "00020002");
    const sopInstanceUid = text(dataSet, "00080018") || text(header.meta, "00020003");
    if (sopClassUid === "" || sopInstanceUid === "") {
      throw new InstanceReadError(path, `${path} has no SOP Class UID or SOP Instance UID`);
    }
    return {
      path: toSlashes(relativePath),
      sopClassUid,
      sopInstanceUid,
      transferSyntaxUid: header.transferSyntax.uid,
      size,
      dataSet,
    };
  } catch (error) {
    if (error instanceof InstanceReadError) throw error;
    throw new InstanceReadError(
      path,
      `${path} is not a readable Part 10 file: ${(error as Error).message}`,
    );
  } finally {
    try {
      file.close();
    } catch {
      // already closed
    }
  }
}
