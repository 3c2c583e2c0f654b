import assert from "node:assert/strict";
import { decodeCommandSet, encodeCommandSet } from "../../src/dimse/command_codec.ts";
import { CommandField, type CommandSet } from "../../src/dimse/command.ts";
import { CommandSetError } from "../../src/ul/errors.ts";
import { mulberry32 } from "../ul/_pdu_random.ts";

// ---- hand-built elements: implicit VR little endian, group 0000 (PS3.5 §7.1.3) ----

function le16(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff];
}

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

/** One element: (0000,element), 4-byte length, value. */
function el(element: number, value: number[]): number[] {
  return [0x00, 0x00, ...le16(element), ...le32(value.length), ...value];
}

/** US value. */
function us(n: number): number[] {
  return le16(n);
}

/** UI value, padded with NUL to even length. */
function ui(s: string): number[] {
  const b = ascii(s);
  return b.length % 2 ? [...b, 0x00] : b;
}

/** AE/LO value, padded with a space to even length. */
function text(s: string): number[] {
  const b = ascii(s);
  return b.length % 2 ? [...b, 0x20] : b;
}

/** AT value: (group, element) pairs of uint16. */
function at(...tags: number[]): number[] {
  return tags.flatMap((t) => [...le16(t >>> 16), ...le16(t & 0xffff)]);
}

/** (0000,0000) Command Group Length followed by the elements. */
function commandSet(...elements: number[][]): Uint8Array {
  const body = elements.flat();
  return new Uint8Array([...el(0x0000, le32(body.length)), ...body]);
}

function assertVector(name: string, command: CommandSet, bytes: Uint8Array): void {
  assert.deepEqual([...encodeCommandSet(command)], [...bytes], `${name} encodes byte-exact`);
  assert.deepEqual(decodeCommandSet(bytes), command, `${name} decodes to its fields`);
}

const VERIFICATION = "1.2.840.10008.1.1";
const CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2";
const INSTANCE = "1.2.826.0.1.3680043.10.1.1.1";

Deno.test("C-ECHO-RQ encodes to the bytes of PS3.7 §9.3.5 and decodes back", () => {
  const bytes = new Uint8Array([
    // (0000,0000) UL CommandGroupLength = 56
    0x00,
    0x00,
    0x00,
    0x00,
    0x04,
    0x00,
    0x00,
    0x00,
    0x38,
    0x00,
    0x00,
    0x00,
    // (0000,0002) UI AffectedSOPClassUID "1.2.840.10008.1.1" + NUL
    0x00,
    0x00,
    0x02,
    0x00,
    0x12,
    0x00,
    0x00,
    0x00,
    ...ascii("1.2.840.10008.1.1"),
    0x00,
    // (0000,0100) US CommandField = 0x0030
    0x00,
    0x00,
    0x00,
    0x01,
    0x02,
    0x00,
    0x00,
    0x00,
    0x30,
    0x00,
    // (0000,0110) US MessageID = 1
    0x00,
    0x00,
    0x10,
    0x01,
    0x02,
    0x00,
    0x00,
    0x00,
    0x01,
    0x00,
    // (0000,0800) US CommandDataSetType = 0x0101
    0x00,
    0x00,
    0x00,
    0x08,
    0x02,
    0x00,
    0x00,
    0x00,
    0x01,
    0x01,
  ]);
  assertVector("C-ECHO-RQ", {
    affectedSopClassUid: VERIFICATION,
    commandField: CommandField.C_ECHO_RQ,
    messageId: 1,
    commandDataSetType: 0x0101,
  }, bytes);
});

Deno.test("C-ECHO-RSP carries Message ID Being Responded To and Status", () => {
  assertVector(
    "C-ECHO-RSP",
    {
      affectedSopClassUid: VERIFICATION,
      commandField: CommandField.C_ECHO_RSP,
      messageIdBeingRespondedTo: 7,
      commandDataSetType: 0x0101,
      status: 0x0000,
    },
    commandSet(
      el(0x0002, ui(VERIFICATION)), // AffectedSOPClassUID
      el(0x0100, us(0x8030)), // CommandField
      el(0x0120, us(7)), // MessageIDBeingRespondedTo
      el(0x0800, us(0x0101)), // CommandDataSetType
      el(0x0900, us(0x0000)), // Status
    ),
  );
});

