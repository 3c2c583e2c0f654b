// PDU stream framing and P-DATA fragmentation (PS3.8 §9.3.1, §9.3.5, Annex E). One codec
// instance serves one reader or one writer: the state lives in module globals.
//
// Reader: bytes from the socket, split anywhere, go into the input region
// (`pdata_reader_input`, then `pdata_reader_commit`); `pdata_reader_run` frames them and leaves
// event records (`pdata_reader_events`): 4 little-endian u32 each — kind, a, b, c:
//   EV_PDU       a = PDU type, b = whole PDU length (header included, in `pdata_reader_other`)
//   EV_P_DATA_TF a = PDU length (variable field)
//   EV_PDV       a = presentation context id, b = message control header, c = fragment length
//   EV_PDV_DATA  a = offset in the input, b = length, c = 1 when it ends the PDV
// A run stops after a whole non-P-DATA PDU so the host can copy it out; it is called again
// while input is left. Headers are gathered byte by byte, so nothing in the input is kept
// between commits. In the PDV data state the host may also take data bytes from its own buffer
// (`pdata_reader_take`) without copying them in here.
//
// Writer: `pdata_writer_write` lays out P-DATA-TF PDUs for a fragment of `length` bytes in the
// output region, writing every header and leaving gaps for the data, and lists the gaps as
// segments (`pdata_writer_segments`: 3 u32 each — memory address, fragment offset, length) for
// the host to copy the fragment into. Complete PDUs are then at `pdata_writer_output` for
// `pdata_writer_output_length` bytes. The PDU being filled stays in place between calls.

// Event kinds; src/ul/pdata.ts mirrors these numbers.
const EV_PDU: u32 = 1;
const EV_P_DATA_TF: u32 = 2;
const EV_PDV: u32 = 3;
const EV_PDV_DATA: u32 = 4;

// Error codes; src/ul/pdata.ts mirrors these numbers.
const E_PDU_TYPE: i32 = 1; // pdu-type-unrecognized
const E_PDU_LENGTH: i32 = 2; // pdu-length-exceeds-maximum
const E_MISSING_PDV: i32 = 3; // missing-item
const E_PDV_TOO_SHORT: i32 = 4; // item-too-short
const E_PDV_OVERRUN: i32 = 5; // length-overrun
const E_PC_ID: i32 = 6; // invalid-value

// Error fields; src/ul/pdata.ts mirrors these numbers.
const F_PDU_TYPE: i32 = 1; // pdu.type
const F_PDU_LENGTH: i32 = 2; // <pdu>.length
const F_PDV_HEADER: i32 = 3; // presentation-data-value-item.header
const F_PDV_LENGTH: i32 = 4; // presentation-data-value-item.length
const F_PDV_PC_ID: i32 = 5; // presentation-data-value-item.presentation-context-id
const F_PDV: i32 = 6; // presentation-data-value-item

// A-ABORT reasons, PS3.8 Table 9-26.
const R_UNRECOGNIZED_PDU: i32 = 1;
const R_INVALID_VALUE: i32 = 6;

// Reader states.
const S_PDU_HEADER: i32 = 0;
const S_PDV_HEADER: i32 = 1;
const S_PDV_DATA: i32 = 2;
const S_OTHER_BODY: i32 = 3;
const S_FAILED: i32 = 4;

const EVENT_SIZE: usize = 16;
const SEGMENT_SIZE: usize = 12;

let errCode: i32 = 0;
let errField: i32 = 0;
let errReason: i32 = 0;

function capacity(cap: usize, need: usize): usize {
  let c: usize = cap < 256 ? 256 : cap;
  while (c < need) c = c > 0x3fffffff ? need : c << 1;
  return c;
}

/** Error code of the last failure. */
export function pdata_error_code(): i32 {
  return errCode;
}

/** Field of the last failure; for a PDU length, the PDU type is in bits 8–15. */
export function pdata_error_field(): i32 {
  return errField;
}

