// The DIMSE command set codec (PS3.7 §6.3, §9.3, §10.3, Annex E): group 0000 in implicit VR
// little endian (PS3.5 §7.1.3), (0000,0000) Command Group Length first, ascending tags.
//
// Decode: the host writes the command set into the input region (`cmd_input`), calls
// `cmd_decode`, and reads a table of records (`cmd_records`): 4 little-endian u32 each —
// element, kind, a, b. Strings: a/b = offset/length in the input, padding stripped. Numbers:
// a = value. Tag lists: one K_TAGS record (a = count) followed by `count` K_TAG records
// (a = group << 16 | element). Unknown elements of group 0000 are skipped.
// Encode: the host writes entries into the input region — u32 element, u32 value length, then
// the value (string bytes; a u32 for US/UL; one u32 per tag for AT) — in ascending element
// order, calls `cmd_encode`, and copies the command set from `cmd_output`.
//
// On failure both return -1 and leave an error code and the element (group << 16 | element) in
// `cmd_error_code`/`cmd_error_element`. Nothing is read before its length is checked.

// Record kinds; src/dimse/command_codec.ts mirrors these numbers.
const K_STRING: u32 = 1;
const K_NUMBER: u32 = 2;
const K_TAGS: u32 = 3;
const K_TAG: u32 = 4;

// Error codes; src/dimse/command_codec.ts mirrors these numbers.
const E_OVERRUN: i32 = 1; // length-overrun
const E_OUTSIDE_GROUP: i32 = 2; // element-outside-group
const E_GROUP_LENGTH: i32 = 3; // invalid-group-length
const E_MISSING_COMMAND_FIELD: i32 = 4; // missing-command-field
const E_MISSING_DATA_SET_TYPE: i32 = 5; // missing-command-data-set-type
const E_VALUE_LENGTH: i32 = 6; // invalid-value-length
const E_VALUE: i32 = 7; // invalid-value
const E_UNKNOWN_ELEMENT: i32 = 8; // unknown-element
const E_ORDER: i32 = 9; // elements-not-ascending
const E_TOO_LONG: i32 = 10; // value-too-long
const E_BAD_INPUT: i32 = 11; // invalid-input

// Value representations of group 0000 (PS3.7 Annex E).
const VR_UNKNOWN: i32 = 0;
const VR_UI: i32 = 1;
const VR_AE: i32 = 2;
const VR_LO: i32 = 3;
const VR_US: i32 = 4;
const VR_UL: i32 = 5;
const VR_AT: i32 = 6;

const RECORD_SIZE: usize = 16;

let inPtr: usize = 0;
let inCap: usize = 0;
let recPtr: usize = 0;
let recCap: usize = 0;
let recCount: u32 = 0;
let outPtr: usize = 0;
let outCap: usize = 0;
let errCode: i32 = 0;
let errElement: u32 = 0;

function capacity(cap: usize, need: usize): usize {
  let c: usize = cap < 256 ? 256 : cap;
  while (c < need) c = c > 0x3fffffff ? need : c << 1;
  return c;
}

function fail(code: i32, element: u32): i32 {
  errCode = code;
  errElement = element;
  return -1;
}

/** The VR of a group 0000 element, or VR_UNKNOWN for retired and unknown ones. */
function vrOf(element: u32): i32 {
  switch (element) {
    case 0x0000:
      return VR_UL;
    case 0x0002:
    case 0x0003:
    case 0x1000:
    case 0x1001:
      return VR_UI;
    case 0x0600:
    case 0x1030:
      return VR_AE;
    case 0x0902:
      return VR_LO;
    case 0x0100:
    case 0x0110:
    case 0x0120:
    case 0x0700:
    case 0x0800:
    case 0x0900:
    case 0x0903:
    case 0x1002:
    case 0x1008:
    case 0x1020:
    case 0x1021:
    case 0x1022:
    case 0x1023:
    case 0x1031:
      return VR_US;
    case 0x0901:
    case 0x1005:
      return VR_AT;
    default:
      return VR_UNKNOWN;
  }
}

/** Maximum value length of a string VR (PS3.5 Table 6.2-1). */
function maxLength(vr: i32): u32 {
  if (vr == VR_AE) return 16;
  return 64;
}

