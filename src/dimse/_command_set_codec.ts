// The command set codec behind command_codec.ts (PS3.7 §6.3, Annex E): maps the fields of
// `command.ts` to the records and entries of the Wasm module, which alone knows the bytes.
// Internal: the encoder hands out a view of the codec's memory, which the dispatcher copies
// straight into the P-DATA-TF PDU it builds; the public encoder copies it out.
import { decodeLatin1 } from "../dataset/character_set.ts";
import { sharedCodecInstance } from "../ul/_wasm.ts";
import type { CodecInstance } from "../ul/_wasm.ts";
import { CommandSetError } from "../ul/errors.ts";
import type { CommandSet } from "./command.ts";

/** How a field's value is carried. */
type ValueKind = "string" | "number" | "tags";

/** One field of a command set: its element in group 0000, keyword and value kind. */
interface FieldEntry {
  element: number;
  keyword: string;
  property: keyof CommandSet;
  kind: ValueKind;
}

// PS3.7 Annex E, in ascending element order (the order they are encoded in). readFields and
// the set* functions below name the same fields, for the encoder and the decoder.
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

/** Views of the shared codec's whole memory; a growth of the memory replaces its buffer. */
interface MemoryViews {
  buffer: ArrayBufferLike;
  u8: Uint8Array;
  u32: Uint32Array;
  view: DataView;
}

let views: MemoryViews | undefined;

/**
 * Views of the codec's memory, kept while its buffer is the same: three views made per call
 * cost more than the rest of decoding a small command set. Take them after any call that may
 * grow the memory.
 */
function memoryViews(codec: CodecInstance): MemoryViews {
  const buffer = codec.memory.buffer;
  if (views === undefined || views.buffer !== buffer) {
    views = {
      buffer,
      u8: new Uint8Array(buffer),
      u32: new Uint32Array(buffer),
      view: new DataView(buffer),
    };
  }
  return views;
}

/** The field values of the command being encoded, by index in FIELDS. */
const ENCODE_VALUES: unknown[] = FIELDS.map(() => undefined);

/**
 * Reads the fields of a command into `values`, in the order of FIELDS. Named reads: a read
 * by property name from the table costs more per message than the rest of the first pass.
 */
function readFields(command: CommandSet, values: unknown[]): void {
  values[0] = command.affectedSopClassUid;
  values[1] = command.requestedSopClassUid;
  values[2] = command.commandField;
  values[3] = command.messageId;
  values[4] = command.messageIdBeingRespondedTo;
  values[5] = command.moveDestination;
  values[6] = command.priority;
  values[7] = command.commandDataSetType;
  values[8] = command.status;
  values[9] = command.offendingElement;
  values[10] = command.errorComment;
  values[11] = command.errorId;
  values[12] = command.affectedSopInstanceUid;
  values[13] = command.requestedSopInstanceUid;
  values[14] = command.eventTypeId;
  values[15] = command.attributeIdentifierList;
  values[16] = command.actionTypeId;
  values[17] = command.numberOfRemainingSuboperations;
  values[18] = command.numberOfCompletedSuboperations;
  values[19] = command.numberOfFailedSuboperations;
  values[20] = command.numberOfWarningSuboperations;
  values[21] = command.moveOriginatorApplicationEntityTitle;
  values[22] = command.moveOriginatorMessageId;
}

/**
 * Encodes a command set as `encodeCommandSet` does, into the shared codec's memory: the view
 * returned is valid until the next call on the shared codec (copy it before anything else
 * encodes or decodes).
 */
export function encodeCommandSetView(command: CommandSet): Uint8Array {
  const codec = sharedCodecInstance();
  // Each field is read once (into `values`), checked and sized, then written as an entry.
  const values = ENCODE_VALUES;
  readFields(command, values);
  let length = 0;
  let count = 0;
  try {
    for (let i = 0; i < FIELDS.length; i++) {
      const value = values[i];
      if (value === undefined) continue;
      const entry = FIELDS[i];
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
    const { view, u8 } = memoryViews(codec);
    let p = ptr;
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
        for (let j = 0; j < s.length; j++) {
          const c = s.charCodeAt(j);
          if (c > 0xff) throw new CommandSetError("invalid-value", fieldName(entry.element));
          u8[p + j] = c;
        }
        p += s.length;
      }
    }
  } catch (e) {
    // A value that failed its check leaves the others unwritten: none is kept past the call.
    values.fill(undefined);
    throw e;
  }
  const total = codec.fn.cmd_encode(count, length);
  if (total < 0) throw codecError(codec);
  const at = codec.fn.cmd_output();
  return memoryViews(codec).u8.subarray(at, at + total);
}