/** A-ABORT reason of the last failure (PS3.8 Table 9-26). */
export function pdata_error_reason(): i32 {
  return errReason;
}

// ---- reader ----

let rdMaxPData: u32 = 65536;
let rdMaxOther: u32 = 1048576;
let rdState: i32 = S_PDU_HEADER;
let hdr: u64 = 0; // the header bytes gathered so far, big endian
let hdrFill: u32 = 0;
let pduType: u32 = 0;
let pduRemaining: u32 = 0; // bytes left in the variable field of the current P-DATA-TF
let pdvRemaining: u32 = 0; // bytes left of the current PDV's fragment
let inPtr: usize = 0;
let inCap: usize = 0;
let inLen: u32 = 0;
let inPos: u32 = 0;
let evPtr: usize = 0;
let evCap: usize = 0;
let evCount: u32 = 0;
let otherPtr: usize = 0;
let otherCap: usize = 0;
let otherFill: u32 = 0;
let otherLen: u32 = 0;

function readerFail(code: i32, field: i32, reason: i32): i32 {
  errCode = code;
  errField = field;
  errReason = reason;
  rdState = S_FAILED;
  return -1;
}

function addEvent(kind: u32, a: u32, b: u32, c: u32): void {
  const need = (<usize> evCount + 1) * EVENT_SIZE;
  if (need > evCap) {
    const cap = capacity(evCap, need);
    evPtr = evPtr == 0 ? heap.alloc(cap) : heap.realloc(evPtr, cap);
    evCap = cap;
  }
  const r = evPtr + <usize> evCount * EVENT_SIZE;
  store<u32>(r, kind);
  store<u32>(r, a, 4);
  store<u32>(r, b, 8);
  store<u32>(r, c, 12);
  evCount++;
}

/** Resets the reader: our maximum P-DATA-TF length (0 = unlimited) and the bound for other PDUs. */
export function pdata_reader_init(maxPDataTfLength: u32, maxOtherPduLength: u32): void {
  rdMaxPData = maxPDataTfLength;
  rdMaxOther = maxOtherPduLength;
  rdState = S_PDU_HEADER;
  hdr = 0;
  hdrFill = 0;
  pduRemaining = 0;
  pdvRemaining = 0;
  inLen = 0;
  inPos = 0;
  evCount = 0;
}

/** Makes the input region at least `minBytes` long and returns where it is. */
export function pdata_reader_input(minBytes: u32): usize {
  if (<usize> minBytes > inCap || inPtr == 0) {
    const cap = capacity(inCap, <usize> minBytes);
    // Nothing in the input is kept between commits, so a fresh region needs no copy.
    inPtr = heap.alloc(cap);
    inCap = cap;
  }
  return inPtr;
}

/** Length of the input region. */
export function pdata_reader_input_capacity(): usize {
  return inCap;
}

/** Marks `length` bytes of the input region as received; returns 0, or -1 if too many. */
export function pdata_reader_commit(length: u32): i32 {
  if (<usize> length > inCap) return -1;
  inLen = length;
  inPos = 0;
  return 0;
}

/** Input bytes not yet framed. */
export function pdata_reader_input_left(): u32 {
  return inLen - inPos;
}

/** Where the event records of the last run are. */
export function pdata_reader_events(): usize {
  return evPtr;
}

/** Where the last whole non-P-DATA PDU is. */
export function pdata_reader_other(): usize {
  return otherPtr;
}

/** 1 while a PDU has been started but not completed. */
export function pdata_reader_mid_pdu(): i32 {
  return rdState != S_PDU_HEADER || hdrFill != 0 ? 1 : 0;
}

/** Fragment bytes of the current PDV still to come (0 outside PDV data). */
export function pdata_reader_data_remaining(): u32 {
  return rdState == S_PDV_DATA ? pdvRemaining : 0;
}

