/**
 * Binding to the Wasm command set codec (PS3.7 §6.3, Annex E): a {@link CommandSet} to the
 * bytes of group 0000 in implicit VR little endian and back. The Wasm module alone knows the
 * byte layout; this module maps elements to the fields of `command.ts`.
 *
 * @module
 */
import { decodeLatin1 } from "../dataset/character_set.ts";
import { sharedCodecInstance } from "../ul/_wasm.ts";
import type { CodecInstance } from "../ul/_wasm.ts";
import { CommandSetError } from "../ul/errors.ts";
import type { CommandSet } from "./command.ts";

export type { CommandSet };

/** How a field's value is carried. */
type ValueKind = "string" | "number" | "tags";

/** One field of a command set: its element in group 0000, keyword and value kind. */
interface FieldEntry {
  element: number;
  keyword: string;
  property: keyof CommandSet;
  kind: ValueKind;
}

// PS3.7 Annex E, in ascending element order (the order they are encoded in).
const FIELDS: readonly FieldEntry[] = [
  {
    element: 0x0002,
    keyword: "AffectedSOPClassUID",
    property: "affectedSopClassUid",
    kind: "string",
  },
  {
    element: 0x0003,
    keyword: "RequestedSOPClassUID",
    property: "requestedSopClassUid",
    kind: "string",
  },
  { element: 0x0100, keyword: "CommandField", property: "commandField", kind: "number" },
  { element: 0x0110, keyword: "MessageID", property: "messageId", kind: "number" },
  {
    element: 0x0120,
    keyword: "MessageIDBeingRespondedTo",
    property: "messageIdBeingRespondedTo",
    kind: "number",
  },
  { element: 0x0600, keyword: "MoveDestination", property: "moveDestination", kind: "string" },
  { element: 0x0700, keyword: "Priority", property: "priority", kind: "number" },
  {
    element: 0x0800,
    keyword: "CommandDataSetType",
    property: "commandDataSetType",
    kind: "number",
  },
  { element: 0x0900, keyword: "Status", property: "status", kind: "number" },
  { element: 0x0901, keyword: "OffendingElement", property: "offendingElement", kind: "tags" },
  { element: 0x0902, keyword: "ErrorComment", property: "errorComment", kind: "string" },
  { element: 0x0903, keyword: "ErrorID", property: "errorId", kind: "number" },
  {
    element: 0x1000,
    keyword: "AffectedSOPInstanceUID",
    property: "affectedSopInstanceUid",
    kind: "string",
  },
  {
    element: 0x1001,
    keyword: "RequestedSOPInstanceUID",
    property: "requestedSopInstanceUid",
    kind: "string",
  },
  { element: 0x1002, keyword: "EventTypeID", property: "eventTypeId", kind: "number" },
  {
    element: 0x1005,
    keyword: "AttributeIdentifierList",
    property: "attributeIdentifierList",
    kind: "tags",
  },
  { element: 0x1008, keyword: "ActionTypeID", property: "actionTypeId", kind: "number" },
  {
    element: 0x1020,
    keyword: "NumberOfRemainingSuboperations",
    property: "numberOfRemainingSuboperations",
    kind: "number",
  },
  {
    element: 0x1021,
    keyword: "NumberOfCompletedSuboperations",
    property: "numberOfCompletedSuboperations",
    kind: "number",
  },
  {
    element: 0x1022,
    keyword: "NumberOfFailedSuboperations",
    property: "numberOfFailedSuboperations",
    kind: "number",
  },
  {
    element: 0x1023,
    keyword: "NumberOfWarningSuboperations",
    property: "numberOfWarningSuboperations",
    kind: "number",
  },
  {
    element: 0x1030,
    keyword: "MoveOriginatorApplicationEntityTitle",
    property: "moveOriginatorApplicationEntityTitle",
    kind: "string",
  },
  {
    element: 0x1031,
    keyword: "MoveOriginatorMessageID",
    property: "moveOriginatorMessageId",
    kind: "number",
  },
];

const BY_ELEMENT = new Map<number, FieldEntry>(FIELDS.map((f) => [f.element, f]));

// Record kinds and error codes, as in wasm/assembly/command.ts.
const K_STRING = 1;
const K_NUMBER = 2;
const K_TAGS = 3;
const K_TAG = 4;

const ERROR_CODES = [
  "",
  "length-overrun",
  "element-outside-group",
  "invalid-group-length",
  "missing-command-field",
  "missing-command-data-set-type",
  "invalid-value-length",
  "invalid-value",
  "unknown-element",
  "elements-not-ascending",
  "value-too-long",
  "invalid-input",
];

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, "0");
}

/** "(0000,0100) CommandField" for an element of group 0000, "(gggg,eeee)" for any other tag. */
function fieldName(tag: number): string {
  const group = tag >>> 16;
  const element = tag & 0xffff;
  const name = `(${hex4(group)},${hex4(element)})`;
  if (group !== 0) return name;
  if (element === 0) return `${name} CommandGroupLength`;
  const entry = BY_ELEMENT.get(element);
  return entry ? `${name} ${entry.keyword}` : name;
}

function codecError(codec: CodecInstance): CommandSetError {
  const code = ERROR_CODES[codec.fn.cmd_error_code()] ?? "invalid-command-set";
  const element = codec.fn.cmd_error_element() >>> 0;
  const field = element === 0 && code !== "invalid-group-length"
    ? "command set"
    : fieldName(element);
  return new CommandSetError(code, field);
}