Deno.test("C-STORE-RQ with Move Originator fields pads an odd UID with NUL and an AE with a space", () => {
  assertVector(
    "C-STORE-RQ",
    {
      affectedSopClassUid: CT_IMAGE,
      commandField: CommandField.C_STORE_RQ,
      messageId: 3,
      priority: 0x0002,
      commandDataSetType: 0x0000,
      affectedSopInstanceUid: INSTANCE,
      moveOriginatorApplicationEntityTitle: "MOVESCU",
      moveOriginatorMessageId: 12,
    },
    commandSet(
      el(0x0002, ui(CT_IMAGE)), // AffectedSOPClassUID (25 chars + NUL)
      el(0x0100, us(0x0001)), // CommandField
      el(0x0110, us(3)), // MessageID
      el(0x0700, us(2)), // Priority LOW
      el(0x0800, us(0x0000)), // CommandDataSetType
      el(0x1000, ui(INSTANCE)), // AffectedSOPInstanceUID
      el(0x1030, text("MOVESCU")), // MoveOriginatorApplicationEntityTitle "MOVESCU "
      el(0x1031, us(12)), // MoveOriginatorMessageID
    ),
  );
});

Deno.test("C-STORE-RSP decodes and re-encodes byte-exact", () => {
  assertVector(
    "C-STORE-RSP",
    {
      affectedSopClassUid: CT_IMAGE,
      commandField: CommandField.C_STORE_RSP,
      messageIdBeingRespondedTo: 3,
      commandDataSetType: 0x0101,
      status: 0xb000,
      affectedSopInstanceUid: INSTANCE,
    },
    commandSet(
      el(0x0002, ui(CT_IMAGE)), // AffectedSOPClassUID
      el(0x0100, us(0x8001)), // CommandField
      el(0x0120, us(3)), // MessageIDBeingRespondedTo
      el(0x0800, us(0x0101)), // CommandDataSetType
      el(0x0900, us(0xb000)), // Status: coercion of data elements
      el(0x1000, ui(INSTANCE)), // AffectedSOPInstanceUID
    ),
  );
});

Deno.test("C-FIND-RQ with priority and a data set", () => {
  const studyRootFind = "1.2.840.10008.5.1.4.1.2.2.1";
  assertVector(
    "C-FIND-RQ",
    {
      affectedSopClassUid: studyRootFind,
      commandField: CommandField.C_FIND_RQ,
      messageId: 0xffff,
      priority: 0x0001,
      commandDataSetType: 0x0102,
    },
    commandSet(
      el(0x0002, ui(studyRootFind)), // AffectedSOPClassUID (27 chars + NUL)
      el(0x0100, us(0x0020)), // CommandField
      el(0x0110, us(0xffff)), // MessageID
      el(0x0700, us(1)), // Priority HIGH
      el(0x0800, us(0x0102)), // CommandDataSetType
    ),
  );
});

Deno.test("C-MOVE-RSP carries the four sub-operation counts", () => {
  const studyRootMove = "1.2.840.10008.5.1.4.1.2.2.2";
  assertVector(
    "C-MOVE-RSP",
    {
      affectedSopClassUid: studyRootMove,
      commandField: CommandField.C_MOVE_RSP,
      messageIdBeingRespondedTo: 5,
      commandDataSetType: 0x0101,
      status: 0xff00,
      numberOfRemainingSuboperations: 10,
      numberOfCompletedSuboperations: 4,
      numberOfFailedSuboperations: 1,
      numberOfWarningSuboperations: 2,
    },
    commandSet(
      el(0x0002, ui(studyRootMove)), // AffectedSOPClassUID
      el(0x0100, us(0x8021)), // CommandField
      el(0x0120, us(5)), // MessageIDBeingRespondedTo
      el(0x0800, us(0x0101)), // CommandDataSetType
      el(0x0900, us(0xff00)), // Status: pending
      el(0x1020, us(10)), // NumberOfRemainingSuboperations
      el(0x1021, us(4)), // NumberOfCompletedSuboperations
      el(0x1022, us(1)), // NumberOfFailedSuboperations
      el(0x1023, us(2)), // NumberOfWarningSuboperations
    ),
  );
});

