// The PDU codec of the DICOM Upper Layer (PS3.8 §9.3, PS3.7 Annex D). The only code that knows the
// byte layout of PDUs, items and sub-items.
//
// Decode: the host writes a whole PDU into the input region (`pdu_input`), calls `pdu_decode`,
// and reads a table of fixed-size records (`pdu_records`): 8 little-endian u32 each —
// kind, off, len, a, b, c, d, reserved — where off/len locate a value in the input.
// Encode: the host writes records in the same form and a blob of values after them
// (`pdu_encode_prepare`), calls `pdu_encode`, and copies the PDU from `pdu_output`; off/len (and
// c/d for the second value of a record) then locate values in the blob.
//
// On failure both return -1 and leave an error code, the item and part of the field, and the
// A-ABORT reason (PS3.8 Table 9-26) in `pdu_error_*`. Nothing is read before its length is checked.

// Record kinds; the host side (src/ul/codec.ts) mirrors these numbers.
const K_PDU: u32 = 1; // a = PDU type; RQ/AC: b = protocol version; RJ: b,c,d = result, source, reason; A-ABORT: b,c = source, reason
const K_CALLED_AE: u32 = 2;
const K_CALLING_AE: u32 = 3;
const K_APPLICATION_CONTEXT: u32 = 4;
const K_PC_RQ: u32 = 5; // a = presentation context id
const K_PC_AC: u32 = 6; // a = presentation context id, b = result/reason
const K_ABSTRACT_SYNTAX: u32 = 7;
const K_TRANSFER_SYNTAX: u32 = 8;
const K_USER_INFORMATION: u32 = 9;
const K_MAXIMUM_LENGTH: u32 = 10; // a = maximum length
const K_IMPLEMENTATION_CLASS_UID: u32 = 11;
const K_ASYNC_WINDOW: u32 = 12; // a = invoked, b = performed
const K_ROLE_SELECTION: u32 = 13; // a = SCU role, b = SCP role
const K_IMPLEMENTATION_VERSION_NAME: u32 = 14;
const K_EXTENDED_NEGOTIATION: u32 = 15; // c/d = service-class-application-information
const K_COMMON_EXTENDED_NEGOTIATION: u32 = 16; // c/d = service class UID
const K_RELATED_GENERAL_SOP_CLASS: u32 = 17;
const K_USER_IDENTITY_RQ: u32 = 18; // a = type, b = positive response requested, c/d = secondary field
const K_USER_IDENTITY_AC: u32 = 19;
const K_UNKNOWN_USER_INFORMATION: u32 = 20; // a = sub-item type
const K_PDV: u32 = 21; // a = presentation context id, b = message control header

// Error codes.
const E_PDU_TYPE: i32 = 1; // pdu-type-unrecognized
const E_OVERRUN: i32 = 2; // length-overrun
const E_MISMATCH: i32 = 3; // length-mismatch
const E_TOO_SHORT: i32 = 4; // item-too-short
const E_INVALID_LENGTH: i32 = 5; // invalid-length
const E_UNRECOGNIZED: i32 = 6; // item-type-unrecognized
const E_UNEXPECTED: i32 = 7; // unexpected-item
const E_MISSING: i32 = 8; // missing-item
const E_INVALID_VALUE: i32 = 9; // invalid-value
const E_TOO_LONG: i32 = 10; // value-too-long
const E_BAD_RECORD: i32 = 11; // invalid-record

// Items (the first part of a field name); 1–7 are the PDUs by type.
const F_PDU: i32 = 0;
const F_APPLICATION_CONTEXT: i32 = 8;
const F_PC_RQ: i32 = 9;
const F_PC_AC: i32 = 10;
const F_ABSTRACT_SYNTAX: i32 = 11;
const F_TRANSFER_SYNTAX: i32 = 12;
const F_USER_INFORMATION: i32 = 13;
const F_MAXIMUM_LENGTH: i32 = 14;
const F_IMPLEMENTATION_CLASS_UID: i32 = 15;
const F_ASYNC_WINDOW: i32 = 16;
const F_ROLE_SELECTION: i32 = 17;
const F_IMPLEMENTATION_VERSION_NAME: i32 = 18;
const F_EXTENDED_NEGOTIATION: i32 = 19;
const F_COMMON_EXTENDED_NEGOTIATION: i32 = 20;
const F_RELATED_GENERAL_SOP_CLASS: i32 = 21;
const F_USER_IDENTITY_RQ: i32 = 22;
const F_USER_IDENTITY_AC: i32 = 23;
const F_PDV: i32 = 24;
const F_UNKNOWN_ITEM: i32 = 25;
const F_UNKNOWN_USER_INFORMATION: i32 = 26;
const F_CALLED_AE: i32 = 27;
const F_CALLING_AE: i32 = 28;