/** Bytes the reader wants before it can say more: the rest of a header, body or fragment. */
export function pdata_reader_want(): u32 {
  if (rdState == S_PDU_HEADER || rdState == S_PDV_HEADER) return 6 - hdrFill;
  if (rdState == S_PDV_DATA) return pdvRemaining;
  if (rdState == S_OTHER_BODY) return otherLen - otherFill;
  return 0;
}

function afterPdv(): void {
  rdState = pduRemaining == 0 ? S_PDU_HEADER : S_PDV_HEADER;
}

/**
 * Takes `n` fragment bytes that the host holds itself; returns 1 if they end the PDV, 0 if not,
 * -1 if the reader is not in PDV data or `n` is more than the rest of the fragment.
 */
export function pdata_reader_take(n: u32): i32 {
  if (rdState != S_PDV_DATA || n > pdvRemaining) return -1;
  pdvRemaining -= n;
  pduRemaining -= n;
  if (pdvRemaining != 0) return 0;
  afterPdv();
  return 1;
}

// PS3.8 §9.3.1: the PDU header is type, reserved, 4-byte length.
function pduHeaderDone(): i32 {
  const type = <u32> (hdr >> 40) & 0xff;
  const length = <u32> (hdr & 0xffffffff);
  hdr = 0;
  hdrFill = 0;
  pduType = type;
  if (type == 4) {
    // PS3.8 §9.3.5, Annex D.1: the maximum length bounds the variable field.
    if (rdMaxPData != 0 && length > rdMaxPData) {
      return readerFail(E_PDU_LENGTH, F_PDU_LENGTH | (4 << 8), R_INVALID_VALUE);
    }
    if (length == 0) return readerFail(E_MISSING_PDV, F_PDV, R_INVALID_VALUE);
    addEvent(EV_P_DATA_TF, length, 0, 0);
    pduRemaining = length;
    rdState = S_PDV_HEADER;
    return 0;
  }
  if (type < 1 || type > 7) return readerFail(E_PDU_TYPE, F_PDU_TYPE, R_UNRECOGNIZED_PDU);
  if (length > rdMaxOther) {
    return readerFail(E_PDU_LENGTH, F_PDU_LENGTH | (<i32> type << 8), R_INVALID_VALUE);
  }
  const need = <usize> length + 6;
  if (need > otherCap) {
    otherCap = capacity(otherCap, need);
    otherPtr = heap.alloc(otherCap);
  }
  store<u8>(otherPtr, <u8> type);
  store<u8>(otherPtr, 0, 1);
  store<u8>(otherPtr, <u8> (length >>> 24), 2);
  store<u8>(otherPtr, <u8> (length >>> 16), 3);
  store<u8>(otherPtr, <u8> (length >>> 8), 4);
  store<u8>(otherPtr, <u8> length, 5);
  otherFill = 6;
  otherLen = length + 6;
  rdState = S_OTHER_BODY;
  return 0;
}