Deno.test("C-MOVE-RQ pads its Move Destination with a space", () => {
  assertVector(
    "C-MOVE-RQ",
    {
      affectedSopClassUid: "1.2.840.10008.5.1.4.1.2.1.2",
      commandField: CommandField.C_MOVE_RQ,
      messageId: 9,
      moveDestination: "STORESCP",
      priority: 0,
      commandDataSetType: 0x0000,
    },
    commandSet(
      el(0x0002, ui("1.2.840.10008.5.1.4.1.2.1.2")), // AffectedSOPClassUID
      el(0x0100, us(0x0021)), // CommandField
      el(0x0110, us(9)), // MessageID
      el(0x0600, text("STORESCP")), // MoveDestination (even, no pad)
      el(0x0700, us(0)), // Priority
      el(0x0800, us(0x0000)), // CommandDataSetType
    ),
  );
});

Deno.test("N-ACTION-RQ carries Requested SOP Class/Instance and Action Type ID", () => {
  const commitment = "1.2.840.10008.1.20.1";
  const instance = "1.2.840.10008.1.20.1.1";
  assertVector(
    "N-ACTION-RQ",
    {
      requestedSopClassUid: commitment,
      commandField: CommandField.N_ACTION_RQ,
      messageId: 2,
      commandDataSetType: 0x0000,
      requestedSopInstanceUid: instance,
      actionTypeId: 1,
    },
    commandSet(
      el(0x0003, ui(commitment)), // RequestedSOPClassUID
      el(0x0100, us(0x0130)), // CommandField
      el(0x0110, us(2)), // MessageID
      el(0x0800, us(0x0000)), // CommandDataSetType
      el(0x1001, ui(instance)), // RequestedSOPInstanceUID
      el(0x1008, us(1)), // ActionTypeID
    ),
  );
});

Deno.test("N-EVENT-REPORT-RQ carries Affected SOP Instance UID and Event Type ID", () => {
  const commitment = "1.2.840.10008.1.20.1";
  const instance = "1.2.840.10008.1.20.1.1";
  assertVector(
    "N-EVENT-REPORT-RQ",
    {
      affectedSopClassUid: commitment,
      commandField: CommandField.N_EVENT_REPORT_RQ,
      messageId: 4,
      commandDataSetType: 0x0000,
      affectedSopInstanceUid: instance,
      eventTypeId: 2,
    },
    commandSet(
      el(0x0002, ui(commitment)), // AffectedSOPClassUID
      el(0x0100, us(0x0100)), // CommandField
      el(0x0110, us(4)), // MessageID
      el(0x0800, us(0x0000)), // CommandDataSetType
      el(0x1000, ui(instance)), // AffectedSOPInstanceUID
      el(0x1002, us(2)), // EventTypeID
    ),
  );
});

Deno.test("N-GET-RQ carries an Attribute Identifier List as (group, element) pairs", () => {
  const mpps = "1.2.840.10008.3.1.2.3.3";
  const instance = "1.2.3.4.5.6";
  assertVector(
    "N-GET-RQ",
    {
      requestedSopClassUid: mpps,
      commandField: CommandField.N_GET_RQ,
      messageId: 6,
      commandDataSetType: 0x0101,
      requestedSopInstanceUid: instance,
      attributeIdentifierList: [0x00100010, 0x00100020, 0x00400252],
    },
    commandSet(
      el(0x0003, ui(mpps)), // RequestedSOPClassUID
      el(0x0100, us(0x0110)), // CommandField
      el(0x0110, us(6)), // MessageID
      el(0x0800, us(0x0101)), // CommandDataSetType
      el(0x1001, ui(instance)), // RequestedSOPInstanceUID
      el(0x1005, at(0x00100010, 0x00100020, 0x00400252)), // AttributeIdentifierList
    ),
  );
});