function checkNumber(value: unknown, entry: FieldEntry, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
    throw new CommandSetError("invalid-value", fieldName(entry.element));
  }
  return value;
}

/**
 * Encodes a command set: group 0000, implicit VR little endian, (0000,0000) Command Group Length
 * first, ascending tags, even lengths (UI padded with NUL, AE/LO with a space). Fields left
 * undefined are not sent. Returns an owned copy; throws {@link CommandSetError} for a value that
 * does not fit its VR.
 */
export function encodeCommandSet(command: CommandSet): Uint8Array {
  const codec = sharedCodecInstance();
  // Each field is read once (into `values`) and the entries are written through views kept
  // across calls: this runs for every message sent.
  const values = ENCODE_VALUES;
  let length = 0;
  let count = 0;
  for (let i = 0; i < FIELDS.length; i++) {
    const entry = FIELDS[i];
    const value = command[entry.property];
    values[i] = value;
    if (value === undefined) continue;
    count++;
    if (entry.kind === "number") length += 12;
    else if (entry.kind === "tags") {
      if (!Array.isArray(value)) {
        throw new CommandSetError("invalid-value", fieldName(entry.element));
      }
      length += 8 + 4 * value.length;
    } else {
      if (typeof value !== "string") {
        throw new CommandSetError("invalid-value", fieldName(entry.element));
      }
      length += 8 + value.length;
    }
  }
  const ptr = codec.fn.cmd_input(length);
  const { view, bytes } = inputViews(codec, ptr, length);
  let p = 0;
  for (let i = 0; i < FIELDS.length; i++) {
    const value = values[i];
    if (value === undefined) continue;
    values[i] = undefined;
    const entry = FIELDS[i];
    view.setUint32(p, entry.element, true);
    if (entry.kind === "number") {
      view.setUint32(p + 4, 4, true);
      view.setUint32(p + 8, checkNumber(value, entry, 0xffff), true);
      p += 12;
    } else if (entry.kind === "tags") {
      const tags = value as number[];
      view.setUint32(p + 4, 4 * tags.length, true);
      p += 8;
      for (const tag of tags) {
        view.setUint32(p, checkNumber(tag, entry, 0xffffffff), true);
        p += 4;
      }
    } else {
      const s = value as string;
      view.setUint32(p + 4, s.length, true);
      p += 8;
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c > 0xff) throw new CommandSetError("invalid-value", fieldName(entry.element));
        bytes[p + i] = c;
      }
      p += s.length;
    }
  }
  const total = codec.fn.cmd_encode(count, length);
  if (total < 0) throw codecError(codec);
  return new Uint8Array(codec.memory.buffer, codec.fn.cmd_output(), total).slice();
}

/** The field values of the command being encoded, by index in FIELDS. */
const ENCODE_VALUES: unknown[] = FIELDS.map(() => undefined);

let inputCache:
  | { buffer: ArrayBufferLike; ptr: number; view: DataView; bytes: Uint8Array }
  | undefined;

/** Views of the codec's input region from `ptr` to the end of its memory, reused while valid. */
function inputViews(
  codec: CodecInstance,
  ptr: number,
  length: number,
): { view: DataView; bytes: Uint8Array } {
  const buffer = codec.memory.buffer;
  const cache = inputCache;
  if (cache && cache.buffer === buffer && cache.ptr === ptr && cache.bytes.length >= length) {
    return cache;
  }
  const size = buffer.byteLength - ptr;
  inputCache = {
    buffer,
    ptr,
    view: new DataView(buffer, ptr, size),
    bytes: new Uint8Array(buffer, ptr, size),
  };
  return inputCache;
}

/**
 * Decodes a command set (the reassembled command fragments of one message). Padding is
 * stripped; unknown and retired group 0000 elements are ignored. Throws
 * {@link CommandSetError} for an element that overruns the bytes, an element outside group
 * 0000, a missing or wrong Command Group Length, or a missing Command Field or Command Data
 * Set Type.
 */
export function decodeCommandSet(bytes: Uint8Array): CommandSet {
  const codec = sharedCodecInstance();
  const ptr = codec.fn.cmd_input(bytes.length);
  new Uint8Array(codec.memory.buffer, ptr, bytes.length).set(bytes);
  const count = codec.fn.cmd_decode(bytes.length);
  if (count < 0) throw codecError(codec);
  const records = new Uint32Array(codec.memory.buffer, codec.fn.cmd_records(), count * 4);
  const input = new Uint8Array(codec.memory.buffer, ptr, bytes.length);
  const result: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    const r = i * 4;
    const entry = BY_ELEMENT.get(records[r]);
    const kind = records[r + 1];
    if (kind === K_TAGS) {
      const tags: number[] = [];
      const n = records[r + 2];
      for (let j = 1; j <= n; j++) {
        if (records[r + 4 * j + 1] === K_TAG) tags.push(records[r + 4 * j + 2]);
      }
      if (entry) result[entry.property] = tags;
      i += n;
      continue;
    }
    if (!entry) continue;
    // Command set strings are in the default repertoire (PS3.5 §6.1).
    if (kind === K_STRING) {
      const at = records[r + 2];
      result[entry.property] = decodeLatin1(input.subarray(at, at + records[r + 3]));
    } else if (kind === K_NUMBER) result[entry.property] = records[r + 2];
  }
  return result as unknown as CommandSet;
}
