/**
 * Specific Character Set (0008,0005): decoding and encoding of the text VRs (PS3.5 §6.1).
 *
 * @module
 */

import { DataSetError } from "./errors.ts";

/** The encodings known by their Defined Term (PS3.3 §C.12.1.1.2), as WHATWG labels. */
const LABELS: Record<string, string> = {
  "": "latin1",
  "ISO_IR 6": "latin1",
  "ISO 2022 IR 6": "latin1",
  "ISO_IR 100": "latin1",
  "ISO 2022 IR 100": "latin1",
  "ISO_IR 101": "iso-8859-2",
  "ISO 2022 IR 101": "iso-8859-2",
  "ISO_IR 109": "iso-8859-3",
  "ISO 2022 IR 109": "iso-8859-3",
  "ISO_IR 110": "iso-8859-4",
  "ISO 2022 IR 110": "iso-8859-4",
  "ISO_IR 144": "iso-8859-5",
  "ISO 2022 IR 144": "iso-8859-5",
  "ISO_IR 127": "iso-8859-6",
  "ISO 2022 IR 127": "iso-8859-6",
  "ISO_IR 126": "iso-8859-7",
  "ISO 2022 IR 126": "iso-8859-7",
  "ISO_IR 138": "iso-8859-8",
  "ISO 2022 IR 138": "iso-8859-8",
  "ISO_IR 148": "iso-8859-9",
  "ISO 2022 IR 148": "iso-8859-9",
  "ISO_IR 203": "iso-8859-15",
  "ISO 2022 IR 203": "iso-8859-15",
  "ISO_IR 166": "windows-874",
  "ISO 2022 IR 166": "windows-874",
  "ISO_IR 13": "shift_jis",
  "ISO 2022 IR 13": "shift_jis",
  "ISO_IR 192": "utf-8",
  "GB18030": "gb18030",
  "GBK": "gbk",
};

/** The character repertoire of a data set, from the values of Specific Character Set. */
export class CharacterSet {
  /** The WHATWG encoding label used for decoding. */
  readonly label: string;
  /** False when a term was not recognised and text is decoded as ISO 8859-1 instead. */
  readonly supported: boolean;
  readonly #decoder: TextDecoder;

  /** Default repertoire (ISO IR 6) when the terms are empty or absent. */
  constructor(terms: readonly string[] = []) {
    // With code extensions (several terms) the first term names the default repertoire; the
    // G1 set of the second term is what the text uses for non-ASCII characters.
    const first = (terms[0] ?? "").trim();
    const chosen = terms.length > 1 && first.startsWith("ISO 2022") || first === ""
      ? (terms[1] ?? first).trim()
      : first;
    // ISO 2022 JIS X 0208/0212 code extensions decode as ISO-2022-JP, escape sequences included.
    const jis = terms.some((t) => t.trim() === "ISO 2022 IR 87" || t.trim() === "ISO 2022 IR 159");
    const label = jis ? "iso-2022-jp" : LABELS[chosen];
    // An unknown term is read as ISO 8859-1 rather than failing the whole data set (as DCMTK
    // does, with a warning); writing non-ASCII text in it is refused.
    this.supported = label !== undefined;
    this.label = label ?? "latin1";
    this.#decoder = new TextDecoder(this.label === "latin1" ? "windows-1252" : this.label);
  }

  /** Decodes the bytes of a PN, SH, LO, ST, LT, UC or UT value. */
  decode(bytes: Uint8Array): string {
    if (this.label === "latin1") return decodeLatin1(bytes);
    return this.#decoder.decode(bytes);
  }

  /** Encodes text for a PN, SH, LO, ST, LT, UC or UT value. */
  encode(text: string): Uint8Array {
    if (this.label === "utf-8") return new TextEncoder().encode(text);
    if (this.label === "latin1" && this.supported) return encodeLatin1(text);
    if (isAscii(text)) return encodeLatin1(text);
    throw new DataSetError(
      "unsupported-character-set",
      `Encoding to ${this.label} is not supported`,
      {
        tag: "00080005",
      },
    );
  }
}

/** Decodes bytes as ISO 8859-1, one character per byte (also used for the ASCII-only VRs). */
export function decodeLatin1(bytes: Uint8Array): string {
  // One call per 8 KiB: a loop of one character at a time would leave a string per character
  // for the garbage collector.
  if (bytes.length <= 8192) {
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  }
  return out;
}

/** Encodes text as ISO 8859-1; a character outside it is an error. */
export function encodeLatin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) {
      throw new DataSetError(
        "unsupported-character-set",
        `Character U+${c.toString(16)} is outside ISO 8859-1`,
      );
    }
    out[i] = c;
  }
  return out;
}

/** The default repertoire, used when a data set has no Specific Character Set. */
export const DEFAULT_CHARACTER_SET: CharacterSet = new CharacterSet();

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}