Deno.test("a failure response carries Offending Element, Error Comment and Error ID", () => {
  assertVector(
    "N-SET-RSP failure",
    {
      affectedSopClassUid: "1.2.840.10008.3.1.2.3.3",
      commandField: CommandField.N_SET_RSP,
      messageIdBeingRespondedTo: 8,
      commandDataSetType: 0x0101,
      status: 0x0106,
      offendingElement: [0x00080020, 0x7fe00010],
      errorComment: "Invalid attribute value",
      errorId: 0x0042,
      affectedSopInstanceUid: "1.2.3",
    },
    commandSet(
      el(0x0002, ui("1.2.840.10008.3.1.2.3.3")), // AffectedSOPClassUID
      el(0x0100, us(0x8120)), // CommandField
      el(0x0120, us(8)), // MessageIDBeingRespondedTo
      el(0x0800, us(0x0101)), // CommandDataSetType
      el(0x0900, us(0x0106)), // Status: invalid attribute value
      el(0x0901, at(0x00080020, 0x7fe00010)), // OffendingElement
      el(0x0902, text("Invalid attribute value")), // ErrorComment (23 chars + space)
      el(0x0903, us(0x0042)), // ErrorID
      el(0x1000, ui("1.2.3")), // AffectedSOPInstanceUID
    ),
  );
});

Deno.test("decoding strips padding and ignores retired group 0000 elements", () => {
  const bytes = commandSet(
    el(0x0001, le32(0)), // retired CommandLengthToEnd
    el(0x0002, [...ascii("1.2.3"), 0x00, 0x00, 0x00]), // UID with extra NULs
    el(0x0100, us(0x0021)),
    el(0x0600, text("  DEST  ")), // MoveDestination, spaces either side
    el(0x0800, us(0x0101)),
    el(0x4000, ascii("OLD ")), // retired DialogReceiver
  );
  assert.deepEqual(decodeCommandSet(bytes), {
    affectedSopClassUid: "1.2.3",
    commandField: 0x0021,
    moveDestination: "DEST",
    commandDataSetType: 0x0101,
  });
});

Deno.test("decoded strings are ISO 8859-1, one character per byte, at any length", () => {
  const comment = [0x43, 0x61, 0x66, 0xe9, 0x20, 0x80, 0xff]; // "Café", U+0080, U+00FF
  const long = "9".repeat(5000); // longer than any command set value should be
  const bytes = commandSet(
    el(0x0002, ui(long)),
    el(0x0100, us(0x8001)),
    el(0x0800, us(0x0101)),
    el(0x0902, [...comment, 0x20]),
  );
  assert.deepEqual(decodeCommandSet(bytes), {
    affectedSopClassUid: long,
    commandField: 0x8001,
    commandDataSetType: 0x0101,
    errorComment: "Caf\u00e9 \u0080\u00ff",
  });
  // Strings of every length up to the longest UID.
  for (let n = 0; n <= 64; n++) {
    const uid = "1.".repeat(32).slice(0, n);
    const command: CommandSet = {
      affectedSopInstanceUid: uid,
      commandField: CommandField.C_STORE_RSP,
      commandDataSetType: 0x0101,
    };
    const decoded = decodeCommandSet(encodeCommandSet(command));
    assert.equal(decoded.affectedSopInstanceUid, uid.replace(/\0$/, ""), `length ${n}`);
  }
});

