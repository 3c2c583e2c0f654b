/**
 * Binding to the Wasm PDU codec: whole PDUs to plain data and back (PS3.8 §9.3, PS3.7 Annex D).
 *
 * The Wasm module alone knows the byte layout. Decoding leaves a table of fixed-size records in
 * its memory (kind, offset, length and small fields); this module turns the records into the
 * objects of `pdu.ts`, taking values from the caller's bytes. Encoding writes the same records
 * and a blob of values into the module's memory and copies the PDU out.
 *
 * @module
 */
import { sharedCodecInstance } from "./_wasm.ts";
import type { CodecInstance } from "./_wasm.ts";
import { PduError } from "./errors.ts";
import {
  type AAssociateAc,
  type AAssociateRq,
  emptyUserInformation,
  type Pdu,
  PduType,
  type PresentationContextItemAc,
  type PresentationContextItemRq,
  type PresentationDataValue,
  type SopClassCommonExtendedNegotiation,
  type UserInformation,
} from "./pdu.ts";

// Record kinds, as in wasm/assembly/pdu.ts.
const K_PDU = 1;
const K_CALLED_AE = 2;
const K_CALLING_AE = 3;
const K_APPLICATION_CONTEXT = 4;
const K_PC_RQ = 5;
const K_PC_AC = 6;
const K_ABSTRACT_SYNTAX = 7;
const K_TRANSFER_SYNTAX = 8;
const K_USER_INFORMATION = 9;
const K_MAXIMUM_LENGTH = 10;
const K_IMPLEMENTATION_CLASS_UID = 11;
const K_ASYNC_WINDOW = 12;
const K_ROLE_SELECTION = 13;
const K_IMPLEMENTATION_VERSION_NAME = 14;
const K_EXTENDED_NEGOTIATION = 15;
const K_COMMON_EXTENDED_NEGOTIATION = 16;
const K_RELATED_GENERAL_SOP_CLASS = 17;
const K_USER_IDENTITY_RQ = 18;
const K_USER_IDENTITY_AC = 19;
const K_UNKNOWN_USER_INFORMATION = 20;
const K_PDV = 21;

/** u32 slots per record. */
const RECORD_WORDS = 8;

// Error codes, items and parts, indexed by the numbers of wasm/assembly/pdu.ts.
const ERROR_CODES = [
  "",
  "pdu-type-unrecognized",
  "length-overrun",
  "length-mismatch",
  "item-too-short",
  "invalid-length",
  "item-type-unrecognized",
  "unexpected-item",
  "missing-item",
  "invalid-value",
  "value-too-long",
  "invalid-record",
];

const ERROR_ITEMS = [
  "pdu",
  "a-associate-rq",
  "a-associate-ac",
  "a-associate-rj",
  "p-data-tf",
  "a-release-rq",
  "a-release-rp",
  "a-abort",
  "application-context-item",
  "presentation-context-item-rq",
  "presentation-context-item-ac",
  "abstract-syntax-sub-item",
  "transfer-syntax-sub-item",
  "user-information-item",
  "maximum-length-sub-item",
  "implementation-class-uid-sub-item",
  "asynchronous-operations-window-sub-item",
  "scp-scu-role-selection-sub-item",
  "implementation-version-name-sub-item",
  "sop-class-extended-negotiation-sub-item",
  "sop-class-common-extended-negotiation-sub-item",
  "related-general-sop-class-identification",
  "user-identity-sub-item-rq",
  "user-identity-sub-item-ac",
  "presentation-data-value-item",
  "item",
  "user-information-sub-item",
  "called-ae-title",
  "calling-ae-title",
];

const ERROR_PARTS = [
  "",
  ".length",
  ".type",
  ".variable-items",
  ".presentation-context-id",
  ".result",
  ".sub-items",
  ".uid-length",
  ".service-class-uid-length",
  ".related-general-sop-class-identification-length",
  ".primary-field-length",
  ".secondary-field-length",
  ".server-response-length",
  ".item-type",
  ".header",
  ".value",
];