// Parts (the second part of a field name).
const P_NONE: i32 = 0;
const P_LENGTH: i32 = 1; // .length
const P_TYPE: i32 = 2; // .type
const P_VARIABLE_ITEMS: i32 = 3; // .variable-items
const P_PC_ID: i32 = 4; // .presentation-context-id
const P_RESULT: i32 = 5; // .result
const P_SUB_ITEMS: i32 = 6; // .sub-items
const P_UID_LENGTH: i32 = 7; // .uid-length
const P_SERVICE_CLASS_UID_LENGTH: i32 = 8; // .service-class-uid-length
const P_RELATED_LENGTH: i32 = 9; // .related-general-sop-class-identification-length
const P_PRIMARY_LENGTH: i32 = 10; // .primary-field-length
const P_SECONDARY_LENGTH: i32 = 11; // .secondary-field-length
const P_SERVER_RESPONSE_LENGTH: i32 = 12; // .server-response-length
const P_ITEM_TYPE: i32 = 13; // .item-type
const P_HEADER: i32 = 14; // .header
const P_VALUE: i32 = 15; // .value

// A-ABORT reasons, PS3.8 Table 9-26.
const R_UNRECOGNIZED_PDU: i32 = 1;
const R_UNRECOGNIZED_PARAMETER: i32 = 4;
const R_UNEXPECTED_PARAMETER: i32 = 5;
const R_INVALID_VALUE: i32 = 6;

const RECORD_SIZE: usize = 32;

let inPtr: usize = 0;
let inCap: usize = 0;
let recPtr: usize = 0;
let recCap: usize = 0;
let recCount: u32 = 0;
let encPtr: usize = 0;
let encCap: usize = 0;
let outPtr: usize = 0;
let outCap: usize = 0;

let errCode: i32 = 0;
let errItem: i32 = 0;
let errPart: i32 = 0;
let errReason: i32 = 0;

function capacityFor(cap: usize, need: usize): usize {
  let c: usize = cap < 256 ? 256 : cap;
  while (c < need) c = c > 0x3fffffff ? need : c << 1;
  return c;
}

function fail(code: i32, item: i32, part: i32, reason: i32): i32 {
  errCode = code;
  errItem = item;
  errPart = part;
  errReason = reason;
  return -1;
}

// ---- decoding ----

function u8at(p: u32): u32 {
  return <u32> load<u8>(inPtr + <usize> p);
}

function u16at(p: u32): u32 {
  return (u8at(p) << 8) | u8at(p + 1);
}

function u32at(p: u32): u32 {
  return (u8at(p) << 24) | (u8at(p + 1) << 16) | (u8at(p + 2) << 8) | u8at(p + 3);
}

function addRecord(kind: u32, off: u32, len: u32, a: u32, b: u32, c: u32, d: u32): void {
  const need = (<usize> recCount + 1) * RECORD_SIZE;
  if (need > recCap) {
    const cap = capacityFor(recCap, need);
    recPtr = recPtr == 0 ? heap.alloc(cap) : heap.realloc(recPtr, cap);
    recCap = cap;
  }
  const r = recPtr + <usize> recCount * RECORD_SIZE;
  store<u32>(r, kind);
  store<u32>(r, off, 4);
  store<u32>(r, len, 8);
  store<u32>(r, a, 12);
  store<u32>(r, b, 16);
  store<u32>(r, c, 20);
  store<u32>(r, d, 24);
  store<u32>(r, 0, 28);
  recCount++;
}

/** Length of a UID value without trailing NULs (PS3.8 §9.3.2.2: UIDs are sent unpadded). */
function uidLength(off: u32, len: u32): u32 {
  while (len > 0 && u8at(off + len - 1) == 0) len--;
  return len;
}

function addUid(kind: u32, off: u32, len: u32): void {
  addRecord(kind, off, uidLength(off, len), 0, 0, 0, 0);
}

/** AE titles are 16 bytes space-padded; leading and trailing spaces are not significant (PS3.5 §6.2). */
function addAeTitle(kind: u32, off: u32): void {
  let start = off;
  let end = off + 16;
  while (end > start && (u8at(end - 1) == 0x20 || u8at(end - 1) == 0)) end--;
  while (start < end && u8at(start) == 0x20) start++;
  addRecord(kind, start, end - start, 0, 0, 0, 0);
}

function itemField(type: u32): i32 {
  switch (type) {
    case 0x10:
      return F_APPLICATION_CONTEXT;
    case 0x20:
      return F_PC_RQ;
    case 0x21:
      return F_PC_AC;
    case 0x30:
      return F_ABSTRACT_SYNTAX;
    case 0x40:
      return F_TRANSFER_SYNTAX;
    case 0x50:
      return F_USER_INFORMATION;
    default:
      return F_UNKNOWN_ITEM;
  }
}

function userInformationField(type: u32): i32 {
  switch (type) {
    case 0x51:
      return F_MAXIMUM_LENGTH;
    case 0x52:
      return F_IMPLEMENTATION_CLASS_UID;
    case 0x53:
      return F_ASYNC_WINDOW;
    case 0x54:
      return F_ROLE_SELECTION;
    case 0x55:
      return F_IMPLEMENTATION_VERSION_NAME;
    case 0x56:
      return F_EXTENDED_NEGOTIATION;
    case 0x57:
      return F_COMMON_EXTENDED_NEGOTIATION;
    case 0x58:
      return F_USER_IDENTITY_RQ;
    case 0x59:
      return F_USER_IDENTITY_AC;
    default:
      return F_UNKNOWN_USER_INFORMATION;
  }
}