Deno.test("command sets round-trip across a growth of the codec's memory", () => {
  const small: CommandSet = {
    affectedSopClassUid: VERIFICATION,
    commandField: CommandField.C_ECHO_RQ,
    messageId: 1,
    commandDataSetType: 0x0101,
  };
  const smallBytes = encodeCommandSet(small);
  // 2 MiB of tags: more than the codec's memory holds at the start, so it grows (and the
  // views of it taken before are of a buffer no longer in use).
  const tags = Array.from({ length: 1 << 19 }, (_, i) => (i * 2654435761) >>> 0);
  const large: CommandSet = {
    requestedSopClassUid: "1.2.840.10008.3.1.2.3.3",
    commandField: CommandField.N_GET_RQ,
    messageId: 2,
    commandDataSetType: 0x0101,
    requestedSopInstanceUid: INSTANCE,
    attributeIdentifierList: tags,
  };
  const largeBytes = encodeCommandSet(large);
  assert.ok(largeBytes.length > 4 * tags.length);
  assert.deepEqual(decodeCommandSet(largeBytes), large);
  assert.deepEqual(encodeCommandSet(small), smallBytes);
  assert.deepEqual(decodeCommandSet(smallBytes), small);
});

Deno.test("a command set refused for a bad value leaves nothing of it in the next one", () => {
  const refused = {
    affectedSopClassUid: CT_IMAGE,
    commandField: CommandField.C_STORE_RSP,
    messageIdBeingRespondedTo: 1,
    commandDataSetType: 0x0101,
    status: 0x10000, // too large for US: found while the entries are written
    affectedSopInstanceUid: INSTANCE,
  };
  assert.throws(() => encodeCommandSet(refused), CommandSetError);
  assert.throws(
    () => encodeCommandSet({ ...refused, status: 0, offendingElement: 5 as unknown as number[] }),
    CommandSetError,
  );
  const echo: CommandSet = { commandField: CommandField.C_ECHO_RQ, commandDataSetType: 0x0101 };
  assert.deepEqual(
    [...encodeCommandSet(echo)],
    [...commandSet(el(0x0100, us(0x0030)), el(0x0800, us(0x0101)))],
  );
});

// ---- DCMTK conversations (tests/fixtures/dcmtk/) ----

const FIXTURES = new URL("../fixtures/dcmtk/", import.meta.url);

/** The single command PDV of a captured P-DATA-TF PDU (PS3.8 §9.3.5). */
function commandOf(file: string): Uint8Array {
  const pdu = Deno.readFileSync(new URL(file, FIXTURES));
  assert.equal(pdu[0], 0x04, `${file} is a P-DATA-TF PDU`);
  const view = new DataView(pdu.buffer, pdu.byteOffset, pdu.byteLength);
  const itemLength = view.getUint32(6);
  assert.equal(pdu[11] & 0x03, 0x03, `${file} holds a whole command in one PDV`);
  return pdu.subarray(12, 10 + itemLength);
}

const DCMTK_COMMANDS: [string, CommandSet][] = [
  ["echoscu_03_scu_p-data-tf.bin", {
    affectedSopClassUid: VERIFICATION,
    commandField: CommandField.C_ECHO_RQ,
    messageId: 1,
    commandDataSetType: 0x0101,
  }],
  ["echoscu_04_scp_p-data-tf.bin", {
    affectedSopClassUid: VERIFICATION,
    commandField: CommandField.C_ECHO_RSP,
    messageIdBeingRespondedTo: 1,
    commandDataSetType: 0x0101,
    status: 0,
  }],
  ["storescu_03_scu_p-data-tf.bin", {
    affectedSopClassUid: CT_IMAGE,
    commandField: CommandField.C_STORE_RQ,
    messageId: 1,
    priority: 0,
    commandDataSetType: 0x0001,
    affectedSopInstanceUid: INSTANCE,
  }],
  ["storescu_05_scp_p-data-tf.bin", {
    affectedSopClassUid: CT_IMAGE,
    commandField: CommandField.C_STORE_RSP,
    messageIdBeingRespondedTo: 1,
    commandDataSetType: 0x0101,
    status: 0,
    affectedSopInstanceUid: INSTANCE,
  }],
];

for (const [file, expected] of DCMTK_COMMANDS) {
  Deno.test(`DCMTK command set in ${file} decodes to its fields and re-encodes byte-exact`, () => {
    const bytes = commandOf(file);
    assert.deepEqual(decodeCommandSet(bytes), expected);
    assert.deepEqual([...encodeCommandSet(expected)], [...bytes]);
  });
}