function codecError(codec: CodecInstance): PduError {
  const code = ERROR_CODES[codec.fn.pdu_error_code()] ?? "invalid-pdu";
  const field = (ERROR_ITEMS[codec.fn.pdu_error_item()] ?? "pdu") +
    (ERROR_PARTS[codec.fn.pdu_error_part()] ?? "");
  return new PduError(code, field, { abortReason: codec.fn.pdu_error_reason() });
}

/** ISO 8859-1 text of a value (AE titles and UIDs are within it, PS3.5 §6.2). */
function text(bytes: Uint8Array, off: number, len: number): string {
  if (len <= 64) {
    let s = "";
    for (let i = 0; i < len; i++) s += String.fromCharCode(bytes[off + i]);
    return s;
  }
  let s = "";
  for (let i = 0; i < len; i += 4096) {
    const chunk = bytes.subarray(off + i, off + Math.min(len, i + 4096));
    s += String.fromCharCode.apply(null, chunk as unknown as number[]);
  }
  return s;
}

/**
 * Decodes one whole PDU, header included. Byte values (PDV data, user identity fields, unknown
 * sub-items) are owned copies. Throws `PduError` naming the field and the A-ABORT reason to send
 * when the PDU is malformed.
 */
export function decodePdu(bytes: Uint8Array): Pdu {
  const codec = sharedCodecInstance();
  const inputPtr = codec.fn.pdu_input(bytes.length);
  new Uint8Array(codec.memory.buffer, inputPtr, bytes.length).set(bytes);
  const count = codec.fn.pdu_decode(bytes.length);
  if (count < 0) throw codecError(codec);
  const r = new Uint32Array(codec.memory.buffer, codec.fn.pdu_records(), count * RECORD_WORDS);
  const type = r[3];
  switch (type) {
    case PduType.A_ASSOCIATE_RQ:
    case PduType.A_ASSOCIATE_AC:
      return associateFromRecords(bytes, r, count);
    case PduType.A_ASSOCIATE_RJ:
      return { pduType: PduType.A_ASSOCIATE_RJ, result: r[4], source: r[5], reason: r[6] };
    case PduType.P_DATA_TF: {
      const presentationDataValues: PresentationDataValue[] = [];
      for (let i = 1; i < count; i++) {
        const k = i * RECORD_WORDS;
        const off = r[k + 1];
        presentationDataValues.push({
          presentationContextId: r[k + 3],
          isCommand: (r[k + 4] & 1) !== 0,
          isLast: (r[k + 4] & 2) !== 0,
          data: bytes.slice(off, off + r[k + 2]),
        });
      }
      return { pduType: PduType.P_DATA_TF, presentationDataValues };
    }
    case PduType.A_RELEASE_RQ:
      return { pduType: PduType.A_RELEASE_RQ };
    case PduType.A_RELEASE_RP:
      return { pduType: PduType.A_RELEASE_RP };
    default:
      return { pduType: PduType.A_ABORT, source: r[4], reason: r[5] };
  }
}