/** Runs the reader over the input; returns the event count or -1. Stops after a non-P-DATA PDU. */
export function pdata_reader_run(): i32 {
  evCount = 0;
  if (rdState == S_FAILED) return -1;
  while (true) {
    if (rdState == S_OTHER_BODY) {
      if (inPos == inLen) break;
      const k = min(otherLen - otherFill, inLen - inPos);
      memory.copy(otherPtr + <usize> otherFill, inPtr + <usize> inPos, <usize> k);
      otherFill += k;
      inPos += k;
      if (otherFill == otherLen) {
        addEvent(EV_PDU, pduType, otherLen, 0);
        rdState = S_PDU_HEADER;
        return <i32> evCount;
      }
      continue;
    }
    if (rdState == S_PDV_DATA) {
      if (pdvRemaining == 0) {
        // A PDV with an empty fragment still gets its end.
        addEvent(EV_PDV_DATA, inPos, 0, 1);
        afterPdv();
        continue;
      }
      if (inPos == inLen) break;
      const k = min(pdvRemaining, inLen - inPos);
      pdvRemaining -= k;
      pduRemaining -= k;
      addEvent(EV_PDV_DATA, inPos, k, pdvRemaining == 0 ? 1 : 0);
      inPos += k;
      if (pdvRemaining == 0) afterPdv();
      continue;
    }
    if (inPos == inLen) break;
    if (rdState == S_PDV_HEADER && hdrFill == 0 && pduRemaining < 6) {
      // PS3.8 §9.3.5.1: a PDV item is at least a 4-byte length, a context id and a header.
      return readerFail(E_PDV_TOO_SHORT, F_PDV_HEADER, R_INVALID_VALUE);
    }
    while (hdrFill < 6 && inPos < inLen) {
      hdr = (hdr << 8) | <u64> load<u8>(inPtr + <usize> inPos);
      inPos++;
      hdrFill++;
    }
    if (hdrFill < 6) break;
    if (rdState == S_PDU_HEADER) {
      if (pduHeaderDone() < 0) return -1;
      if (rdState == S_OTHER_BODY && otherLen == 6) {
        addEvent(EV_PDU, pduType, otherLen, 0);
        rdState = S_PDU_HEADER;
        return <i32> evCount;
      }
      continue;
    }
    // PS3.8 §9.3.5.1 (Table 9-23), Annex E.2: item length, context id, message control header.
    const itemLength = <u32> ((hdr >> 16) & 0xffffffff);
    const pcId = <u32> ((hdr >> 8) & 0xff);
    const mch = <u32> (hdr & 0xff);
    hdr = 0;
    hdrFill = 0;
    if (itemLength < 2) return readerFail(E_PDV_TOO_SHORT, F_PDV_LENGTH, R_INVALID_VALUE);
    if (itemLength > pduRemaining - 4) {
      return readerFail(E_PDV_OVERRUN, F_PDV_LENGTH, R_INVALID_VALUE);
    }
    // PS3.8 §9.3.2.2: presentation context ids are odd, 1–255.
    if ((pcId & 1) == 0) return readerFail(E_PC_ID, F_PDV_PC_ID, R_INVALID_VALUE);
    pduRemaining -= 6;
    pdvRemaining = itemLength - 2;
    addEvent(EV_PDV, pcId, mch, pdvRemaining);
    rdState = S_PDV_DATA;
  }
  return <i32> evCount;
}

// ---- writer ----

let wrMax: u32 = 16384; // largest variable field of a PDU we send
let outPtr: usize = 0;
let outCap: u32 = 0;
let outStart: u32 = 0; // start of the PDUs not yet returned
let pos: u32 = 0; // end of what is laid out
let partial: bool = false; // a PDU is being filled, starting at pduStart
let pduStart: u32 = 0;
let pduFill: u32 = 0; // variable field bytes of the PDU being filled
let pdvOpen: bool = false; // the last PDV of the partial PDU may still grow
let pdvStart: u32 = 0; // its header
let pdvLen: u32 = 0; // its fragment bytes
let pdvPcId: u32 = 0;
let pdvCommand: bool = false;
let carry: bool = false; // fragment bytes held back at carryAt, to start the next PDU
let carryAt: u32 = 0;
let carryLen: u32 = 0; // 1 or 2: what keeps the PDV closed early of even length
let largestChunk: u32 = 0;
let segPtr: usize = 0;
let segCap: usize = 0;
let segCount: u32 = 0;

function be32(at: u32, value: u32): void {
  const p = outPtr + <usize> at;
  store<u8>(p, <u8> (value >>> 24));
  store<u8>(p, <u8> (value >>> 16), 1);
  store<u8>(p, <u8> (value >>> 8), 2);
  store<u8>(p, <u8> value, 3);
}

/** Output bytes a fragment of `n` bytes can need: its bytes and a header pair per PDU. */
function need(n: u32): u64 {
  return <u64> n + (<u64> (n / (wrMax - 6)) + 3) * 12;
}