function addRecord(element: u32, kind: u32, a: u32, b: u32): void {
  const need = (<usize> recCount + 1) * RECORD_SIZE;
  if (need > recCap) {
    const cap = capacity(recCap, need);
    recPtr = recPtr == 0 ? heap.alloc(cap) : heap.realloc(recPtr, cap);
    recCap = cap;
  }
  const r = recPtr + <usize> recCount * RECORD_SIZE;
  store<u32>(r, element);
  store<u32>(r, kind, 4);
  store<u32>(r, a, 8);
  store<u32>(r, b, 12);
  recCount++;
}

function u8in(p: u32): u32 {
  return <u32> load<u8>(inPtr + <usize> p);
}

function u16in(p: u32): u32 {
  return <u32> load<u16>(inPtr + <usize> p);
}

function u32in(p: u32): u32 {
  return load<u32>(inPtr + <usize> p);
}

/** Makes room for an input of `length` bytes and returns where to write it. */
export function cmd_input(length: u32): usize {
  if (<usize> length > inCap) {
    const cap = capacity(inCap, <usize> length);
    inPtr = inPtr == 0 ? heap.alloc(cap) : heap.realloc(inPtr, cap);
    inCap = cap;
  }
  return inPtr;
}

/** Where the records of the last decode are. */
export function cmd_records(): usize {
  return recPtr;
}

/** Where the command set of the last encode is. */
export function cmd_output(): usize {
  return outPtr;
}

/** Error code of the last failed call. */
export function cmd_error_code(): i32 {
  return errCode;
}

/** Element (group << 16 | element) of the last error. */
export function cmd_error_element(): u32 {
  return errElement;
}

// ---- decoding ----

/** Adds a string record with padding stripped: NULs and spaces at the end, spaces at the start. */
function addString(element: u32, vr: i32, off: u32, len: u32): void {
  let start = off;
  let end = off + len;
  // PS3.5 §6.2: UI is padded with NUL, AE/LO with spaces; leading spaces of AE and LO are not
  // significant either.
  while (end > start && (u8in(end - 1) == 0 || u8in(end - 1) == 0x20)) end--;
  if (vr != VR_UI) {
    while (start < end && u8in(start) == 0x20) start++;
  }
  addRecord(element, K_STRING, start, end - start);
}

/** Decodes the command set of `length` bytes in the input; returns the record count or -1. */
export function cmd_decode(length: u32): i32 {
  recCount = 0;
  errCode = 0;
  if (<usize> length > inCap) return fail(E_BAD_INPUT, 0);
  // PS3.7 §6.3.1: (0000,0000) UL Command Group Length comes first and counts the bytes after it.
  if (length < 12) return fail(E_GROUP_LENGTH, 0);
  if (u16in(0) != 0 || u16in(2) != 0 || u32in(4) != 4) return fail(E_GROUP_LENGTH, 0);
  if (u32in(8) != length - 12) return fail(E_GROUP_LENGTH, 0);
  let haveCommandField = false;
  let haveDataSetType = false;
  let p: u32 = 12;
  while (p < length) {
    if (length - p < 8) {
      const tag: u32 = length - p >= 4 ? (u16in(p) << 16) | u16in(p + 2) : 0;
      return fail(E_OVERRUN, tag);
    }
    const group = u16in(p);
    const element = u16in(p + 2);
    const l = u32in(p + 4);
    const v = p + 8;
    if (group != 0) return fail(E_OUTSIDE_GROUP, (group << 16) | element);
    if (l > length - v) return fail(E_OVERRUN, element);
    const vr = vrOf(element);
    if (vr == VR_US) {
      if (l == 2) {
        addRecord(element, K_NUMBER, u16in(v), 0);
        if (element == 0x0100) haveCommandField = true;
        if (element == 0x0800) haveDataSetType = true;
      } else if (l != 0) {
        return fail(E_VALUE_LENGTH, element);
      }
    } else if (vr == VR_UL) {
      // A second group length is malformed.
      return fail(E_GROUP_LENGTH, element);
    } else if (vr == VR_AT) {
      if ((l & 3) != 0) return fail(E_VALUE_LENGTH, element);
      const n = l >> 2;
      addRecord(element, K_TAGS, n, 0);
      for (let i: u32 = 0; i < n; i++) {
        const q = v + (i << 2);
        addRecord(element, K_TAG, (u16in(q) << 16) | u16in(q + 2), 0);
      }
    } else if (vr != VR_UNKNOWN) {
      addString(element, vr, v, l);
    }
    // Unknown and retired elements of group 0000 are skipped.
    p = v + l;
  }
  if (!haveCommandField) return fail(E_MISSING_COMMAND_FIELD, 0x0100);
  if (!haveDataSetType) return fail(E_MISSING_DATA_SET_TYPE, 0x0800);
  return <i32> recCount;
}