// PS3.8 §9.3.2.2 (Table 9-13, 9-14, 9-15).
function decodePcRq(b: u32, e: u32): i32 {
  if (e - b < 4) return fail(E_TOO_SHORT, F_PC_RQ, P_NONE, R_INVALID_VALUE);
  const id = u8at(b);
  if ((id & 1) == 0) return fail(E_INVALID_VALUE, F_PC_RQ, P_PC_ID, R_INVALID_VALUE);
  addRecord(K_PC_RQ, 0, 0, id, 0, 0, 0);
  let haveAbstract = false;
  let transferCount = 0;
  let p = b + 4;
  while (p < e) {
    if (e - p < 4) return fail(E_TOO_SHORT, F_PC_RQ, P_SUB_ITEMS, R_INVALID_VALUE);
    const t = u8at(p);
    const l = u16at(p + 2);
    const sb = p + 4;
    if (l > e - sb) return fail(E_OVERRUN, itemField(t), P_LENGTH, R_INVALID_VALUE);
    if (t == 0x30) {
      if (haveAbstract) {
        return fail(E_UNEXPECTED, F_ABSTRACT_SYNTAX, P_NONE, R_UNEXPECTED_PARAMETER);
      }
      haveAbstract = true;
      addUid(K_ABSTRACT_SYNTAX, sb, l);
    } else if (t == 0x40) {
      transferCount++;
      addUid(K_TRANSFER_SYNTAX, sb, l);
    } else {
      return fail(E_UNRECOGNIZED, F_PC_RQ, P_ITEM_TYPE, R_UNRECOGNIZED_PARAMETER);
    }
    p = sb + l;
  }
  if (!haveAbstract) return fail(E_MISSING, F_ABSTRACT_SYNTAX, P_NONE, R_INVALID_VALUE);
  if (transferCount == 0) return fail(E_MISSING, F_TRANSFER_SYNTAX, P_NONE, R_INVALID_VALUE);
  return 0;
}

// PS3.8 §9.3.3.2 (Table 9-18, 9-19).
function decodePcAc(b: u32, e: u32): i32 {
  if (e - b < 4) return fail(E_TOO_SHORT, F_PC_AC, P_NONE, R_INVALID_VALUE);
  const id = u8at(b);
  if ((id & 1) == 0) return fail(E_INVALID_VALUE, F_PC_AC, P_PC_ID, R_INVALID_VALUE);
  const result = u8at(b + 2);
  if (result > 4) return fail(E_INVALID_VALUE, F_PC_AC, P_RESULT, R_INVALID_VALUE);
  addRecord(K_PC_AC, 0, 0, id, result, 0, 0);
  let haveTransfer = false;
  let p = b + 4;
  while (p < e) {
    if (e - p < 4) return fail(E_TOO_SHORT, F_PC_AC, P_SUB_ITEMS, R_INVALID_VALUE);
    const t = u8at(p);
    const l = u16at(p + 2);
    const sb = p + 4;
    if (l > e - sb) return fail(E_OVERRUN, itemField(t), P_LENGTH, R_INVALID_VALUE);
    if (t == 0x40) {
      if (haveTransfer) {
        return fail(E_UNEXPECTED, F_TRANSFER_SYNTAX, P_NONE, R_UNEXPECTED_PARAMETER);
      }
      haveTransfer = true;
      addUid(K_TRANSFER_SYNTAX, sb, l);
    } else if (t == 0x30) {
      return fail(E_UNEXPECTED, F_ABSTRACT_SYNTAX, P_NONE, R_UNEXPECTED_PARAMETER);
    } else {
      return fail(E_UNRECOGNIZED, F_PC_AC, P_ITEM_TYPE, R_UNRECOGNIZED_PARAMETER);
    }
    p = sb + l;
  }
  // The transfer syntax of a rejected context is not significant and may be absent.
  if (!haveTransfer && result == 0) {
    return fail(E_MISSING, F_TRANSFER_SYNTAX, P_NONE, R_INVALID_VALUE);
  }
  return 0;
}

// PS3.7 Annex D.3.3.6, Table D.3-12 and D.3-13.
function decodeCommonExtendedNegotiation(sb: u32, se: u32): i32 {
  const f = F_COMMON_EXTENDED_NEGOTIATION;
  if (se - sb < 2) return fail(E_TOO_SHORT, f, P_NONE, R_INVALID_VALUE);
  const sopLength = u16at(sb);
  if (sopLength > se - sb - 2) return fail(E_OVERRUN, f, P_UID_LENGTH, R_INVALID_VALUE);
  const sop = sb + 2;
  const q = sop + sopLength;
  if (se - q < 2) return fail(E_TOO_SHORT, f, P_NONE, R_INVALID_VALUE);
  const serviceLength = u16at(q);
  if (serviceLength > se - q - 2) {
    return fail(E_OVERRUN, f, P_SERVICE_CLASS_UID_LENGTH, R_INVALID_VALUE);
  }
  const service = q + 2;
  const r = service + serviceLength;
  if (se - r < 2) return fail(E_TOO_SHORT, f, P_NONE, R_INVALID_VALUE);
  const relatedLength = u16at(r);
  if (relatedLength != se - r - 2) return fail(E_MISMATCH, f, P_RELATED_LENGTH, R_INVALID_VALUE);
  addRecord(
    K_COMMON_EXTENDED_NEGOTIATION,
    sop,
    uidLength(sop, sopLength),
    0,
    0,
    service,
    uidLength(service, serviceLength),
  );
  let p = r + 2;
  while (p < se) {
    if (se - p < 2) return fail(E_TOO_SHORT, F_RELATED_GENERAL_SOP_CLASS, P_NONE, R_INVALID_VALUE);
    const l = u16at(p);
    if (l > se - p - 2) {
      return fail(E_OVERRUN, F_RELATED_GENERAL_SOP_CLASS, P_UID_LENGTH, R_INVALID_VALUE);
    }
    addUid(K_RELATED_GENERAL_SOP_CLASS, p + 2, l);
    p += 2 + l;
  }
  return 0;
}