// ---- random round trips ----

function randomCommand(random: () => number): CommandSet {
  const int = (n: number) => Math.floor(random() * n);
  const uid = () => {
    const parts = 1 + int(12);
    const s = Array.from({ length: parts }, () => String(int(100000))).join(".");
    return s.slice(0, 64).replace(/\.$/, "");
  };
  const word = (max: number) => {
    const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_- ";
    let s = "";
    const n = 1 + int(max);
    for (let i = 0; i < n; i++) s += chars[int(chars.length)];
    return s.trim() || "X";
  };
  const us = () => int(0x10000);
  const tags = () => Array.from({ length: int(5) }, () => int(0x100000000));
  const fields = Object.values(CommandField);
  const c: CommandSet = {
    commandField: fields[int(fields.length)],
    commandDataSetType: random() < 0.5 ? 0x0101 : us(),
  };
  const maybe = () => random() < 0.4;
  if (maybe()) c.affectedSopClassUid = uid();
  if (maybe()) c.requestedSopClassUid = uid();
  if (maybe()) c.messageId = us();
  if (maybe()) c.messageIdBeingRespondedTo = us();
  if (maybe()) c.moveDestination = word(16);
  if (maybe()) c.priority = int(3);
  if (maybe()) c.status = us();
  if (maybe()) c.offendingElement = tags();
  if (maybe()) c.errorComment = word(64);
  if (maybe()) c.errorId = us();
  if (maybe()) c.affectedSopInstanceUid = uid();
  if (maybe()) c.requestedSopInstanceUid = uid();
  if (maybe()) c.eventTypeId = us();
  if (maybe()) c.attributeIdentifierList = tags();
  if (maybe()) c.actionTypeId = us();
  if (maybe()) c.numberOfRemainingSuboperations = us();
  if (maybe()) c.numberOfCompletedSuboperations = us();
  if (maybe()) c.numberOfFailedSuboperations = us();
  if (maybe()) c.numberOfWarningSuboperations = us();
  if (maybe()) c.moveOriginatorApplicationEntityTitle = word(16);
  if (maybe()) c.moveOriginatorMessageId = us();
  return c;
}

Deno.test("5000 random command sets round-trip through encode and decode", () => {
  const random = mulberry32(0x5eed);
  for (let i = 0; i < 5000; i++) {
    const command = randomCommand(random);
    const bytes = encodeCommandSet(command);
    assert.equal(bytes.length % 2, 0, "command set length is even");
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    assert.equal(view.getUint32(8, true), bytes.length - 12, "group length counts the rest");
    // Tags ascend (PS3.5 §7.1).
    let previous = -1;
    for (let p = 0; p < bytes.length; p += 8 + view.getUint32(p + 4, true)) {
      assert.equal(view.getUint16(p, true), 0, "group 0000");
      const element = view.getUint16(p + 2, true);
      assert.ok(element > previous, `elements ascend at ${p}`);
      assert.equal(view.getUint32(p + 4, true) % 2, 0, "value lengths are even");
      previous = element;
    }
    assert.deepEqual(decodeCommandSet(bytes), command, `round trip #${i}`);
  }
});

// ---- malformed input ----

function assertCommandSetError(bytes: Uint8Array, code: string, field: string): void {
  assert.throws(() => decodeCommandSet(bytes), (e: unknown) => {
    assert.ok(e instanceof CommandSetError, `a CommandSetError, got ${e}`);
    assert.equal(e.code, code);
    assert.equal(e.field, field);
    return true;
  });
}

const ECHO_ELEMENTS = [
  el(0x0002, ui(VERIFICATION)),
  el(0x0100, us(0x0030)),
  el(0x0110, us(1)),
  el(0x0800, us(0x0101)),
];