function associateFromRecords(
  bytes: Uint8Array,
  r: Uint32Array,
  count: number,
): AAssociateRq | AAssociateAc {
  let calledAeTitle = "";
  let callingAeTitle = "";
  let applicationContextName = "";
  const rq: PresentationContextItemRq[] = [];
  const ac: PresentationContextItemAc[] = [];
  let currentRq: PresentationContextItemRq | undefined;
  let currentAc: PresentationContextItemAc | undefined;
  let currentCommon: SopClassCommonExtendedNegotiation | undefined;
  const ui: UserInformation = emptyUserInformation();
  for (let i = 1; i < count; i++) {
    const k = i * RECORD_WORDS;
    const off = r[k + 1];
    const len = r[k + 2];
    switch (r[k]) {
      case K_CALLED_AE:
        calledAeTitle = text(bytes, off, len);
        break;
      case K_CALLING_AE:
        callingAeTitle = text(bytes, off, len);
        break;
      case K_APPLICATION_CONTEXT:
        applicationContextName = text(bytes, off, len);
        break;
      case K_PC_RQ:
        currentRq = { presentationContextId: r[k + 3], abstractSyntax: "", transferSyntaxes: [] };
        rq.push(currentRq);
        break;
      case K_PC_AC:
        currentAc = { presentationContextId: r[k + 3], result: r[k + 4], transferSyntax: "" };
        ac.push(currentAc);
        break;
      case K_ABSTRACT_SYNTAX:
        if (currentRq) currentRq.abstractSyntax = text(bytes, off, len);
        break;
      case K_TRANSFER_SYNTAX:
        if (currentRq) currentRq.transferSyntaxes.push(text(bytes, off, len));
        else if (currentAc) currentAc.transferSyntax = text(bytes, off, len);
        break;
      case K_MAXIMUM_LENGTH:
        ui.maximumLength = r[k + 3];
        break;
      case K_IMPLEMENTATION_CLASS_UID:
        ui.implementationClassUid = text(bytes, off, len);
        break;
      case K_ASYNC_WINDOW:
        ui.asynchronousOperationsWindow = {
          maxOperationsInvoked: r[k + 3],
          maxOperationsPerformed: r[k + 4],
        };
        break;
      case K_ROLE_SELECTION:
        ui.roleSelections.push({
          sopClassUid: text(bytes, off, len),
          scuRole: r[k + 3] !== 0,
          scpRole: r[k + 4] !== 0,
        });
        break;
      case K_IMPLEMENTATION_VERSION_NAME:
        ui.implementationVersionName = text(bytes, off, len);
        break;
      case K_EXTENDED_NEGOTIATION:
        ui.sopClassExtendedNegotiations.push({
          sopClassUid: text(bytes, off, len),
          serviceClassApplicationInformation: bytes.slice(r[k + 5], r[k + 5] + r[k + 6]),
        });
        break;
      case K_COMMON_EXTENDED_NEGOTIATION:
        currentCommon = {
          sopClassUid: text(bytes, off, len),
          serviceClassUid: text(bytes, r[k + 5], r[k + 6]),
          relatedGeneralSopClassUids: [],
        };
        ui.sopClassCommonExtendedNegotiations.push(currentCommon);
        break;
      case K_RELATED_GENERAL_SOP_CLASS:
        currentCommon?.relatedGeneralSopClassUids.push(text(bytes, off, len));
        break;
      case K_USER_IDENTITY_RQ:
        ui.userIdentityRq = {
          userIdentityType: r[k + 3],
          positiveResponseRequested: r[k + 4] !== 0,
          primaryField: bytes.slice(off, off + len),
          secondaryField: bytes.slice(r[k + 5], r[k + 5] + r[k + 6]),
        };
        break;
      case K_USER_IDENTITY_AC:
        ui.userIdentityAc = { serverResponse: bytes.slice(off, off + len) };
        break;
      case K_UNKNOWN_USER_INFORMATION:
        ui.unknownItems.push({ itemType: r[k + 3], data: bytes.slice(off, off + len) });
        break;
    }
  }
  const common = {
    protocolVersion: r[4],
    calledAeTitle,
    callingAeTitle,
    applicationContextName,
    userInformation: ui,
  };
  if (r[3] === PduType.A_ASSOCIATE_RQ) {
    return { pduType: PduType.A_ASSOCIATE_RQ, ...common, presentationContexts: rq };
  }
  return { pduType: PduType.A_ASSOCIATE_AC, ...common, presentationContexts: ac };
}

/** Records and the values they point to, built before the module's memory is touched. */
class RecordList {
  readonly words: number[] = [];
  readonly values: (string | Uint8Array)[] = [];
  readonly valueOffsets: number[] = [];
  blobLength = 0;

  value(v: string | Uint8Array): number {
    const off = this.blobLength;
    this.values.push(v);
    this.valueOffsets.push(off);
    this.blobLength += v.length;
    return off;
  }

