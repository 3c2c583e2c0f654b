/**
 * Generates the storage benchmark's instances: CT and multi-frame secondary capture Part 10
 * files in Explicit VR Little Endian whose OW pixel data is streamed after a header written
 * with {@linkcode writePart10}, so that a 256 MiB file is never held whole in memory.
 *
 * @module
 */
import { fromKeywords } from "../src/dataset/dataset.ts";
import { writePart10 } from "../src/dataset/part10.ts";

/** CT Image Storage (PS3.4 Annex B.5). */
const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";
/** Multi-frame Grayscale Word Secondary Capture Image Storage (PS3.4 Annex B.5). */
const MULTIFRAME_GRAYSCALE_WORD_SC = "1.2.840.10008.5.1.4.1.1.7.3";
/** Explicit VR Little Endian (PS3.5 §A.2). */
const EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1";
/** UUID-derived root for the generated UIDs (PS3.5 §B.2). */
const UID_ROOT = "2.25";

/** One size class of the benchmark: `count` instances with `pixelBytes` of pixel data each. */
export interface SizeClass {
  /** Short label, e.g. "64 KiB". */
  label: string;
  /** Instances in the class. */
  count: number;
  /** Rows of each frame. */
  rows: number;
  /** Columns of each frame. */
  columns: number;
  /** Frames per instance (1 for the single-frame CT instances). */
  frames: number;
}

/** A generated size class: where its files are and how many bytes they hold. */
export interface GeneratedSet {
  /** The size class it was made from. */
  size: SizeClass;
  /** Folder holding exactly the class's files. */
  dir: string;
  /** Paths of the files, sorted. */
  files: string[];
  /** Total bytes of the files on disk. */
  bytes: number;
}

/** Pixel data bytes of one instance of the class. */
export function pixelBytesOf(size: SizeClass): number {
  return size.rows * size.columns * size.frames * 2;
}

/** A random UID under 2.25 (PS3.5 §B.2): the UUID's 128 bits as a decimal integer. */
function randomUid(): string {
  const hex = crypto.randomUUID().replaceAll("-", "");
  return `${UID_ROOT}.${BigInt(`0x${hex}`).toString(10)}`;
}

/** The explicit VR header of (7FE0,0010) Pixel Data, OW, with a 32-bit length (PS3.5 §7.1.2). */
function pixelDataHeader(length: number): Uint8Array {
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0x7fe0, true);
  view.setUint16(2, 0x0010, true);
  out[4] = 0x4f; // "O"
  out[5] = 0x57; // "W"
  view.setUint32(8, length, true);
  return out;
}

/** A 1 MiB block of 16-bit pixel values; every instance repeats it (no compression anywhere). */
function pixelBlock(seed: number): Uint8Array {
  const block = new Uint8Array(1 << 20);
  let x = seed | 1;
  for (let i = 0; i < block.length; i += 2) {
    x = (x * 1103515245 + 12345) >>> 0;
    block[i] = x >>> 16;
    block[i + 1] = (x >>> 24) & 0x0f; // 12 bits stored
  }
  return block;
}

/** The header of one instance (everything but its pixel data) as a Part 10 file. */
async function headerOf(
  size: SizeClass,
  studyUid: string,
  seriesUid: string,
  index: number,
): Promise<Uint8Array> {
  const multiFrame = size.frames > 1;
  const sopClassUid = multiFrame ? MULTIFRAME_GRAYSCALE_WORD_SC : CT_IMAGE_STORAGE;
  const keywords = {
    SOPClassUID: sopClassUid,
    SOPInstanceUID: randomUid(),
    StudyDate: "20260101",
    StudyTime: "120000",
    Modality: multiFrame ? "OT" : "CT",
    PatientName: "Bench^Storage",
    PatientID: "BENCH-1",
    StudyInstanceUID: studyUid,
    SeriesInstanceUID: seriesUid,
    StudyID: "1",
    SeriesNumber: "1",
    InstanceNumber: String(index + 1),
    SamplesPerPixel: 1,
    PhotometricInterpretation: "MONOCHROME2",
    Rows: size.rows,
    Columns: size.columns,
    BitsAllocated: 16,
    BitsStored: 12,
    HighBit: 11,
    PixelRepresentation: 0,
    ...(multiFrame ? { NumberOfFrames: String(size.frames) } : {
      ImageType: "ORIGINAL\\PRIMARY\\AXIAL",
      RescaleIntercept: "-1024",
      RescaleSlope: "1",
    }),
  };
  return await writePart10(fromKeywords(keywords), {
    transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN,
  });
}

/** Writes one instance to `path`: header, pixel data header, then the pixels in 1 MiB writes. */
async function writeInstance(path: string, header: Uint8Array, pixels: number, block: Uint8Array) {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await writeAll(file, header);
    await writeAll(file, pixelDataHeader(pixels));
    for (let at = 0; at < pixels; at += block.length) {
      await writeAll(file, block.subarray(0, Math.min(block.length, pixels - at)));
    }
  } finally {
    file.close();
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await file.write(bytes.subarray(at));
}

/** Generates `size.count` instances into a new folder `dir` (created, must not exist). */
export async function generateSet(dir: string, size: SizeClass): Promise<GeneratedSet> {
  await Deno.mkdir(dir, { recursive: false });
  const studyUid = randomUid();
  const seriesUid = randomUid();
  const block = pixelBlock(size.count * 7919 + size.rows);
  const pixels = pixelBytesOf(size);
  const files: string[] = [];
  let bytes = 0;
  const digits = String(size.count).length;
  for (let i = 0; i < size.count; i++) {
    const header = await headerOf(size, studyUid, seriesUid, i);
    const path = `${dir}/${String(i).padStart(digits, "0")}.dcm`;
    await writeInstance(path, header, pixels, block);
    files.push(path);
    bytes += header.length + 12 + pixels;
  }
  return { size, dir, files, bytes };
}