// PS3.8 §9.3.2.3, PS3.7 Annex D.3.3.
function decodeUserInformation(b: u32, e: u32): i32 {
  addRecord(K_USER_INFORMATION, 0, 0, 0, 0, 0, 0);
  let seen: u32 = 0;
  let p = b;
  while (p < e) {
    if (e - p < 4) return fail(E_TOO_SHORT, F_USER_INFORMATION, P_SUB_ITEMS, R_INVALID_VALUE);
    const t = u8at(p);
    const l = u16at(p + 2);
    const sb = p + 4;
    const f = userInformationField(t);
    if (l > e - sb) return fail(E_OVERRUN, f, P_LENGTH, R_INVALID_VALUE);
    const se = sb + l;
    if (t >= 0x51 && t <= 0x59 && t != 0x54 && t != 0x56 && t != 0x57) {
      const bit: u32 = 1 << (t - 0x50);
      if (seen & bit) return fail(E_UNEXPECTED, f, P_NONE, R_UNEXPECTED_PARAMETER);
      seen |= bit;
    }
    if (t == 0x51) {
      // PS3.8 Annex D.1
      if (l != 4) return fail(E_INVALID_LENGTH, f, P_LENGTH, R_INVALID_VALUE);
      addRecord(K_MAXIMUM_LENGTH, 0, 0, u32at(sb), 0, 0, 0);
    } else if (t == 0x52) {
      addUid(K_IMPLEMENTATION_CLASS_UID, sb, l);
    } else if (t == 0x53) {
      if (l != 4) return fail(E_INVALID_LENGTH, f, P_LENGTH, R_INVALID_VALUE);
      addRecord(K_ASYNC_WINDOW, 0, 0, u16at(sb), u16at(sb + 2), 0, 0);
    } else if (t == 0x54) {
      if (l < 4) return fail(E_TOO_SHORT, f, P_NONE, R_INVALID_VALUE);
      const ul = u16at(sb);
      if (ul + 4 != l) return fail(E_MISMATCH, f, P_UID_LENGTH, R_INVALID_VALUE);
      const u = sb + 2;
      addRecord(
        K_ROLE_SELECTION,
        u,
        uidLength(u, ul),
        u8at(u + ul) != 0 ? 1 : 0,
        u8at(u + ul + 1) != 0 ? 1 : 0,
        0,
        0,
      );
    } else if (t == 0x55) {
      addRecord(K_IMPLEMENTATION_VERSION_NAME, sb, l, 0, 0, 0, 0);
    } else if (t == 0x56) {
      if (l < 2) return fail(E_TOO_SHORT, f, P_NONE, R_INVALID_VALUE);
      const ul = u16at(sb);
      if (ul > l - 2) return fail(E_OVERRUN, f, P_UID_LENGTH, R_INVALID_VALUE);
      const u = sb + 2;
      addRecord(K_EXTENDED_NEGOTIATION, u, uidLength(u, ul), 0, 0, u + ul, l - 2 - ul);
    } else if (t == 0x57) {
      const r = decodeCommonExtendedNegotiation(sb, se);
      if (r < 0) return r;
    } else if (t == 0x58) {
      if (l < 6) return fail(E_TOO_SHORT, f, P_NONE, R_INVALID_VALUE);
      const pl = u16at(sb + 2);
      if (pl > l - 6) return fail(E_OVERRUN, f, P_PRIMARY_LENGTH, R_INVALID_VALUE);
      const q = sb + 4 + pl;
      const sl = u16at(q);
      if (sl != se - q - 2) return fail(E_MISMATCH, f, P_SECONDARY_LENGTH, R_INVALID_VALUE);
      addRecord(K_USER_IDENTITY_RQ, sb + 4, pl, u8at(sb), u8at(sb + 1), q + 2, sl);
    } else if (t == 0x59) {
      if (l < 2) return fail(E_TOO_SHORT, f, P_NONE, R_INVALID_VALUE);
      const rl = u16at(sb);
      if (rl != l - 2) return fail(E_MISMATCH, f, P_SERVER_RESPONSE_LENGTH, R_INVALID_VALUE);
      addRecord(K_USER_IDENTITY_AC, sb + 2, rl, 0, 0, 0, 0);
    } else {
      // Unknown sub-items are kept and skipped (PS3.7 Annex D.3.3).
      addRecord(K_UNKNOWN_USER_INFORMATION, sb, l, t, 0, 0, 0);
    }
    p = se;
  }
  if ((seen & (1 << 1)) == 0) return fail(E_MISSING, F_MAXIMUM_LENGTH, P_NONE, R_INVALID_VALUE);
  return 0;
}