  /** The PDU record: its type and up to three small fields. */
  addPdu(type: number, b = 0, c = 0, d = 0): void {
    this.words.push(K_PDU, 0, 0, type, b, c, d, 0);
  }

  /** A record with a value, two small fields and an optional second value. */
  add(
    kind: number,
    v: string | Uint8Array | undefined,
    a = 0,
    b = 0,
    second?: string | Uint8Array,
  ): void {
    const off = v === undefined ? 0 : this.value(v);
    const c = second === undefined ? 0 : this.value(second);
    this.words.push(
      kind,
      off,
      v === undefined ? 0 : v.length,
      a,
      b,
      c,
      second === undefined ? 0 : second.length,
      0,
    );
  }
}

function checkField(value: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new PduError("invalid-value", field, {
      message: `Cannot encode PDU: ${field} must be an integer from 0 to ${max}, got ${value}`,
    });
  }
  return value;
}

function userInformationRecords(list: RecordList, ui: UserInformation): void {
  list.add(K_USER_INFORMATION, undefined);
  if (ui.maximumLength !== undefined) {
    list.add(
      K_MAXIMUM_LENGTH,
      undefined,
      checkField(ui.maximumLength, 0xffffffff, "maximum-length-sub-item.maximum-length"),
    );
  }
  if (ui.implementationClassUid !== undefined) {
    list.add(K_IMPLEMENTATION_CLASS_UID, ui.implementationClassUid);
  }
  const window = ui.asynchronousOperationsWindow;
  if (window) {
    const field = "asynchronous-operations-window-sub-item";
    list.add(
      K_ASYNC_WINDOW,
      undefined,
      checkField(window.maxOperationsInvoked, 0xffff, `${field}.max-operations-invoked`),
      checkField(window.maxOperationsPerformed, 0xffff, `${field}.max-operations-performed`),
    );
  }
  for (const role of ui.roleSelections) {
    list.add(K_ROLE_SELECTION, role.sopClassUid, role.scuRole ? 1 : 0, role.scpRole ? 1 : 0);
  }
  if (ui.implementationVersionName !== undefined) {
    list.add(K_IMPLEMENTATION_VERSION_NAME, ui.implementationVersionName);
  }
  for (const ext of ui.sopClassExtendedNegotiations) {
    list.add(
      K_EXTENDED_NEGOTIATION,
      ext.sopClassUid,
      0,
      0,
      ext.serviceClassApplicationInformation,
    );
  }
  for (const common of ui.sopClassCommonExtendedNegotiations) {
    list.add(K_COMMON_EXTENDED_NEGOTIATION, common.sopClassUid, 0, 0, common.serviceClassUid);
    for (const uid of common.relatedGeneralSopClassUids) {
      list.add(K_RELATED_GENERAL_SOP_CLASS, uid);
    }
  }
  const id = ui.userIdentityRq;
  if (id) {
    list.add(
      K_USER_IDENTITY_RQ,
      id.primaryField,
      checkField(id.userIdentityType, 0xff, "user-identity-sub-item-rq.user-identity-type"),
      id.positiveResponseRequested ? 1 : 0,
      id.secondaryField,
    );
  }
  if (ui.userIdentityAc) list.add(K_USER_IDENTITY_AC, ui.userIdentityAc.serverResponse);
  for (const item of ui.unknownItems) {
    list.add(
      K_UNKNOWN_USER_INFORMATION,
      item.data,
      checkField(item.itemType, 0xff, "user-information-sub-item.item-type"),
    );
  }
}