/** A command set string from the codec's memory: ISO 8859-1, one character per byte. */
function latin1(u8: Uint8Array, at: number, length: number): string {
  if (length > SHORT_STRING) return decodeLatin1(u8.subarray(at, at + length));
  // Gathered into a plain array of the string's length: spreading it into fromCharCode costs
  // less than spreading a typed array view (what decodeLatin1 does), and the array is kept.
  const codes = CHAR_CODES[length] ??= Array.from({ length }, () => 0);
  for (let i = 0; i < length; i++) codes[i] = u8[at + i];
  return String.fromCharCode.apply(null, codes);
}

/**
 * Longest value of a string VR of group 0000 (UI and LO, 64 bytes): the encoder refuses longer
 * ones, the decoder takes them (through decodeLatin1).
 */
const SHORT_STRING = 64;

/** For each length up to SHORT_STRING, an array to gather character codes into. */
const CHAR_CODES: number[][] = [];

/** Sets the string field of `element` (UI, AE, LO) on a command being decoded. */
function setString(command: CommandSet, element: number, value: string): void {
  switch (element) {
    case 0x0002:
      command.affectedSopClassUid = value;
      break;
    case 0x0003:
      command.requestedSopClassUid = value;
      break;
    case 0x0600:
      command.moveDestination = value;
      break;
    case 0x0902:
      command.errorComment = value;
      break;
    case 0x1000:
      command.affectedSopInstanceUid = value;
      break;
    case 0x1001:
      command.requestedSopInstanceUid = value;
      break;
    case 0x1030:
      command.moveOriginatorApplicationEntityTitle = value;
      break;
  }
}

/** Sets the US field of `element` on a command being decoded. */
function setNumber(command: CommandSet, element: number, value: number): void {
  switch (element) {
    case 0x0100:
      command.commandField = value;
      break;
    case 0x0110:
      command.messageId = value;
      break;
    case 0x0120:
      command.messageIdBeingRespondedTo = value;
      break;
    case 0x0700:
      command.priority = value;
      break;
    case 0x0800:
      command.commandDataSetType = value;
      break;
    case 0x0900:
      command.status = value;
      break;
    case 0x0903:
      command.errorId = value;
      break;
    case 0x1002:
      command.eventTypeId = value;
      break;
    case 0x1008:
      command.actionTypeId = value;
      break;
    case 0x1020:
      command.numberOfRemainingSuboperations = value;
      break;
    case 0x1021:
      command.numberOfCompletedSuboperations = value;
      break;
    case 0x1022:
      command.numberOfFailedSuboperations = value;
      break;
    case 0x1023:
      command.numberOfWarningSuboperations = value;
      break;
    case 0x1031:
      command.moveOriginatorMessageId = value;
      break;
  }
}

/** Sets the AT field of `element` on a command being decoded. */
function setTags(command: CommandSet, element: number, value: number[]): void {
  if (element === 0x0901) command.offendingElement = value;
  else if (element === 0x1005) command.attributeIdentifierList = value;
}

/** Decodes a command set as `decodeCommandSet` does. */
export function decodeCommandSet(bytes: Uint8Array): CommandSet {
  const codec = sharedCodecInstance();
  const ptr = codec.fn.cmd_input(bytes.length);
  memoryViews(codec).u8.set(bytes, ptr);
  const count = codec.fn.cmd_decode(bytes.length);
  if (count < 0) throw codecError(codec);
  const { u8, u32 } = memoryViews(codec);
  // Records are 4 u32 each at an address the codec's allocator aligns to 16 bytes.
  let r = codec.fn.cmd_records() >>> 2;
  const end = r + count * 4;
  // Fields are added in the order they come: ascending elements, in a well-formed command set.
  const command = {} as CommandSet;
  for (; r < end; r += 4) {
    const element = u32[r];
    const kind = u32[r + 1];
    // Command set strings are in the default repertoire (PS3.5 §6.1).
    if (kind === K_STRING) setString(command, element, latin1(u8, ptr + u32[r + 2], u32[r + 3]));
    else if (kind === K_NUMBER) setNumber(command, element, u32[r + 2]);
    else if (kind === K_TAGS) {
      // The tags follow as K_TAG records.
      const n = u32[r + 2];
      const tags: number[] = [];
      for (let j = 1; j <= n; j++) {
        if (u32[r + 4 * j + 1] === K_TAG) tags.push(u32[r + 4 * j + 2]);
      }
      setTags(command, element, tags);
      r += 4 * n;
    }
  }
  return command;
}