Deno.test("an element whose length overruns the command set throws length-overrun", () => {
  const bytes = commandSet(...ECHO_ELEMENTS, [0x00, 0x00, 0x00, 0x09, 0x40, 0x00, 0x00, 0x00]);
  assertCommandSetError(bytes, "length-overrun", "(0000,0900) Status");
  const truncatedHeader = commandSet(...ECHO_ELEMENTS, [0x00, 0x00, 0x02, 0x09, 0x01, 0x00]);
  assertCommandSetError(truncatedHeader, "length-overrun", "(0000,0902) ErrorComment");
});

Deno.test("a command set without Command Field throws missing-command-field", () => {
  const bytes = commandSet(el(0x0002, ui(VERIFICATION)), el(0x0800, us(0x0101)));
  assertCommandSetError(bytes, "missing-command-field", "(0000,0100) CommandField");
});

Deno.test("a command set without Command Data Set Type throws missing-command-data-set-type", () => {
  const bytes = commandSet(el(0x0100, us(0x0030)));
  assertCommandSetError(bytes, "missing-command-data-set-type", "(0000,0800) CommandDataSetType");
});

Deno.test("an element outside group 0000 throws element-outside-group", () => {
  const stray = [0x08, 0x00, 0x18, 0x00, 0x02, 0x00, 0x00, 0x00, 0x31, 0x00];
  const bytes = commandSet(...ECHO_ELEMENTS, stray);
  assertCommandSetError(bytes, "element-outside-group", "(0008,0018)");
});

Deno.test("a wrong or missing Command Group Length throws invalid-group-length", () => {
  const good = commandSet(...ECHO_ELEMENTS);
  const wrong = good.slice();
  wrong[8] += 2;
  assertCommandSetError(wrong, "invalid-group-length", "(0000,0000) CommandGroupLength");
  const missing = new Uint8Array(ECHO_ELEMENTS.flat());
  assertCommandSetError(missing, "invalid-group-length", "(0000,0000) CommandGroupLength");
  assertCommandSetError(
    new Uint8Array(0),
    "invalid-group-length",
    "(0000,0000) CommandGroupLength",
  );
});

Deno.test("a US element of length 4 throws invalid-value-length", () => {
  const bytes = commandSet(el(0x0100, le32(0x30)), el(0x0800, us(0x0101)));
  assertCommandSetError(bytes, "invalid-value-length", "(0000,0100) CommandField");
});

Deno.test("encoding rejects values that do not fit their VR", () => {
  const base: CommandSet = { commandField: CommandField.C_ECHO_RQ, commandDataSetType: 0x0101 };
  assert.throws(
    () => encodeCommandSet({ ...base, messageId: 0x10000 }),
    (e: unknown) => e instanceof CommandSetError && e.field === "(0000,0110) MessageID",
  );
  assert.throws(
    () => encodeCommandSet({ ...base, moveDestination: "AN-AE-TITLE-LONGER-THAN-16" }),
    (e: unknown) => e instanceof CommandSetError && e.code === "value-too-long",
  );
  assert.throws(
    () => encodeCommandSet({ ...base, affectedSopClassUid: "1.2.3".repeat(20) }),
    (e: unknown) => e instanceof CommandSetError && e.code === "value-too-long",
  );
  assert.throws(
    () => encodeCommandSet({ ...base, errorComment: "naïve ☃" }),
    (e: unknown) => e instanceof CommandSetError && e.code === "invalid-value",
  );
});

Deno.test("random byte strings either decode or throw CommandSetError", () => {
  const random = mulberry32(42);
  const seed = encodeCommandSet(randomCommand(mulberry32(7)));
  for (let i = 0; i < 3000; i++) {
    const bytes = random() < 0.5
      ? seed.map((b) => (random() < 0.05 ? Math.floor(random() * 256) : b))
      : new Uint8Array(Math.floor(random() * 64)).map(() => Math.floor(random() * 256));
    try {
      const c = decodeCommandSet(bytes);
      assert.equal(typeof c.commandField, "number");
    } catch (e) {
      assert.ok(e instanceof CommandSetError, `only CommandSetError, got ${e}`);
    }
  }
});