// PS3.8 §9.3.2 (Table 9-11) and §9.3.3 (Table 9-17).
function decodeAssociate(type: u32, end: u32): i32 {
  const pduField = <i32> type;
  if (end < 74) return fail(E_TOO_SHORT, pduField, P_NONE, R_INVALID_VALUE);
  addRecord(K_PDU, 0, 0, type, u16at(6), 0, 0);
  addAeTitle(K_CALLED_AE, 10);
  addAeTitle(K_CALLING_AE, 26);
  const ownPc: u32 = type == 1 ? 0x20 : 0x21;
  let haveApplicationContext = false;
  let haveUserInformation = false;
  let p: u32 = 74;
  while (p < end) {
    if (end - p < 4) return fail(E_TOO_SHORT, pduField, P_VARIABLE_ITEMS, R_INVALID_VALUE);
    const t = u8at(p);
    const l = u16at(p + 2);
    const b = p + 4;
    if (l > end - b) return fail(E_OVERRUN, itemField(t), P_LENGTH, R_INVALID_VALUE);
    const e = b + l;
    if (t == 0x10) {
      if (haveApplicationContext) {
        return fail(E_UNEXPECTED, F_APPLICATION_CONTEXT, P_NONE, R_UNEXPECTED_PARAMETER);
      }
      haveApplicationContext = true;
      const n = uidLength(b, l);
      if (n == 0) return fail(E_INVALID_VALUE, F_APPLICATION_CONTEXT, P_VALUE, R_INVALID_VALUE);
      addRecord(K_APPLICATION_CONTEXT, b, n, 0, 0, 0, 0);
    } else if (t == 0x20 || t == 0x21) {
      if (t != ownPc) return fail(E_UNEXPECTED, itemField(t), P_NONE, R_UNEXPECTED_PARAMETER);
      const r = type == 1 ? decodePcRq(b, e) : decodePcAc(b, e);
      if (r < 0) return r;
    } else if (t == 0x50) {
      if (haveUserInformation) {
        return fail(E_UNEXPECTED, F_USER_INFORMATION, P_NONE, R_UNEXPECTED_PARAMETER);
      }
      haveUserInformation = true;
      const r = decodeUserInformation(b, e);
      if (r < 0) return r;
    }
    // Items of other types are ignored (PS3.8 §9.3.1).
    p = e;
  }
  if (!haveApplicationContext) {
    return fail(E_MISSING, F_APPLICATION_CONTEXT, P_NONE, R_INVALID_VALUE);
  }
  if (!haveUserInformation) return fail(E_MISSING, F_USER_INFORMATION, P_NONE, R_INVALID_VALUE);
  return 0;
}

// PS3.8 §9.3.5 (Table 9-22, 9-23) and Annex E.2.
function decodePData(end: u32): i32 {
  if (end == 6) return fail(E_MISSING, F_PDV, P_NONE, R_INVALID_VALUE);
  addRecord(K_PDU, 0, 0, 4, 0, 0, 0);
  let p: u32 = 6;
  while (p < end) {
    if (end - p < 4) return fail(E_TOO_SHORT, F_PDV, P_HEADER, R_INVALID_VALUE);
    const l = u32at(p);
    if (l < 2) return fail(E_TOO_SHORT, F_PDV, P_LENGTH, R_INVALID_VALUE);
    if (l > end - p - 4) return fail(E_OVERRUN, F_PDV, P_LENGTH, R_INVALID_VALUE);
    addRecord(K_PDV, p + 6, l - 2, u8at(p + 4), u8at(p + 5), 0, 0);
    p += 4 + l;
  }
  return 0;
}

/** Makes room for an input of `length` bytes and returns where to write it. */
export function pdu_input(length: u32): usize {
  if (<usize> length > inCap) {
    const cap = capacityFor(inCap, <usize> length);
    // The old input is not kept, so a fresh region avoids copying it.
    inPtr = inPtr == 0 ? heap.alloc(cap) : heap.realloc(inPtr, cap);
    inCap = cap;
  }
  return inPtr;
}