/** Resets the writer; `maxPduLength` is the largest variable field to send, at least 7. */
export function pdata_writer_init(maxPduLength: u32): i32 {
  if (maxPduLength < 7) return -1;
  // An even maximum keeps every full PDV of even length (PS3.5 §7.1 data sets are even).
  wrMax = maxPduLength >= 8 ? maxPduLength & ~1 : maxPduLength;
  outStart = 0;
  pos = 0;
  partial = false;
  pdvOpen = false;
  carry = false;
  largestChunk = 0;
  return 0;
}

function addSegment(at: u32, from: u32, n: u32): void {
  const size = (<usize> segCount + 1) * SEGMENT_SIZE;
  if (size > segCap) {
    const cap = capacity(segCap, size);
    segPtr = segPtr == 0 ? heap.alloc(cap) : heap.realloc(segPtr, cap);
    segCap = cap;
  }
  const r = segPtr + <usize> segCount * SEGMENT_SIZE;
  store<u32>(r, <u32> (outPtr + <usize> at));
  store<u32>(r, from, 4);
  store<u32>(r, n, 8);
  segCount++;
}

function startPdu(): void {
  pduStart = pos;
  pos += 6;
  pduFill = 0;
  partial = true;
}

// PS3.8 §9.3.5 (Table 9-22): type 04H, reserved, PDU length.
function closePdu(): void {
  store<u8>(outPtr + <usize> pduStart, 0x04);
  store<u8>(outPtr + <usize> pduStart, 0, 1);
  be32(pduStart + 2, pduFill);
  partial = false;
}

function startPdv(pcId: u32, command: bool): void {
  pdvStart = pos;
  pos += 6;
  pduFill += 6;
  pdvLen = 0;
  pdvPcId = pcId;
  pdvCommand = command;
  pdvOpen = true;
}

// PS3.8 §9.3.5.1 (Table 9-23), Annex E.2: message control header bit 0 command, bit 1 last.
function closePdv(last: bool): void {
  be32(pdvStart, pdvLen + 2);
  store<u8>(outPtr + <usize> pdvStart, <u8> pdvPcId, 4);
  store<u8>(outPtr + <usize> pdvStart, <u8> ((pdvCommand ? 1 : 0) | (last ? 2 : 0)), 5);
  pdvOpen = false;
}

/** Starts a call: the PDUs returned last time are gone; the held-back byte starts a PDU. */
function begin(): void {
  segCount = 0;
  if (!partial) pos = 0;
  outStart = partial ? pduStart : 0;
  if (carry) {
    const b0 = load<u8>(outPtr + <usize> carryAt);
    const b1 = load<u8>(outPtr + <usize> carryAt, 1);
    pos = 0;
    outStart = 0;
    startPdu();
    startPdv(carryPcId, carryCommand);
    store<u8>(outPtr + <usize> pos, b0);
    if (carryLen == 2) store<u8>(outPtr + <usize> pos, b1, 1);
    pos += carryLen;
    pduFill += carryLen;
    pdvLen = carryLen;
    carry = false;
  }
}

let carryPcId: u32 = 0;
let carryCommand: bool = false;

/** Makes room for `n` more bytes after `pos`, moving the partial PDU only if it must. */
function reserve(n: u32): i32 {
  if (n > largestChunk) largestChunk = n;
  const want = need(n);
  if (<u64> pos + want <= <u64> outCap) return 0;
  const fill: u32 = partial ? pos - pduStart : 0;
  // Room for several calls, so that the partial PDU rarely has to be closed early.
  let cap: u64 = (need(largestChunk) + <u64> wrMax + 12) * 4;
  if (cap < 262144) cap = 262144;
  if (cap < <u64> outCap) cap = <u64> outCap;
  if (cap > 0xfff00000) return -1;
  if (<u64> fill + want > <u64> outCap || outPtr == 0) {
    const fresh = heap.alloc(<usize> cap);
    if (fill != 0) memory.copy(fresh, outPtr + <usize> pduStart, <usize> fill);
    outPtr = fresh;
    outCap = <u32> cap;
  } else if (fill != 0) {
    memory.copy(outPtr, outPtr + <usize> pduStart, <usize> fill);
  }
  if (partial) {
    const shift = pduStart;
    pduStart -= shift;
    if (pdvOpen) pdvStart -= shift;
  }
  pos = fill;
  outStart = 0;
  return 0;
}

