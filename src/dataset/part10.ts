/**
 * DICOM Part 10 files (PS3.10 §7): preamble, "DICM", File Meta Information in explicit VR
 * little endian with its group length, then the data set in the transfer syntax it names.
 *
 * @module
 */

import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from "../ul/uids.ts";
import { ByteStream } from "./byte_stream.ts";
import { DEFAULT_CHARACTER_SET } from "./character_set.ts";
import type { DataSet } from "./dataset.ts";
import { DataSetError } from "./errors.ts";
import { type ReadDataSetOptions, readWholeDataSet } from "./reader.ts";
import { tagToHex } from "./tag.ts";
import {
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
  type TransferSyntax,
  transferSyntaxOf,
} from "./transfer_syntax.ts";
import { decodeValue, toBase64 } from "./value.ts";
import {
  concatBytes,
  encodeDataSetParts,
  writeDataSet,
  type WriteDataSetOptions,
} from "./writer.ts";
import { hasLongLength, isVr } from "./vr.ts";

const DICM = [0x44, 0x49, 0x43, 0x4d];

/** What the File Meta Information of a new file says (PS3.10 §7.1). */
export interface FileMetaInformation {
  /** (0002,0002) Media Storage SOP Class UID. */
  mediaStorageSopClassUid: string;
  /** (0002,0003) Media Storage SOP Instance UID. */
  mediaStorageSopInstanceUid: string;
  /** (0002,0010) Transfer Syntax UID of the data set that follows. */
  transferSyntaxUid: string;
  /** (0002,0012) Implementation Class UID; default this toolkit's. */
  implementationClassUid?: string;
  /** (0002,0013) Implementation Version Name; default this toolkit's. */
  implementationVersionName?: string;
  /** (0002,0016) Source Application Entity Title; left out when absent. */
  sourceApplicationEntityTitle?: string;
}

/** The File Meta Information read from a file, and where the data set starts. */
export interface Part10Header {
  /** Group 0002 in the DICOM JSON model (empty for a file with no meta information). */
  meta: DataSet;
  /** The data set's transfer syntax (implicit/explicit guessed when the file has no meta). */
  transferSyntax: TransferSyntax;
  /** True when the 128-byte preamble and "DICM" were present. */
  hasPreamble: boolean;
  /** Byte offset of the data set in the file. */
  dataSetOffset: number;
  /** The bytes after the file meta, still encoded (deflated if the transfer syntax is). */
  rest: AsyncIterable<Uint8Array>;
}

function stringOf(meta: DataSet, tag: number): string | undefined {
  const v = meta[tagToHex(tag)]?.Value?.[0];
  return typeof v === "string" ? v : undefined;
}

function looksExplicit(head: Uint8Array): boolean {
  const vr = String.fromCharCode(head[4], head[5]);
  return isVr(vr);
}

/**
 * Reads the preamble, "DICM" and File Meta Information, then stops. Files without a preamble
 * are accepted as DCMTK does: starting directly with group 0002, or with no meta information
 * at all (then implicit or explicit VR little endian is guessed from the first element).
 */