/** Decodes the whole PDU of `length` bytes in the input; returns the record count or -1. */
export function pdu_decode(length: u32): i32 {
  recCount = 0;
  errCode = 0;
  if (<usize> length > inCap) return fail(E_BAD_RECORD, F_PDU, P_NONE, R_INVALID_VALUE);
  if (length < 6) return fail(E_TOO_SHORT, F_PDU, P_HEADER, R_INVALID_VALUE);
  const type = u8at(0);
  if (type < 1 || type > 7) return fail(E_PDU_TYPE, F_PDU, P_TYPE, R_UNRECOGNIZED_PDU);
  const pduField = <i32> type;
  if (u32at(2) != length - 6) return fail(E_MISMATCH, pduField, P_LENGTH, R_INVALID_VALUE);
  let r: i32 = 0;
  if (type == 1 || type == 2) {
    r = decodeAssociate(type, length);
  } else if (type == 4) {
    r = decodePData(length);
  } else {
    // A-ASSOCIATE-RJ, A-RELEASE-RQ/RP, A-ABORT: four fixed bytes (PS3.8 §9.3.4, §9.3.6–9.3.8).
    if (length != 10) return fail(E_INVALID_LENGTH, pduField, P_LENGTH, R_INVALID_VALUE);
    if (type == 3) addRecord(K_PDU, 0, 0, type, u8at(7), u8at(8), u8at(9));
    else if (type == 7) addRecord(K_PDU, 0, 0, type, u8at(8), u8at(9), 0);
    else addRecord(K_PDU, 0, 0, type, 0, 0, 0);
    return <i32> recCount;
  }
  if (r < 0) return r;
  return <i32> recCount;
}

/** Where the records of the last decode are. */
export function pdu_records(): usize {
  return recPtr;
}

/** Error code of the last failed call. */
export function pdu_error_code(): i32 {
  return errCode;
}

/** Item of the field of the last error. */
export function pdu_error_item(): i32 {
  return errItem;
}

/** Part of the field of the last error. */
export function pdu_error_part(): i32 {
  return errPart;
}

/** A-ABORT reason of the last error (PS3.8 Table 9-26). */
export function pdu_error_reason(): i32 {
  return errReason;
}

// ---- encoding ----

let o: usize = 0; // write position in the output
let blob: usize = 0;

function w8(v: u32): void {
  store<u8>(outPtr + o, <u8> v);
  o++;
}

function w16(v: u32): void {
  store<u8>(outPtr + o, <u8> (v >> 8));
  store<u8>(outPtr + o + 1, <u8> v);
  o += 2;
}

function w32(v: u32): void {
  store<u8>(outPtr + o, <u8> (v >> 24));
  store<u8>(outPtr + o + 1, <u8> (v >> 16));
  store<u8>(outPtr + o + 2, <u8> (v >> 8));
  store<u8>(outPtr + o + 3, <u8> v);
  o += 4;
}

function patch16(at: usize, v: u32): void {
  store<u8>(outPtr + at, <u8> (v >> 8));
  store<u8>(outPtr + at + 1, <u8> v);
}

function wbytes(off: u32, len: u32): void {
  memory.copy(outPtr + o, blob + <usize> off, <usize> len);
  o += <usize> len;
}

function rec(i: u32, field: usize): u32 {
  return load<u32>(encPtr + <usize> i * RECORD_SIZE + field);
}

/** Writes a sub-item whose whole value is the record's first value. */
function simpleItem(type: u32, i: u32, field: i32): i32 {
  const len = rec(i, 8);
  if (len > 0xffff) return fail(E_TOO_LONG, field, P_LENGTH, R_INVALID_VALUE);
  w8(type);
  w8(0);
  w16(len);
  wbytes(rec(i, 4), len);
  return 0;
}

/** Starts an item with a 2-byte length; returns where its length goes. */
function openItem(type: u32): usize {
  w8(type);
  w8(0);
  const at = o;
  w16(0);
  return at;
}

function closeItem(at: usize, field: i32): i32 {
  const len = o - at - 2;
  if (len > 0xffff) return fail(E_TOO_LONG, field, P_LENGTH, R_INVALID_VALUE);
  patch16(at, <u32> len);
  return 0;
}

function writeAeTitle(count: u32, kind: u32, field: i32): i32 {
  let i: u32 = 0;
  while (i < count && rec(i, 0) != kind) i++;
  let len: u32 = 0;
  if (i < count) {
    len = rec(i, 8);
    if (len > 16) return fail(E_TOO_LONG, field, P_NONE, R_INVALID_VALUE);
    wbytes(rec(i, 4), len);
  }
  // PS3.8 Table 9-11: 16 characters, space-padded.
  memory.fill(outPtr + o, 0x20, <usize> (16 - len));
  o += <usize> (16 - len);
  return 0;
}

