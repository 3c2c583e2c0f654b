/**
 * Standard transfer syntaxes of PS3.5 §10 and PS3.6 Table A-1, by UID, with the properties that
 * decide how a data set is encoded.
 *
 * @module
 */

/** One transfer syntax and how it encodes the data set (PS3.5 §10). */
export interface TransferSyntax {
  /** The transfer syntax UID. */
  uid: string;
  /** The name PS3.6 gives it. */
  name: string;
  /** Explicit VR (PS3.5 §7.1.2) rather than implicit VR (§7.1.3). */
  explicitVr: boolean;
  /** Little endian byte ordering (PS3.5 §7.3). */
  littleEndian: boolean;
  /** The whole data set is compressed with deflate (PS3.5 §10.3, RFC 1951). */
  deflated: boolean;
  /** Pixel data is encapsulated: undefined length with fragments (PS3.5 §A.4). */
  encapsulated: boolean;
  /** Retired from the standard (kept for reading old objects). */
  retired: boolean;
}

function ts(
  uid: string,
  name: string,
  flags: {
    implicit?: boolean;
    bigEndian?: boolean;
    deflated?: boolean;
    encapsulated?: boolean;
    retired?: boolean;
  } = {},
): TransferSyntax {
  return {
    uid,
    name,
    explicitVr: !flags.implicit,
    littleEndian: !flags.bigEndian,
    deflated: flags.deflated ?? false,
    encapsulated: flags.encapsulated ?? false,
    retired: flags.retired ?? false,
  };
}

const E = { encapsulated: true };
const ER = { encapsulated: true, retired: true };

/** Implicit VR Little Endian, the default transfer syntax (PS3.5 §10.1). */
export const ImplicitVrLittleEndian = "1.2.840.10008.1.2";
/** Explicit VR Little Endian (PS3.5 §A.2). */
export const ExplicitVrLittleEndian = "1.2.840.10008.1.2.1";
/** Deflated Explicit VR Little Endian (PS3.5 §A.5). */
export const DeflatedExplicitVrLittleEndian = "1.2.840.10008.1.2.1.99";
/** Explicit VR Big Endian, retired (PS3.5 §A.3). */
export const ExplicitVrBigEndian = "1.2.840.10008.1.2.2";

const JPEG = "1.2.840.10008.1.2.4.";

