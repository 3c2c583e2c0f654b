// Byte-checked DIMSE-N command sets (PS3.7 §10.3, Annex E): the expected bytes are built here
// from the standard's field tables (tag, VR, value), independently of the codec, then compared
// with what the codec encodes and decoded back.
import assert from "node:assert/strict";
import { CommandField, type CommandSet } from "../../src/dimse/command.ts";
import { decodeCommandSet, encodeCommandSet } from "../../src/dimse/command_codec.ts";
import { Status } from "../../src/dimse/status.ts";

type Vr = "UI" | "US" | "UL" | "AT" | "LO" | "AE";
type Field = [element: number, vr: Vr, value: string | number | number[]];

/** Encodes one element of group 0000 in implicit VR little endian (PS3.5 §7.1.3). */
function element(element: number, vr: Vr, value: string | number | number[]): number[] {
  let bytes: number[];
  if (vr === "US") bytes = [(value as number) & 0xff, (value as number) >> 8];
  else if (vr === "UL") {
    const v = value as number;
    bytes = [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
  } else if (vr === "AT") {
    bytes = (value as number[]).flatMap((tag) => {
      const group = tag >>> 16;
      const el = tag & 0xffff;
      return [group & 0xff, group >> 8, el & 0xff, el >> 8];
    });
  } else {
    const text = value as string;
    bytes = [...text].map((c) => c.charCodeAt(0));
    // PS3.5 §6.2: UI is padded with NUL, other strings with a space.
    if (bytes.length % 2 === 1) bytes.push(vr === "UI" ? 0x00 : 0x20);
  }
  const n = bytes.length;
  return [
    0,
    0,
    element & 0xff,
    element >> 8,
    n & 0xff,
    (n >> 8) & 0xff,
    n >> 16,
    n >>> 24,
    ...bytes,
  ];
}

/** The whole command set: (0000,0000) Command Group Length first, then the fields in tag order. */
function commandBytes(fields: Field[]): Uint8Array {
  const body = fields.flatMap(([e, vr, v]) => element(e, vr, v));
  return new Uint8Array([...element(0x0000, "UL", body.length), ...body]);
}

const CLASS = "1.2.840.10008.3.1.2.3.3";
const INSTANCE = "1.2.826.0.1.3680043.10.1.2.3";

interface Case {
  name: string;
  command: CommandSet;
  fields: Field[];
}

// PS3.7 Tables 10.3-1 to 10.3-12: each request and response with every field it can carry.
const CASES: Case[] = [
  {
    name: "N-EVENT-REPORT-RQ (Table 10.3-1)",
    command: {
      affectedSopClassUid: CLASS,
      commandField: CommandField.N_EVENT_REPORT_RQ,
      messageId: 7,
      commandDataSetType: 0x0000,
      affectedSopInstanceUid: INSTANCE,
      eventTypeId: 2,
    },
    fields: [
      [0x0002, "UI", CLASS],
      [0x0100, "US", 0x0100],
      [0x0110, "US", 7],
      [0x0800, "US", 0x0000],
      [0x1000, "UI", INSTANCE],
      [0x1002, "US", 2],
    ],
  },
  {
    name: "N-EVENT-REPORT-RSP (Table 10.3-2)",
    command: {
      affectedSopClassUid: CLASS,
      commandField: CommandField.N_EVENT_REPORT_RSP,
      messageIdBeingRespondedTo: 7,
      commandDataSetType: 0x0101,
      status: Status.NO_SUCH_EVENT_TYPE,
      affectedSopInstanceUid: INSTANCE,
      eventTypeId: 2,
    },
    fields: [
      [0x0002, "UI", CLASS],
      [0x0100, "US", 0x8100],
      [0x0120, "US", 7],
      [0x0800, "US", 0x0101],
      [0x0900, "US", 0x0113],
      [0x1000, "UI", INSTANCE],
      [0x1002, "US", 2],
    ],
  },
  {
    name: "N-GET-RQ (Table 10.3-3)",
    command: {
      requestedSopClassUid: CLASS,
      commandField: CommandField.N_GET_RQ,
      messageId: 65535,
      commandDataSetType: 0x0101,
      requestedSopInstanceUid: INSTANCE,
      attributeIdentifierList: [0x00100010, 0x00400252, 0x00081032],
    },
    fields: [
      [0x0003, "UI", CLASS],
      [0x0100, "US", 0x0110],
      [0x0110, "US", 65535],
      [0x0800, "US", 0x0101],
      [0x1001, "UI", INSTANCE],
      [0x1005, "AT", [0x00100010, 0x00400252, 0x00081032]],
    ],
  },
  {
    name: "N-GET-RSP (Table 10.3-4)",
    command: {
      affectedSopClassUid: CLASS,
      commandField: CommandField.N_GET_RSP,
      messageIdBeingRespondedTo: 65535,
      commandDataSetType: 0x0000,
      status: Status.ATTRIBUTE_LIST_ERROR,
      affectedSopInstanceUid: INSTANCE,
      attributeIdentifierList: [0x00400252],
    },
    fields: [
      [0x0002, "UI", CLASS],
      [0x0100, "US", 0x8110],
      [0x0120, "US", 65535],
      [0x0800, "US", 0x0000],
      [0x0900, "US", 0x0107],
      [0x1000, "UI", INSTANCE],
      [0x1005, "AT", [0x00400252]],
    ],
  },
  {
    name: "N-SET-RQ (Table 10.3-5)",
    command: {
      requestedSopClassUid: CLASS,
      commandField: CommandField.N_SET_RQ,
      messageId: 3,
      commandDataSetType: 0x0000,
      requestedSopInstanceUid: INSTANCE,
    },
    fields: [
      [0x0003, "UI", CLASS],
      [0x0100, "US", 0x0120],
      [0x0110, "US", 3],
      [0x0800, "US", 0x0000],
      [0x1001, "UI", INSTANCE],
    ],
  },
  {
    name: "N-SET-RSP (Table 10.3-6) with Invalid attribute value",
    command: {
      affectedSopClassUid: CLASS,
      commandField: CommandField.N_SET_RSP,
      messageIdBeingRespondedTo: 3,
      commandDataSetType: 0x0101,
      status: Status.INVALID_ATTRIBUTE_VALUE,
      offendingElement: [0x00400252],
      errorComment: "Performed Procedure Step Status invalid",
      affectedSopInstanceUid: INSTANCE,
    },
    fields: [
      [0x0002, "UI", CLASS],
      [0x0100, "US", 0x8120],
      [0x0120, "US", 3],
      [0x0800, "US", 0x0101],
      [0x0900, "US", 0x0106],
      [0x0901, "AT", [0x00400252]],
      [0x0902, "LO", "Performed Procedure Step Status invalid"],
      [0x1000, "UI", INSTANCE],
    ],
  },
  {
    name: "N-ACTION-RQ (Table 10.3-7)",
    command: {
      requestedSopClassUid: "1.2.840.10008.1.20.1",
      commandField: CommandField.N_ACTION_RQ,
      messageId: 0x1234,
      commandDataSetType: 0x0000,
      requestedSopInstanceUid: "1.2.840.10008.1.20.1.1",
      actionTypeId: 1,
    },
    fields: [
      [0x0003, "UI", "1.2.840.10008.1.20.1"],
      [0x0100, "US", 0x0130],
      [0x0110, "US", 0x1234],
      [0x0800, "US", 0x0000],
      [0x1001, "UI", "1.2.840.10008.1.20.1.1"],
      [0x1008, "US", 1],
    ],
  },
  {
    name: "N-ACTION-RSP (Table 10.3-8) with No such action",
    command: {
      affectedSopClassUid: "1.2.840.10008.1.20.1",
      commandField: CommandField.N_ACTION_RSP,
      messageIdBeingRespondedTo: 0x1234,
      commandDataSetType: 0x0101,
      status: Status.NO_SUCH_ACTION,
      affectedSopInstanceUid: "1.2.840.10008.1.20.1.1",
      actionTypeId: 9,
    },
    fields: [
      [0x0002, "UI", "1.2.840.10008.1.20.1"],
      [0x0100, "US", 0x8130],
      [0x0120, "US", 0x1234],
      [0x0800, "US", 0x0101],
      [0x0900, "US", 0x0123],
      [0x1000, "UI", "1.2.840.10008.1.20.1.1"],
      [0x1008, "US", 9],
    ],
  },
  {
    name: "N-CREATE-RQ (Table 10.3-9)",
    command: {
      affectedSopClassUid: CLASS,
      commandField: CommandField.N_CREATE_RQ,
      messageId: 1,
      commandDataSetType: 0x0000,
      affectedSopInstanceUid: INSTANCE,
    },
    fields: [
      [0x0002, "UI", CLASS],
      [0x0100, "US", 0x0140],
      [0x0110, "US", 1],
      [0x0800, "US", 0x0000],
      [0x1000, "UI", INSTANCE],
    ],
  },
  {
    name: "N-CREATE-RQ without Affected SOP Instance UID (Table 10.3-9, U)",
    command: {
      affectedSopClassUid: CLASS,
      commandField: CommandField.N_CREATE_RQ,
      messageId: 2,
      commandDataSetType: 0x0000,
    },
    fields: [
      [0x0002, "UI", CLASS],
      [0x0100, "US", 0x0140],
      [0x0110, "US", 2],
      [0x0800, "US", 0x0000],
    ],
  },
  {
    name: "N-CREATE-RSP (Table 10.3-10) with Processing failure",
    command: {
      affectedSopClassUid: CLASS,
      commandField: CommandField.N_CREATE_RSP,
      messageIdBeingRespondedTo: 1,
      commandDataSetType: 0x0101,
      status: Status.PROCESSING_FAILURE,
      errorComment: "Disk full",
      errorId: 0x0042,
      affectedSopInstanceUid: INSTANCE,
    },
    fields: [
      [0x0002, "UI", CLASS],
      [0x0100, "US", 0x8140],
      [0x0120, "US", 1],
      [0x0800, "US", 0x0101],
      [0x0900, "US", 0x0110],
      [0x0902, "LO", "Disk full"],
      [0x0903, "US", 0x0042],
      [0x1000, "UI", INSTANCE],
    ],
  },
  {
    name: "N-DELETE-RQ (Table 10.3-11)",
    command: {
      requestedSopClassUid: CLASS,
      commandField: CommandField.N_DELETE_RQ,
      messageId: 9,
      commandDataSetType: 0x0101,
      requestedSopInstanceUid: INSTANCE,
    },
    fields: [
      [0x0003, "UI", CLASS],
      [0x0100, "US", 0x0150],
      [0x0110, "US", 9],
      [0x0800, "US", 0x0101],
      [0x1001, "UI", INSTANCE],
    ],
  },
  {
    name: "N-DELETE-RSP (Table 10.3-12)",
    command: {
      affectedSopClassUid: CLASS,
      commandField: CommandField.N_DELETE_RSP,
      messageIdBeingRespondedTo: 9,
      commandDataSetType: 0x0101,
      status: Status.SUCCESS,
      affectedSopInstanceUid: INSTANCE,
    },
    fields: [
      [0x0002, "UI", CLASS],
      [0x0100, "US", 0x8150],
      [0x0120, "US", 9],
      [0x0800, "US", 0x0101],
      [0x0900, "US", 0x0000],
      [0x1000, "UI", INSTANCE],
    ],
  },
];

for (const c of CASES) {
  Deno.test(`${c.name} encodes to the bytes of its field table and decodes back`, () => {
    const expected = commandBytes(c.fields);
    assert.deepEqual(encodeCommandSet(c.command), expected);
    assert.deepEqual(decodeCommandSet(expected), c.command);
  });
}

// PS3.7 Annex C statuses a DIMSE-N response carries, with the values the standard assigns.
const STATUSES: [string, number, number][] = [
  ["Attribute list error", Status.ATTRIBUTE_LIST_ERROR, 0x0107],
  ["Attribute value out of range", Status.ATTRIBUTE_VALUE_OUT_OF_RANGE, 0x0116],
  ["No such attribute", Status.NO_SUCH_ATTRIBUTE, 0x0105],
  ["Invalid attribute value", Status.INVALID_ATTRIBUTE_VALUE, 0x0106],
  ["Processing failure", Status.PROCESSING_FAILURE, 0x0110],
  ["Duplicate SOP instance", Status.DUPLICATE_SOP_INSTANCE, 0x0111],
  ["No such SOP instance", Status.NO_SUCH_SOP_INSTANCE, 0x0112],
  ["No such event type", Status.NO_SUCH_EVENT_TYPE, 0x0113],
  ["No such argument", Status.NO_SUCH_ARGUMENT, 0x0114],
  ["Invalid argument value", Status.INVALID_ARGUMENT_VALUE, 0x0115],
  ["Invalid object instance", Status.INVALID_OBJECT_INSTANCE, 0x0117],
  ["No such SOP class", Status.NO_SUCH_SOP_CLASS, 0x0118],
  ["Class-instance conflict", Status.CLASS_INSTANCE_CONFLICT, 0x0119],
  ["Missing attribute", Status.MISSING_ATTRIBUTE, 0x0120],
  ["Missing attribute value", Status.MISSING_ATTRIBUTE_VALUE, 0x0121],
  ["SOP class not supported", Status.SOP_CLASS_NOT_SUPPORTED, 0x0122],
  ["No such action type", Status.NO_SUCH_ACTION, 0x0123],
  ["Not authorized", Status.NOT_AUTHORIZED, 0x0124],
  ["Duplicate invocation", Status.DUPLICATE_INVOCATION, 0x0210],
  ["Unrecognized operation", Status.UNRECOGNIZED_OPERATION, 0x0211],
  ["Mistyped argument", Status.MISTYPED_ARGUMENT, 0x0212],
  ["Resource limitation", Status.RESOURCE_LIMITATION, 0x0213],
];

for (const [name, constant, value] of STATUSES) {
  Deno.test(`status ${name} is ${value.toString(16).padStart(4, "0")} on the wire`, () => {
    assert.equal(constant, value);
    const command: CommandSet = {
      affectedSopClassUid: CLASS,
      commandField: CommandField.N_SET_RSP,
      messageIdBeingRespondedTo: 5,
      commandDataSetType: 0x0101,
      status: constant,
      affectedSopInstanceUid: INSTANCE,
    };
    const expected = commandBytes([
      [0x0002, "UI", CLASS],
      [0x0100, "US", 0x8120],
      [0x0120, "US", 5],
      [0x0800, "US", 0x0101],
      [0x0900, "US", value],
      [0x1000, "UI", INSTANCE],
    ]);
    assert.deepEqual(encodeCommandSet(command), expected);
    assert.equal(decodeCommandSet(expected).status, value);
  });
}

Deno.test("an odd-length Error Comment is padded with a space and read back without it", () => {
  const command: CommandSet = {
    commandField: CommandField.N_SET_RSP,
    messageIdBeingRespondedTo: 1,
    commandDataSetType: 0x0101,
    status: Status.PROCESSING_FAILURE,
    errorComment: "No space left",
  };
  const bytes = encodeCommandSet(command);
  assert.equal(command.errorComment!.length % 2, 1);
  assert.deepEqual(
    bytes,
    commandBytes([
      [0x0100, "US", 0x8120],
      [0x0120, "US", 1],
      [0x0800, "US", 0x0101],
      [0x0900, "US", 0x0110],
      [0x0902, "LO", command.errorComment!],
    ]),
  );
  assert.deepEqual(decodeCommandSet(bytes), command);
});
