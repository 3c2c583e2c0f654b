/**
 * Value fields to and from the DICOM JSON model, per VR (PS3.5 §6.2, PS3.18 §F.2.3).
 *
 * @module
 */

import { type CharacterSet, decodeLatin1, encodeLatin1 } from "./character_set.ts";
import type { DataElement, ElementValue, PersonName } from "./dataset.ts";
import { DataSetError } from "./errors.ts";
import { type Vr, VR_PROPERTIES } from "./vr.ts";

// PS3.5 §6.1.2.3: only these VRs use the Specific Character Set.
const TEXT_VRS = new Set<Vr>(["SH", "LO", "ST", "LT", "UC", "UT", "PN"]);

/** Base64 of bytes (PS3.18 §F.2.7). */
export function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return btoa(text);
}

/** Bytes of base64 text. */
export function fromBase64(text: string): Uint8Array {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** Reverses the byte order of each unit of `size` bytes in place (big endian ↔ little endian). */
export function swapBytes(bytes: Uint8Array, size: number): Uint8Array {
  if (size <= 1) return bytes;
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
  return bytes;
}

function trimValue(vr: Vr, text: string): string {
  let end = text.length;
  while (end > 0) {
    const c = text.charCodeAt(end - 1);
    if (c !== 0x20 && c !== 0) break;
    end--;
  }
  let start = 0;
  // PS3.5 §6.2: leading spaces are significant in LT, ST, UT, UR (and a UI has none).
  if (vr !== "UI" && vr !== "LT" && vr !== "ST" && vr !== "UT" && vr !== "UR") {
    while (start < end && text.charCodeAt(start) === 0x20) start++;
  }
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function bigToValue(value: bigint): number | string {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value.toString();
}

function parsePersonName(text: string): PersonName | null {
  if (text === "") return null;
  const groups = text.split("=");
  const name: PersonName = {};
  if (groups[0]) name.Alphabetic = groups[0];
  if (groups[1]) name.Ideographic = groups[1];
  if (groups[2]) name.Phonetic = groups[2];
  return name;
}

/**
 * The JSON model element for a value field read from the wire. `bytes` is in the transfer
 * syntax's byte order; binary VRs become InlineBinary in little endian.
 */
export function decodeValue(
  vr: Vr,
  bytes: Uint8Array,
  littleEndian: boolean,
  charset: CharacterSet,
): DataElement {
  const props = VR_PROPERTIES[vr];
  if (bytes.length === 0) return { vr };
  switch (props.kind) {
    case "binary": {
      const copy = littleEndian ? bytes : swapBytes(bytes.slice(), props.unitSize);
      return { vr, InlineBinary: toBase64(copy) };
    }
    case "tag": {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const values: ElementValue[] = [];
      for (let i = 0; i + 4 <= bytes.length; i += 4) {
        const g = view.getUint16(i, littleEndian);
        const e = view.getUint16(i + 2, littleEndian);
        values.push(((g << 16 >>> 0) + e).toString(16).toUpperCase().padStart(8, "0"));
      }
      return { vr, Value: values };
    }
    case "number":
      if (vr === "IS" || vr === "DS") {
        const text = decodeLatin1(bytes);
        const values = text.split("\\").map((part) => {
          const t = part.trim().replace(/\0+$/, "");
          if (t === "") return null;
          const n = Number(t);
          return Number.isFinite(n) ? n : t;
        });
        return values.every((v) => v === null) && values.length === 1
          ? { vr }
          : { vr, Value: values };
      }
      return { vr, Value: decodeNumbers(vr, bytes, littleEndian) };
    case "person-name": {
      const text = trimValue(vr, charset.decode(bytes));
      if (text === "") return { vr };
      return { vr, Value: text.split("\\").map((v) => parsePersonName(v.replace(/ +$/, ""))) };
    }
    default: {
      const raw = TEXT_VRS.has(vr) ? charset.decode(bytes) : decodeLatin1(bytes);
      if (!props.multiValued) {
        const text = trimValue(vr, raw);
        return text === "" ? { vr } : { vr, Value: [text] };
      }
      const parts = raw.split("\\").map((v) => trimValue(vr, v));
      if (parts.length === 1 && parts[0] === "") return { vr };
      return { vr, Value: parts.map((v) => v === "" ? null : v) };
    }
  }
}

function decodeNumbers(vr: Vr, bytes: Uint8Array, le: boolean): ElementValue[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = VR_PROPERTIES[vr].unitSize;
  const out: ElementValue[] = [];
  for (let i = 0; i + size <= bytes.length; i += size) {
    switch (vr) {
      case "US":
        out.push(view.getUint16(i, le));
        break;
      case "SS":
        out.push(view.getInt16(i, le));
        break;
      case "UL":
        out.push(view.getUint32(i, le));
        break;
      case "SL":
        out.push(view.getInt32(i, le));
        break;
      case "FL":
        out.push(view.getFloat32(i, le));
        break;
      case "FD":
        out.push(view.getFloat64(i, le));
        break;
      case "SV":
        out.push(bigToValue(view.getBigInt64(i, le)));
        break;
      case "UV":
        out.push(bigToValue(view.getBigUint64(i, le)));
        break;
    }
  }
  return out;
}

function formatDecimal(value: ElementValue): string {
  if (value === null) return "";
  if (typeof value === "string") return value;
  const n = Number(value);
  let text = String(n);
  // PS3.5 Table 6.2-1: DS is at most 16 bytes.
  for (let digits = 16; text.length > 16 && digits > 0; digits--) {
    text = n.toPrecision(digits).replace(/(\.\d*?)0+(e|$)/, "$1$2").replace(/\.(e|$)/, "$1");
  }
  return text;
}

/** The value field for an element of the JSON model, padded to even length per VR (PS3.5 §6.2). */
export function encodeValue(
  tag: string,
  element: DataElement,
  littleEndian: boolean,
  charset: CharacterSet,
): Uint8Array {
  const vr = element.vr;
  const props = VR_PROPERTIES[vr];
  let bytes: Uint8Array;
  if (
    element.BulkDataURI !== undefined && element.InlineBinary === undefined &&
    element.Value === undefined
  ) {
    throw new DataSetError("bulk-data-not-available", `Attribute ${tag} has only a BulkDataURI`, {
      tag,
    });
  }
  const values = element.Value ?? [];
  switch (props.kind) {
    case "binary": {
      const raw = element.InlineBinary !== undefined
        ? fromBase64(element.InlineBinary)
        : new Uint8Array(0);
      bytes = littleEndian ? raw : swapBytes(raw, props.unitSize);
      break;
    }
    case "tag": {
      bytes = new Uint8Array(values.length * 4);
      const view = new DataView(bytes.buffer);
      values.forEach((v, i) => {
        const n = parseInt(String(v ?? "0"), 16);
        view.setUint16(i * 4, Math.floor(n / 0x10000), littleEndian);
        view.setUint16(i * 4 + 2, n & 0xffff, littleEndian);
      });
      break;
    }
    case "number":
      if (vr === "IS") {
        bytes = encodeLatin1(values.map((v) => v === null ? "" : String(v)).join("\\"));
      } else if (vr === "DS") {
        bytes = encodeLatin1(values.map(formatDecimal).join("\\"));
      } else {
        bytes = encodeNumbers(tag, vr, values, littleEndian);
      }
      break;
    case "person-name":
      bytes = charset.encode(
        values.map((v) => {
          if (v === null) return "";
          if (typeof v === "string") return v;
          const pn = v as PersonName;
          return [pn.Alphabetic ?? "", pn.Ideographic ?? "", pn.Phonetic ?? ""].join("=").replace(
            /=+$/,
            "",
          );
        }).join("\\"),
      );
      break;
    default: {
      const text = values.map((v) => v === null ? "" : String(v)).join("\\");
      bytes = TEXT_VRS.has(vr) ? charset.encode(text) : encodeLatin1(text);
    }
  }
  if (bytes.length % 2 === 1) {
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes);
    padded[bytes.length] = props.padding;
    return padded;
  }
  return bytes;
}

function encodeNumbers(tag: string, vr: Vr, values: ElementValue[], le: boolean): Uint8Array {
  const size = VR_PROPERTIES[vr].unitSize;
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    const at = i * size;
    if (v === null || typeof v === "object") {
      throw new DataSetError(
        "invalid-value",
        `Attribute ${tag} (${vr}) has a value that is not a number`,
        { tag },
      );
    }
    switch (vr) {
      case "US":
        view.setUint16(at, Number(v), le);
        break;
      case "SS":
        view.setInt16(at, Number(v), le);
        break;
      case "UL":
        view.setUint32(at, Number(v), le);
        break;
      case "SL":
        view.setInt32(at, Number(v), le);
        break;
      case "FL":
        view.setFloat32(at, Number(v), le);
        break;
      case "FD":
        view.setFloat64(at, Number(v), le);
        break;
      case "SV":
        view.setBigInt64(at, BigInt(v), le);
        break;
      case "UV":
        view.setBigUint64(at, BigInt(v), le);
        break;
    }
  });
  return out;
}