/** Every standard transfer syntax of PS3.6 Table A-1, active and retired. */
export const TRANSFER_SYNTAXES: readonly TransferSyntax[] = [
  ts(ImplicitVrLittleEndian, "Implicit VR Little Endian", { implicit: true }),
  ts(ExplicitVrLittleEndian, "Explicit VR Little Endian"),
  ts("1.2.840.10008.1.2.1.98", "Encapsulated Uncompressed Explicit VR Little Endian", E),
  ts(DeflatedExplicitVrLittleEndian, "Deflated Explicit VR Little Endian", { deflated: true }),
  ts(ExplicitVrBigEndian, "Explicit VR Big Endian", { bigEndian: true, retired: true }),
  ts(JPEG + "50", "JPEG Baseline (Process 1)", E),
  ts(JPEG + "51", "JPEG Extended (Process 2 & 4)", E),
  ts(JPEG + "52", "JPEG Extended (Process 3 & 5)", ER),
  ts(JPEG + "53", "JPEG Spectral Selection, Non-Hierarchical (Process 6 & 8)", ER),
  ts(JPEG + "54", "JPEG Spectral Selection, Non-Hierarchical (Process 7 & 9)", ER),
  ts(JPEG + "55", "JPEG Full Progression, Non-Hierarchical (Process 10 & 12)", ER),
  ts(JPEG + "56", "JPEG Full Progression, Non-Hierarchical (Process 11 & 13)", ER),
  ts(JPEG + "57", "JPEG Lossless, Non-Hierarchical (Process 14)", E),
  ts(JPEG + "58", "JPEG Lossless, Non-Hierarchical (Process 15)", ER),
  ts(JPEG + "59", "JPEG Extended, Hierarchical (Process 16 & 18)", ER),
  ts(JPEG + "60", "JPEG Extended, Hierarchical (Process 17 & 19)", ER),
  ts(JPEG + "61", "JPEG Spectral Selection, Hierarchical (Process 20 & 22)", ER),
  ts(JPEG + "62", "JPEG Spectral Selection, Hierarchical (Process 21 & 23)", ER),
  ts(JPEG + "63", "JPEG Full Progression, Hierarchical (Process 24 & 26)", ER),
  ts(JPEG + "64", "JPEG Full Progression, Hierarchical (Process 25 & 27)", ER),
  ts(JPEG + "65", "JPEG Lossless, Hierarchical (Process 28)", ER),
  ts(JPEG + "66", "JPEG Lossless, Hierarchical (Process 29)", ER),
  ts(JPEG + "70", "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [SV1])", E),
  ts(JPEG + "80", "JPEG-LS Lossless Image Compression", E),
  ts(JPEG + "81", "JPEG-LS Lossy (Near-Lossless) Image Compression", E),
  ts(JPEG + "90", "JPEG 2000 Image Compression (Lossless Only)", E),
  ts(JPEG + "91", "JPEG 2000 Image Compression", E),
  ts(JPEG + "92", "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)", E),
  ts(JPEG + "93", "JPEG 2000 Part 2 Multi-component Image Compression", E),
  ts(JPEG + "94", "JPIP Referenced"),
  ts(JPEG + "95", "JPIP Referenced Deflate", { deflated: true }),
  ts(JPEG + "100", "MPEG2 Main Profile / Main Level", E),
  ts(JPEG + "100.1", "Fragmentable MPEG2 Main Profile / Main Level", E),
  ts(JPEG + "101", "MPEG2 Main Profile / High Level", E),
  ts(JPEG + "101.1", "Fragmentable MPEG2 Main Profile / High Level", E),
  ts(JPEG + "102", "MPEG-4 AVC/H.264 High Profile / Level 4.1", E),
  ts(JPEG + "102.1", "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.1", E),
  ts(JPEG + "103", "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1", E),
  ts(JPEG + "103.1", "Fragmentable MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1", E),
  ts(JPEG + "104", "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video", E),
  ts(JPEG + "104.1", "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video", E),
  ts(JPEG + "105", "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video", E),
  ts(JPEG + "105.1", "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video", E),
  ts(JPEG + "106", "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2", E),
  ts(JPEG + "106.1", "Fragmentable MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2", E),
  ts(JPEG + "107", "HEVC/H.265 Main Profile / Level 5.1", E),
  ts(JPEG + "108", "HEVC/H.265 Main 10 Profile / Level 5.1", E),
  ts(JPEG + "110", "JPEG XL Lossless", E),
  ts(JPEG + "111", "JPEG XL JPEG Recompression", E),
  ts(JPEG + "112", "JPEG XL", E),
  ts(JPEG + "201", "High-Throughput JPEG 2000 Image Compression (Lossless Only)", E),
  ts(
    JPEG + "202",
    "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)",
    E,
  ),
  ts(JPEG + "203", "High-Throughput JPEG 2000 Image Compression", E),
  ts(JPEG + "204", "JPIP HTJ2K Referenced"),
  ts(JPEG + "205", "JPIP HTJ2K Referenced Deflate", { deflated: true }),
  ts("1.2.840.10008.1.2.5", "RLE Lossless", E),
  ts("1.2.840.10008.1.2.6.1", "RFC 2557 MIME encapsulation", { retired: true }),
  ts("1.2.840.10008.1.2.6.2", "XML Encoding", { retired: true }),
  ts("1.2.840.10008.1.2.7.1", "SMPTE ST 2110-20 Uncompressed Progressive Active Video"),
  ts("1.2.840.10008.1.2.7.2", "SMPTE ST 2110-20 Uncompressed Interlaced Active Video"),
  ts("1.2.840.10008.1.2.7.3", "SMPTE ST 2110-30 PCM Digital Audio"),
  ts("1.2.840.10008.1.2.8.1", "Deflated Image Frame Compression", E),
  ts("1.2.840.10008.1.20", "Papyrus 3 Implicit VR Little Endian", {
    implicit: true,
    retired: true,
  }),
];

const BY_UID = new Map(TRANSFER_SYNTAXES.map((t) => [t.uid, t]));

/**
 * The transfer syntax with this UID. An unknown UID is taken as explicit VR little endian with
 * encapsulated pixel data, which is how PS3.5 §10 requires every new transfer syntax to encode
 * its data set; undefined only for an empty UID.
 */
export function transferSyntaxOf(uid: string): TransferSyntax | undefined {
  const clean = uid.replace(/[\0 ]+$/, "");
  if (clean === "") return undefined;
  return BY_UID.get(clean) ??
    {
      uid: clean,
      name: clean,
      explicitVr: true,
      littleEndian: true,
      deflated: false,
      encapsulated: true,
      retired: false,
    };
}

/** True when the UID is one of the standard transfer syntaxes of PS3.6 Table A-1. */
export function isStandardTransferSyntax(uid: string): boolean {
  return BY_UID.has(uid);
}

/**
 * True when data sets in this transfer syntax can be converted by `transcodeDataSet`
 * (transcode.ts) without decompressing anything: a native data set (PS3.5 §A.1–§A.3), or
 * deflated explicit VR little endian (§A.5). False for an empty UID.
 */
export function isTranscodable(transferSyntax: string | TransferSyntax): boolean {
  const ts = typeof transferSyntax === "string" ? transferSyntaxOf(transferSyntax) : transferSyntax;
  if (ts === undefined || ts.encapsulated || isReferenced(ts)) return false;
  return !ts.deflated || (ts.explicitVr && ts.littleEndian);
}

/** True when `transcodeDataSet` (transcode.ts) can write data sets in this transfer syntax. */
export function isTranscodeTarget(transferSyntax: string | TransferSyntax): boolean {
  const ts = typeof transferSyntax === "string" ? transferSyntaxOf(transferSyntax) : transferSyntax;
  return ts !== undefined && isTranscodable(ts) && !ts.deflated;
}

function isReferenced(ts: TransferSyntax): boolean {
  // JPIP referenced (PS3.5 §A.6) and MIME/XML/SMPTE transfer syntaxes carry no native data set
  // a conversion could rewrite.
  return /^1\.2\.840\.10008\.1\.2\.(4\.9[45]|4\.20[45]|6\.|7\.)/.test(ts.uid);
}
