/**
 * Value Representations of PS3.5 Table 6.2-1 with the facts the encoder needs.
 *
 * @module
 */

/** Every Value Representation of PS3.5 Table 6.2-1. */
export type Vr =
  | "AE"
  | "AS"
  | "AT"
  | "CS"
  | "DA"
  | "DS"
  | "DT"
  | "FD"
  | "FL"
  | "IS"
  | "LO"
  | "LT"
  | "OB"
  | "OD"
  | "OF"
  | "OL"
  | "OV"
  | "OW"
  | "PN"
  | "SH"
  | "SL"
  | "SQ"
  | "SS"
  | "ST"
  | "SV"
  | "TM"
  | "UC"
  | "UI"
  | "UL"
  | "UN"
  | "UR"
  | "US"
  | "UT"
  | "UV";

/** How the value of a VR is held in the DICOM JSON model (PS3.18 §F.2.3). */
export type VrKind = "string" | "text" | "person-name" | "number" | "tag" | "binary" | "sequence";

/** What the standard says about one VR. */
export interface VrProperties {
  /** The VR itself. */
  vr: Vr;
  /** 4-byte length (after two reserved bytes) in explicit VR, PS3.5 §7.1.2. */
  longLength: boolean;
  /** Padding byte to reach an even length (PS3.5 §6.2): space, NUL or none needed. */
  padding: number;
  /** The JSON model form of the value. */
  kind: VrKind;
  /** Size of one binary number, or of one swap unit for OB/OW/OF/… in big endian; 1 when none. */
  unitSize: number;
  /** Multiple string values are separated by backslash (PS3.5 §6.4); false for LT, ST, UT, UR. */
  multiValued: boolean;
}

function p(
  vr: Vr,
  longLength: boolean,
  padding: number,
  kind: VrKind,
  unitSize: number,
  multiValued: boolean,
): VrProperties {
  return { vr, longLength, padding, kind, unitSize, multiValued };
}

const SPACE = 0x20;
const NUL = 0x00;

/** PS3.5 Table 6.2-1, keyed by VR. */
export const VR_PROPERTIES: Readonly<Record<Vr, VrProperties>> = {
  AE: p("AE", false, SPACE, "string", 1, true),
  AS: p("AS", false, SPACE, "string", 1, true),
  AT: p("AT", false, NUL, "tag", 2, true),
  CS: p("CS", false, SPACE, "string", 1, true),
  DA: p("DA", false, SPACE, "string", 1, true),
  DS: p("DS", false, SPACE, "number", 1, true),
  DT: p("DT", false, SPACE, "string", 1, true),
  FD: p("FD", false, NUL, "number", 8, true),
  FL: p("FL", false, NUL, "number", 4, true),
  IS: p("IS", false, SPACE, "number", 1, true),
  LO: p("LO", false, SPACE, "string", 1, true),
  LT: p("LT", false, SPACE, "text", 1, false),
  OB: p("OB", true, NUL, "binary", 1, false),
  OD: p("OD", true, NUL, "binary", 8, false),
  OF: p("OF", true, NUL, "binary", 4, false),
  OL: p("OL", true, NUL, "binary", 4, false),
  OV: p("OV", true, NUL, "binary", 8, false),
  OW: p("OW", true, NUL, "binary", 2, false),
  PN: p("PN", false, SPACE, "person-name", 1, true),
  SH: p("SH", false, SPACE, "string", 1, true),
  SL: p("SL", false, NUL, "number", 4, true),
  SQ: p("SQ", true, NUL, "sequence", 1, false),
  SS: p("SS", false, NUL, "number", 2, true),
  ST: p("ST", false, SPACE, "text", 1, false),
  SV: p("SV", true, NUL, "number", 8, true),
  TM: p("TM", false, SPACE, "string", 1, true),
  UC: p("UC", true, SPACE, "string", 1, true),
  UI: p("UI", false, NUL, "string", 1, true),
  UL: p("UL", false, NUL, "number", 4, true),
  UN: p("UN", true, NUL, "binary", 1, false),
  UR: p("UR", true, SPACE, "text", 1, false),
  US: p("US", false, NUL, "number", 2, true),
  UT: p("UT", true, SPACE, "text", 1, false),
  UV: p("UV", true, NUL, "number", 8, true),
};

/** True when the text is one of the VRs of PS3.5 Table 6.2-1. */
export function isVr(text: string): text is Vr {
  return Object.hasOwn(VR_PROPERTIES, text);
}

/** Each VR by its two characters as one number (first byte × 256 + second). */
const VR_BY_CODE = new Map<number, Vr>(
  (Object.keys(VR_PROPERTIES) as Vr[]).map((vr) => [vr.charCodeAt(0) * 256 + vr.charCodeAt(1), vr]),
);

/**
 * The VR whose two characters are the bytes `first` and `second` (an explicit VR element
 * header, PS3.5 §7.1.2), or undefined when they name none; builds no string on the way.
 */
export function vrOfBytes(first: number, second: number): Vr | undefined {
  return VR_BY_CODE.get(first * 256 + second);
}

/** True when the VR uses the 4-byte length form in explicit VR (PS3.5 Table 7.1-1). */
export function hasLongLength(vr: Vr): boolean {
  return VR_PROPERTIES[vr].longLength;
}

/** The byte that pads a value of this VR to even length (PS3.5 §6.2). */
export function paddingOf(vr: Vr): number {
  return VR_PROPERTIES[vr].padding;
}