export async function readPart10Header(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<Part10Header> {
  const s = new ByteStream(source);
  let hasPreamble = false;
  const first = await s.peek(132);
  if (first && DICM.every((b, i) => first[128 + i] === b)) {
    await s.skip(132);
    hasPreamble = true;
  }
  const meta: DataSet = {};
  while (true) {
    const head = await s.peek(8);
    if (!head || head[0] !== 0x02 || head[1] !== 0x00) break;
    if (!looksExplicit(head)) {
      throw new DataSetError(
        "not-part10",
        "File Meta Information is not in explicit VR little endian",
        {
          offset: s.position,
        },
      );
    }
    const view = new DataView(head.buffer, head.byteOffset, 8);
    const tag = view.getUint16(0, true) * 0x10000 + view.getUint16(2, true);
    const vr = String.fromCharCode(head[4], head[5]) as "OB";
    let length: number;
    if (hasLongLength(vr)) {
      const h = await s.read(12);
      length = new DataView(h.buffer, h.byteOffset, 12).getUint32(8, true);
    } else {
      await s.read(8);
      length = view.getUint16(6, true);
    }
    if (length === 0xffffffff) {
      throw new DataSetError(
        "invalid-length",
        "File Meta Information element of undefined length",
        {
          tag: tagToHex(tag),
          offset: s.position,
        },
      );
    }
    const value = await s.readCopy(length);
    meta[tagToHex(tag)] = decodeValue(vr, value, true, DEFAULT_CHARACTER_SET);
  }
  if (!hasPreamble && Object.keys(meta).length === 0 && first === undefined && !(await s.peek(1))) {
    throw new DataSetError("not-part10", "File is empty");
  }
  const dataSetOffset = s.position;
  let uid = stringOf(meta, 0x00020010);
  if (uid === undefined) {
    const head = await s.peek(8);
    uid = head && looksExplicit(head) ? ExplicitVrLittleEndian : ImplicitVrLittleEndian;
  }
  const transferSyntax = transferSyntaxOf(uid);
  if (!transferSyntax) {
    throw new DataSetError("invalid-value", "Transfer Syntax UID is empty", { tag: "00020010" });
  }
  return { meta, transferSyntax, hasPreamble, dataSetOffset, rest: s.remaining() };
}

/** A whole Part 10 file read into memory. */
export interface Part10File {
  /** Group 0002. */
  meta: DataSet;
  /** The data set. */
  dataSet: DataSet;
  /** The data set's transfer syntax. */
  transferSyntax: TransferSyntax;
}

/** Reads a whole Part 10 file into memory (not for the storage path: use readPart10Header). */
export async function readWholePart10(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: Omit<ReadDataSetOptions, "transferSyntax"> = {},
): Promise<Part10File> {
  const header = await readPart10Header(source);
  const { dataSet } = await readWholeDataSet(header.rest, {
    ...options,
    transferSyntax: header.transferSyntax,
  });
  return { meta: header.meta, dataSet, transferSyntax: header.transferSyntax };
}

/**
 * The preamble, "DICM" and File Meta Information with (0002,0000) group length and
 * (0002,0001) version 00\01 (PS3.10 §7.1). The data set, in `transferSyntaxUid`, follows it.
 */
export function encodeFileMetaInformation(info: FileMetaInformation): Uint8Array {
  const meta: DataSet = {
    "00020001": { vr: "OB", InlineBinary: toBase64(new Uint8Array([0, 1])) },
    "00020002": { vr: "UI", Value: [info.mediaStorageSopClassUid] },
    "00020003": { vr: "UI", Value: [info.mediaStorageSopInstanceUid] },
    "00020010": { vr: "UI", Value: [info.transferSyntaxUid] },
    "00020012": { vr: "UI", Value: [info.implementationClassUid ?? IMPLEMENTATION_CLASS_UID] },
    "00020013": {
      vr: "SH",
      Value: [info.implementationVersionName ?? IMPLEMENTATION_VERSION_NAME],
    },
  };
  if (info.sourceApplicationEntityTitle) {
    meta["00020016"] = { vr: "AE", Value: [info.sourceApplicationEntityTitle] };
  }
  const options = { transferSyntax: ExplicitVrLittleEndian, skipFileMetaGroup: false };
  const body = concatBytes(encodeDataSetParts(meta, options));
  const groupLength = concatBytes(
    encodeDataSetParts({ "00020000": { vr: "UL", Value: [body.length] } }, options),
  );
  const out = new Uint8Array(132 + groupLength.length + body.length);
  out.set(DICM, 128);
  out.set(groupLength, 132);
  out.set(body, 132 + groupLength.length);
  return out;
}

/** Options of the Part 10 writer. */
export interface WritePart10Options
  extends Omit<WriteDataSetOptions, "transferSyntax" | "skipFileMetaGroup"> {
  /** Transfer syntax of the data set; default Explicit VR Little Endian. */
  transferSyntaxUid?: string;
  /** Source Application Entity Title (0002,0016). */
  sourceApplicationEntityTitle?: string;
  /** Implementation Class UID, default this toolkit's. */
  implementationClassUid?: string;
  /** Implementation Version Name, default this toolkit's. */
  implementationVersionName?: string;
}

/**
 * A whole Part 10 file for the data set; Media Storage SOP Class/Instance UIDs are taken from
 * its SOP Class UID (0008,0016) and SOP Instance UID (0008,0018).
 */
export async function writePart10(
  dataSet: DataSet,
  options: WritePart10Options = {},
): Promise<Uint8Array> {
  const sopClass = stringOf(dataSet, 0x00080016);
  const sopInstance = stringOf(dataSet, 0x00080018);
  if (!sopClass || !sopInstance) {
    throw new DataSetError(
      "invalid-value",
      "SOP Class UID and SOP Instance UID are required for a Part 10 file",
      {
        tag: sopClass ? "00080018" : "00080016",
      },
    );
  }
  const transferSyntaxUid = options.transferSyntaxUid ?? ExplicitVrLittleEndian;
  const meta = encodeFileMetaInformation({
    mediaStorageSopClassUid: sopClass,
    mediaStorageSopInstanceUid: sopInstance,
    transferSyntaxUid,
    implementationClassUid: options.implementationClassUid,
    implementationVersionName: options.implementationVersionName,
    sourceApplicationEntityTitle: options.sourceApplicationEntityTitle,
  });
  const body = await writeDataSet(dataSet, {
    transferSyntax: transferSyntaxUid,
    sequenceLength: options.sequenceLength,
  });
  return concatBytes([meta, body]);
}