/** Writes one user information sub-item (PS3.7 Annex D.3.3). */
function writeUserInformationItem(count: u32, i: u32): i32 {
  const kind = rec(i, 0);
  const off = rec(i, 4);
  const len = rec(i, 8);
  const a = rec(i, 12);
  const b = rec(i, 16);
  const c = rec(i, 20);
  const d = rec(i, 24);
  if (kind == K_MAXIMUM_LENGTH) {
    w8(0x51);
    w8(0);
    w16(4);
    w32(a);
  } else if (kind == K_IMPLEMENTATION_CLASS_UID) {
    return simpleItem(0x52, i, F_IMPLEMENTATION_CLASS_UID);
  } else if (kind == K_ASYNC_WINDOW) {
    if (a > 0xffff || b > 0xffff) {
      return fail(E_TOO_LONG, F_ASYNC_WINDOW, P_VALUE, R_INVALID_VALUE);
    }
    w8(0x53);
    w8(0);
    w16(4);
    w16(a);
    w16(b);
  } else if (kind == K_ROLE_SELECTION) {
    if (len > 0xffff - 4) return fail(E_TOO_LONG, F_ROLE_SELECTION, P_LENGTH, R_INVALID_VALUE);
    w8(0x54);
    w8(0);
    w16(len + 4);
    w16(len);
    wbytes(off, len);
    w8(a != 0 ? 1 : 0);
    w8(b != 0 ? 1 : 0);
  } else if (kind == K_IMPLEMENTATION_VERSION_NAME) {
    return simpleItem(0x55, i, F_IMPLEMENTATION_VERSION_NAME);
  } else if (kind == K_EXTENDED_NEGOTIATION) {
    if (len > 0xffff) {
      return fail(E_TOO_LONG, F_EXTENDED_NEGOTIATION, P_UID_LENGTH, R_INVALID_VALUE);
    }
    const at = openItem(0x56);
    w16(len);
    wbytes(off, len);
    wbytes(c, d);
    return closeItem(at, F_EXTENDED_NEGOTIATION);
  } else if (kind == K_COMMON_EXTENDED_NEGOTIATION) {
    const f = F_COMMON_EXTENDED_NEGOTIATION;
    if (len > 0xffff || d > 0xffff) return fail(E_TOO_LONG, f, P_UID_LENGTH, R_INVALID_VALUE);
    const at = openItem(0x57);
    w16(len);
    wbytes(off, len);
    w16(d);
    wbytes(c, d);
    const relatedAt = o;
    w16(0);
    let j = i + 1;
    while (j < count && rec(j, 0) == K_RELATED_GENERAL_SOP_CLASS) {
      const rl = rec(j, 8);
      if (rl > 0xffff) {
        return fail(E_TOO_LONG, F_RELATED_GENERAL_SOP_CLASS, P_UID_LENGTH, R_INVALID_VALUE);
      }
      w16(rl);
      wbytes(rec(j, 4), rl);
      j++;
    }
    const relatedLength = o - relatedAt - 2;
    if (relatedLength > 0xffff) return fail(E_TOO_LONG, f, P_RELATED_LENGTH, R_INVALID_VALUE);
    patch16(relatedAt, <u32> relatedLength);
    return closeItem(at, f);
  } else if (kind == K_USER_IDENTITY_RQ) {
    const f = F_USER_IDENTITY_RQ;
    if (len > 0xffff) return fail(E_TOO_LONG, f, P_PRIMARY_LENGTH, R_INVALID_VALUE);
    if (d > 0xffff) return fail(E_TOO_LONG, f, P_SECONDARY_LENGTH, R_INVALID_VALUE);
    const at = openItem(0x58);
    w8(a);
    w8(b);
    w16(len);
    wbytes(off, len);
    w16(d);
    wbytes(c, d);
    return closeItem(at, f);
  } else if (kind == K_USER_IDENTITY_AC) {
    const f = F_USER_IDENTITY_AC;
    if (len > 0xffff) return fail(E_TOO_LONG, f, P_SERVER_RESPONSE_LENGTH, R_INVALID_VALUE);
    const at = openItem(0x59);
    w16(len);
    wbytes(off, len);
    return closeItem(at, f);
  } else if (kind == K_UNKNOWN_USER_INFORMATION) {
    return simpleItem(a & 0xff, i, F_UNKNOWN_USER_INFORMATION);
  }
  return 0;
}

// Sub-items go out in ascending type order, unknown ones last, as DCMTK sends them.
const USER_INFORMATION_ORDER: StaticArray<u32> = [
  K_MAXIMUM_LENGTH,
  K_IMPLEMENTATION_CLASS_UID,
  K_ASYNC_WINDOW,
  K_ROLE_SELECTION,
  K_IMPLEMENTATION_VERSION_NAME,
  K_EXTENDED_NEGOTIATION,
  K_COMMON_EXTENDED_NEGOTIATION,
  K_USER_IDENTITY_RQ,
  K_USER_IDENTITY_AC,
  K_UNKNOWN_USER_INFORMATION,
];