function pduRecords(pdu: Pdu): RecordList {
  const list = new RecordList();
  switch (pdu.pduType) {
    case PduType.A_ASSOCIATE_RQ:
    case PduType.A_ASSOCIATE_AC: {
      list.addPdu(pdu.pduType, checkField(pdu.protocolVersion, 0xffff, "protocol-version"));
      list.add(K_CALLED_AE, pdu.calledAeTitle);
      list.add(K_CALLING_AE, pdu.callingAeTitle);
      list.add(K_APPLICATION_CONTEXT, pdu.applicationContextName);
      if (pdu.pduType === PduType.A_ASSOCIATE_RQ) {
        for (const pc of pdu.presentationContexts) {
          list.add(K_PC_RQ, undefined, pc.presentationContextId);
          list.add(K_ABSTRACT_SYNTAX, pc.abstractSyntax);
          for (const ts of pc.transferSyntaxes) list.add(K_TRANSFER_SYNTAX, ts);
        }
      } else {
        for (const pc of pdu.presentationContexts) {
          list.add(
            K_PC_AC,
            undefined,
            pc.presentationContextId,
            checkField(pc.result, 0xff, "presentation-context-item-ac.result"),
          );
          list.add(K_TRANSFER_SYNTAX, pc.transferSyntax);
        }
      }
      userInformationRecords(list, pdu.userInformation);
      break;
    }
    case PduType.A_ASSOCIATE_RJ:
      list.addPdu(
        pdu.pduType,
        checkField(pdu.result, 0xff, "a-associate-rj.result"),
        checkField(pdu.source, 0xff, "a-associate-rj.source"),
        checkField(pdu.reason, 0xff, "a-associate-rj.reason"),
      );
      break;
    case PduType.P_DATA_TF:
      list.addPdu(pdu.pduType);
      for (const pdv of pdu.presentationDataValues) {
        list.add(
          K_PDV,
          pdv.data,
          checkField(
            pdv.presentationContextId,
            0xff,
            "presentation-data-value-item.presentation-context-id",
          ),
          // PS3.8 Annex E.2: bit 0 command, bit 1 last fragment.
          (pdv.isCommand ? 1 : 0) | (pdv.isLast ? 2 : 0),
        );
      }
      break;
    case PduType.A_RELEASE_RQ:
    case PduType.A_RELEASE_RP:
      list.addPdu(pdu.pduType);
      break;
    case PduType.A_ABORT:
      list.addPdu(
        pdu.pduType,
        checkField(pdu.source, 0xff, "a-abort.source"),
        checkField(pdu.reason, 0xff, "a-abort.reason"),
      );
      break;
    default:
      throw new PduError("pdu-type-unrecognized", "pdu.type", {
        message: `Cannot encode PDU: unknown PDU type ${(pdu as { pduType: unknown }).pduType}`,
      });
  }
  return list;
}

/**
 * Encodes one whole PDU, header included. AE titles are space-padded to 16 bytes; sub-items of the
 * user information go out in ascending type order, unknown ones last. Throws `PduError` when a
 * value cannot be encoded (an AE title over 16 characters, an item over 65535 bytes, a character
 * outside ISO 8859-1). The result is an owned copy.
 */
export function encodePdu(pdu: Pdu): Uint8Array {
  const list = pduRecords(pdu);
  const codec = sharedCodecInstance();
  const count = list.words.length / RECORD_WORDS;
  const ptr = codec.fn.pdu_encode_prepare(count, list.blobLength);
  const buffer = codec.memory.buffer;
  new Uint32Array(buffer, ptr, list.words.length).set(list.words);
  const blob = new Uint8Array(buffer, ptr + count * RECORD_WORDS * 4, list.blobLength);
  for (let i = 0; i < list.values.length; i++) {
    const v = list.values[i];
    const off = list.valueOffsets[i];
    if (typeof v === "string") {
      for (let j = 0; j < v.length; j++) {
        const ch = v.charCodeAt(j);
        if (ch > 0xff) {
          throw new PduError("invalid-value", "pdu", {
            message: `Cannot encode PDU: character outside ISO 8859-1 in "${v}"`,
          });
        }
        blob[off + j] = ch;
      }
    } else {
      blob.set(v, off);
    }
  }
  const length = codec.fn.pdu_encode(count, list.blobLength);
  if (length < 0) throw codecError(codec);
  return new Uint8Array(codec.memory.buffer, codec.fn.pdu_output(), length).slice();
}