/** After a call: if the room left is short, close the partial PDU, holding back one byte. */
function end(): void {
  if (!partial) return;
  if (<u64> (outCap - pos) >= need(largestChunk) + <u64> wrMax + 12) return;
  if (!pdvOpen) {
    closePdu();
    return;
  }
  // The open PDV may yet be the last fragment; the held-back bytes keep that question open.
  // One byte or two, so that the PDV closed here has an even length: data set fragments are
  // even (PS3.5 §7.1) and peers such as DCMTK abort on an odd one.
  const hold: u32 = (pdvLen & 1) == 0 ? 2 : 1;
  carry = true;
  carryLen = hold;
  carryAt = pos - hold;
  carryPcId = pdvPcId;
  carryCommand = pdvCommand;
  pos -= hold;
  if (pdvLen > hold) {
    pdvLen -= hold;
    pduFill -= hold;
    closePdv(false);
    closePdu();
  } else {
    // The PDV holds only those bytes: drop it from this PDU.
    pos -= 6;
    pduFill -= 6 + hold;
    pdvOpen = false;
    if (pduFill == 0) {
      pos = pduStart;
      partial = false;
    } else {
      closePdu();
    }
  }
}

/**
 * Lays out a fragment of `length` bytes of a command (command = 1) or data set for a
 * presentation context; last = 1 ends that command or data set. Returns the segment count, or
 * -1 when the writer cannot hold the fragment.
 */
export function pdata_writer_write(pcId: u32, command: u32, length: u32, last: u32): i32 {
  begin();
  const isCommand = command != 0;
  if (pdvOpen && (pdvPcId != pcId || pdvCommand != isCommand)) closePdv(false);
  if (reserve(length) < 0) return -1;
  let from: u32 = 0;
  let remaining = length;
  while (remaining > 0) {
    if (partial && pduFill == wrMax) {
      if (pdvOpen) closePdv(false);
      closePdu();
    }
    if (!partial) startPdu();
    if (!pdvOpen) {
      // A PDV carries at least one byte after its 6-byte header.
      if (wrMax - pduFill < 7) {
        closePdu();
        startPdu();
      }
      startPdv(pcId, isCommand);
    }
    const take = min(wrMax - pduFill, remaining);
    addSegment(pos, from, take);
    pos += take;
    from += take;
    pduFill += take;
    pdvLen += take;
    remaining -= take;
  }
  if (last != 0) {
    if (!pdvOpen) {
      // Nothing open for this stream: the end is an empty PDV.
      if (partial && wrMax - pduFill < 6) closePdu();
      if (!partial) startPdu();
      startPdv(pcId, isCommand);
    }
    closePdv(true);
    if (wrMax - pduFill < 7) closePdu();
  }
  end();
  return <i32> segCount;
}

/** Closes the PDU being filled; everything laid out is then returned. */
export function pdata_writer_flush(): void {
  begin();
  if (partial) {
    if (pdvOpen) closePdv(false);
    closePdu();
  }
}

/** Where the segments of the last write are. */
export function pdata_writer_segments(): usize {
  return segPtr;
}

/** Where the PDUs ready to send start. */
export function pdata_writer_output(): usize {
  return outPtr + <usize> outStart;
}

/** Length of the PDUs ready to send: all complete PDUs laid out since the last call. */
export function pdata_writer_output_length(): u32 {
  return (partial ? pduStart : pos) - outStart;
}