function writeAssociate(count: u32, type: u32): i32 {
  w16(rec(0, 16));
  w16(0);
  let r = writeAeTitle(count, K_CALLED_AE, F_CALLED_AE);
  if (r < 0) return r;
  r = writeAeTitle(count, K_CALLING_AE, F_CALLING_AE);
  if (r < 0) return r;
  memory.fill(outPtr + o, 0, 32);
  o += 32;
  for (let i: u32 = 1; i < count; i++) {
    const kind = rec(i, 0);
    if (kind == K_APPLICATION_CONTEXT) {
      r = simpleItem(0x10, i, F_APPLICATION_CONTEXT);
    } else if (kind == K_PC_RQ || kind == K_PC_AC) {
      const f = kind == K_PC_RQ ? F_PC_RQ : F_PC_AC;
      if (kind != (type == 1 ? K_PC_RQ : K_PC_AC)) {
        return fail(E_UNEXPECTED, f, P_NONE, R_UNEXPECTED_PARAMETER);
      }
      const id = rec(i, 12);
      if (id > 0xff || (id & 1) == 0) return fail(E_INVALID_VALUE, f, P_PC_ID, R_INVALID_VALUE);
      if (kind == K_PC_AC && rec(i, 16) > 4) {
        return fail(E_INVALID_VALUE, f, P_RESULT, R_INVALID_VALUE);
      }
      const at = openItem(kind == K_PC_RQ ? 0x20 : 0x21);
      w8(id);
      w8(0);
      w8(kind == K_PC_AC ? rec(i, 16) : 0);
      w8(0);
      while (i + 1 < count) {
        const sub = rec(i + 1, 0);
        if (sub == K_ABSTRACT_SYNTAX) r = simpleItem(0x30, i + 1, F_ABSTRACT_SYNTAX);
        else if (sub == K_TRANSFER_SYNTAX) r = simpleItem(0x40, i + 1, F_TRANSFER_SYNTAX);
        else break;
        if (r < 0) return r;
        i++;
      }
      r = closeItem(at, f);
    } else if (kind == K_USER_INFORMATION) {
      const at = openItem(0x50);
      for (let k = 0; k < USER_INFORMATION_ORDER.length; k++) {
        const want = USER_INFORMATION_ORDER[k];
        for (let j: u32 = i + 1; j < count; j++) {
          if (rec(j, 0) != want) continue;
          r = writeUserInformationItem(count, j);
          if (r < 0) return r;
        }
      }
      r = closeItem(at, F_USER_INFORMATION);
    }
    if (r < 0) return r;
  }
  return 0;
}

/**
 * Makes room for `count` records followed by a blob of `blobLength` bytes; returns where the
 * records go (the blob follows them).
 */
export function pdu_encode_prepare(count: u32, blobLength: u32): usize {
  const need = <usize> count * RECORD_SIZE + <usize> blobLength;
  if (need > encCap) {
    const cap = capacityFor(encCap, need);
    encPtr = encPtr == 0 ? heap.alloc(cap) : heap.realloc(encPtr, cap);
    encCap = cap;
  }
  return encPtr;
}

/** Encodes the prepared records into a whole PDU; returns its length or -1. */
export function pdu_encode(count: u32, blobLength: u32): i32 {
  errCode = 0;
  if (count == 0 || <usize> count * RECORD_SIZE + <usize> blobLength > encCap) {
    return fail(E_BAD_RECORD, F_PDU, P_NONE, R_INVALID_VALUE);
  }
  blob = encPtr + <usize> count * RECORD_SIZE;
  // Check every value lies in the blob and bound the output by what the records can write.
  let bound: usize = 80;
  for (let i: u32 = 0; i < count; i++) {
    const off = rec(i, 4);
    const len = rec(i, 8);
    if (off > blobLength || len > blobLength - off) {
      return fail(E_BAD_RECORD, F_PDU, P_NONE, R_INVALID_VALUE);
    }
    bound += 16 + <usize> len;
    const kind = rec(i, 0);
    if (
      kind == K_EXTENDED_NEGOTIATION || kind == K_COMMON_EXTENDED_NEGOTIATION ||
      kind == K_USER_IDENTITY_RQ
    ) {
      const c = rec(i, 20);
      const d = rec(i, 24);
      if (c > blobLength || d > blobLength - c) {
        return fail(E_BAD_RECORD, F_PDU, P_NONE, R_INVALID_VALUE);
      }
      bound += <usize> d;
    }
  }
  if (bound > outCap) {
    const cap = capacityFor(outCap, bound);
    outPtr = outPtr == 0 ? heap.alloc(cap) : heap.realloc(outPtr, cap);
    outCap = cap;
  }
  const first = rec(0, 0);
  const type = rec(0, 12);
  if (first != K_PDU || type < 1 || type > 7) {
    return fail(E_BAD_RECORD, F_PDU, P_TYPE, R_INVALID_VALUE);
  }
  o = 0;
  w8(type);
  w8(0);
  w32(0);
  let r: i32 = 0;
  if (type == 1 || type == 2) {
    r = writeAssociate(count, type);
  } else if (type == 3) {
    w8(0);
    w8(rec(0, 16));
    w8(rec(0, 20));
    w8(rec(0, 24));
  } else if (type == 4) {
    for (let i: u32 = 1; i < count; i++) {
      if (rec(i, 0) != K_PDV) continue;
      const len = rec(i, 8);
      if (len > 0xfffffff0) return fail(E_TOO_LONG, F_PDV, P_LENGTH, R_INVALID_VALUE);
      w32(len + 2);
      w8(rec(i, 12));
      w8(rec(i, 16));
      wbytes(rec(i, 4), len);
    }
  } else if (type == 7) {
    w8(0);
    w8(0);
    w8(rec(0, 16));
    w8(rec(0, 20));
  } else {
    w32(0);
  }
  if (r < 0) return r;
  const total = o - 6;
  store<u8>(outPtr + 2, <u8> (total >> 24));
  store<u8>(outPtr + 3, <u8> (total >> 16));
  store<u8>(outPtr + 4, <u8> (total >> 8));
  store<u8>(outPtr + 5, <u8> total);
  return <i32> o;
}

/** Where the PDU of the last successful encode is. */
export function pdu_output(): usize {
  return outPtr;
}