// ---- encoding ----

function padded(len: u32): u32 {
  return (len + 1) & ~1;
}

/** Encodes `count` entries (`length` bytes) of the input; returns the command set length or -1. */
export function cmd_encode(count: u32, length: u32): i32 {
  errCode = 0;
  if (<usize> length > inCap) return fail(E_BAD_INPUT, 0);
  // First pass: check every entry and size the output.
  let total: u32 = 12;
  let p: u32 = 0;
  let previous: i32 = 0;
  let haveCommandField = false;
  let haveDataSetType = false;
  for (let i: u32 = 0; i < count; i++) {
    if (length - p < 8) return fail(E_BAD_INPUT, 0);
    const element = u32in(p);
    const l = u32in(p + 4);
    const v = p + 8;
    if (l > length - v) return fail(E_BAD_INPUT, element);
    if (element > 0xffff) return fail(E_OUTSIDE_GROUP, element);
    if (<i32> element <= previous) return fail(E_ORDER, element);
    previous = <i32> element;
    const vr = vrOf(element);
    if (vr == VR_UNKNOWN || vr == VR_UL) return fail(E_UNKNOWN_ELEMENT, element);
    if (vr == VR_US) {
      if (l != 4) return fail(E_BAD_INPUT, element);
      if (u32in(v) > 0xffff) return fail(E_VALUE, element);
      if (element == 0x0100) haveCommandField = true;
      if (element == 0x0800) haveDataSetType = true;
      total += 10;
    } else if (vr == VR_AT) {
      if ((l & 3) != 0) return fail(E_BAD_INPUT, element);
      total += 8 + l;
    } else {
      if (l > maxLength(vr)) return fail(E_TOO_LONG, element);
      total += 8 + padded(l);
    }
    p = v + l;
  }
  if (!haveCommandField) return fail(E_MISSING_COMMAND_FIELD, 0x0100);
  if (!haveDataSetType) return fail(E_MISSING_DATA_SET_TYPE, 0x0800);
  if (<usize> total > outCap) {
    const cap = capacity(outCap, <usize> total);
    outPtr = outPtr == 0 ? heap.alloc(cap) : heap.realloc(outPtr, cap);
    outCap = cap;
  }
  // Second pass: write. Implicit VR little endian: tag, u32 length, value (PS3.5 §7.1.3).
  let o = outPtr;
  store<u32>(o, 0);
  store<u32>(o, 4, 4);
  store<u32>(o, total - 12, 8);
  o += 12;
  p = 0;
  for (let i: u32 = 0; i < count; i++) {
    const element = u32in(p);
    const l = u32in(p + 4);
    const v = p + 8;
    const vr = vrOf(element);
    store<u16>(o, 0);
    store<u16>(o, <u16> element, 2);
    if (vr == VR_US) {
      store<u32>(o, 2, 4);
      store<u16>(o, <u16> u32in(v), 8);
      o += 10;
    } else if (vr == VR_AT) {
      store<u32>(o, l, 4);
      o += 8;
      for (let q: u32 = 0; q < l; q += 4) {
        const tag = u32in(v + q);
        store<u16>(o, <u16> (tag >>> 16));
        store<u16>(o, <u16> tag, 2);
        o += 4;
      }
    } else {
      const pl = padded(l);
      store<u32>(o, pl, 4);
      memory.copy(o + 8, inPtr + <usize> v, <usize> l);
      // PS3.5 §6.2: UI pads with NUL, the other string VRs with a space.
      if (pl != l) store<u8>(o + 8 + <usize> l, vr == VR_UI ? 0 : 0x20);
      o += 8 + <usize> pl;
    }
    p = v + l;
  }
  return <i32> total;
}
