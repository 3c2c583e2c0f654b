// The bytes the dispatcher sends for a message: the P-DATA-TF PDUs of its encoded command set
// (and data set), as a PDataWriter lays them out, whatever the encoder hands the writer.
import assert from "node:assert/strict";
import { CommandField, type CommandSet, NO_DATA_SET } from "../../src/dimse/command.ts";
import { decodeCommandSet, encodeCommandSet } from "../../src/dimse/command_codec.ts";
import { Dispatcher } from "../../src/dimse/dispatcher.ts";
import type { NegotiatedAssociation } from "../../src/ul/negotiation.ts";
import { PDataWriter } from "../../src/ul/pdata.ts";

const CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2";
const STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1";
/** A SOP Instance UID of the longest length, 64 characters. */
const UID_64 = "1.2.826.0.1.3680043.8.1055.1.20111103111148288.98361414.79379639";

const C_STORE_RSP: CommandSet = {
  affectedSopClassUid: CT_IMAGE,
  commandField: CommandField.C_STORE_RSP,
  messageIdBeingRespondedTo: 7,
  commandDataSetType: NO_DATA_SET,
  status: 0x0000,
  affectedSopInstanceUid: UID_64,
};

const C_FIND_RSP_FAILURE: CommandSet = {
  affectedSopClassUid: STUDY_ROOT_FIND,
  commandField: CommandField.C_FIND_RSP,
  messageIdBeingRespondedTo: 3,
  commandDataSetType: NO_DATA_SET,
  status: 0xa900,
  offendingElement: [0x00100010, 0x00080052],
  errorComment: "Identifier does not match SOP Class",
};

/** Commands of every kind of field: strings odd and even, numbers, tags, AE titles. */
const COMMANDS: CommandSet[] = [
  C_STORE_RSP,
  C_FIND_RSP_FAILURE,
  {
    affectedSopClassUid: "1.2.840.10008.1.1",
    commandField: CommandField.C_ECHO_RSP,
    messageIdBeingRespondedTo: 1,
    commandDataSetType: NO_DATA_SET,
    status: 0,
  },
  {
    affectedSopClassUid: CT_IMAGE,
    commandField: CommandField.C_STORE_RQ,
    messageId: 65535,
    priority: 2,
    commandDataSetType: 0,
    affectedSopInstanceUid: "1.2.3",
    moveOriginatorApplicationEntityTitle: "MOVESCU",
    moveOriginatorMessageId: 9,
  },
  {
    affectedSopClassUid: "1.2.840.10008.5.1.4.1.2.2.2",
    commandField: CommandField.C_MOVE_RSP,
    messageIdBeingRespondedTo: 12,
    commandDataSetType: NO_DATA_SET,
    status: 0xff00,
    numberOfRemainingSuboperations: 3,
    numberOfCompletedSuboperations: 2,
    numberOfFailedSuboperations: 1,
    numberOfWarningSuboperations: 0,
  },
  {
    requestedSopClassUid: "1.2.840.10008.3.1.2.3.3",
    commandField: CommandField.N_GET_RQ,
    messageId: 5,
    commandDataSetType: NO_DATA_SET,
    requestedSopInstanceUid: "1.2.826.0.1.3680043.10.1.99",
    attributeIdentifierList: [0x00100010, 0x00100020, 0x7fe00010],
  },
];

/** A dispatcher whose P-DATA goes to `sent`, one entry per write, copied. */
function dispatcherTo(sent: Uint8Array[], peerMaxPduLength: number): Dispatcher {
  const negotiated = {
    peerMaxPduLength,
    accepted: [],
    maxOperationsInvoked: 1,
    maxOperationsPerformed: 1,
  } as unknown as NegotiatedAssociation;
  return new Dispatcher({
    sink: {
      sendPData(pdus) {
        sent.push(pdus.slice());
        return Promise.resolve();
      },
    },
    negotiated,
    onRequest: () => Promise.resolve(),
  });
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("a message without a data set is sent as the P-DATA-TF of its command set, byte for byte", async () => {
  for (const maxPduLength of [16384, 64, 20, 7]) {
    for (const command of COMMANDS) {
      const sent: Uint8Array[] = [];
      await dispatcherTo(sent, maxPduLength).sendMessage(255, command);
      const expected = new PDataWriter({ maxPduLength })
        .writeAndFlush(255, true, encodeCommandSet(command), true);
      assert.equal(sent.length, 1, "one write");
      assert.equal(hex(sent[0]), hex(expected), `${command.commandField} at ${maxPduLength}`);
    }
  }
});

Deno.test("a C-STORE-RSP and a fragmented C-FIND-RSP go out as the same bytes as before", async () => {
  // Written by the dispatcher of commit c6b2438.
  const storeRsp = [
    "0400000000a4000000a0ff03000000000400000092000000000002001a000000312e322e3834302e31303030",
    "382e352e312e342e312e312e3200000000010200000001800000200102000000070000000008020000000101",
    "000000090200000000000000001040000000312e322e3832362e302e312e333638303034332e382e31303535",
    "2e312e32303131313130333131313134383238382e39383336313431342e3739333739363339",
  ].join("");
  const findRspIn20 = [
    "04000000001400000010ff01000000000400000088000000000004000000001400000010ff0102001c000000",
    "312e322e3834302e04000000001400000010ff0131303030382e352e312e342e312e04000000001400000010",
    "ff01322e322e3100000000010200000004000000001400000010ff0120800000200102000000030000000400",
    "0000001400000010ff01000802000000010100000009020004000000001400000010ff01000000a900000109",
    "08000000100004000000001400000010ff01100008005200000002092400000004000000001400000010ff01",
    "4964656e74696669657220646f6504000000001400000010ff0173206e6f74206d6174636820534f04000000",
    "000e0000000aff035020436c61737320",
  ].join("");
  let sent: Uint8Array[] = [];
  await dispatcherTo(sent, 16384).sendMessage(255, C_STORE_RSP);
  assert.equal(hex(sent[0]), storeRsp);
  sent = [];
  await dispatcherTo(sent, 20).sendMessage(255, C_FIND_RSP_FAILURE);
  assert.equal(hex(sent[0]), findRspIn20);
});

Deno.test("a message with a data set is sent as its command and data set PDUs, byte for byte", async () => {
  const data = [
    new Uint8Array(300).fill(1),
    new Uint8Array(5000).fill(2),
    new Uint8Array(2).fill(3),
  ];
  const command: CommandSet = {
    affectedSopClassUid: CT_IMAGE,
    commandField: CommandField.C_STORE_RQ,
    messageId: 1,
    priority: 0,
    commandDataSetType: 0,
    affectedSopInstanceUid: UID_64,
  };
  for (const maxPduLength of [16384, 1000, 20]) {
    const sent: Uint8Array[] = [];
    await dispatcherTo(sent, maxPduLength).sendMessage(1, command, ReadableStream.from(data));
    const writer = new PDataWriter({ maxPduLength });
    const expected = [
      writer.write(1, true, encodeCommandSet(command), true).slice(),
      writer.write(1, false, data[0], false).slice(),
      writer.write(1, false, data[1], false).slice(),
      writer.writeAndFlush(1, false, data[2], true).slice(),
    ].filter((pdus) => pdus.length > 0);
    // The upper layer drops an empty write.
    const written = sent.filter((pdus) => pdus.length > 0);
    assert.deepEqual(written.map(hex), expected.map(hex), `at ${maxPduLength}`);
  }
});

Deno.test("a command set decoded while a response is being written does not change the response", async () => {
  const sent: Uint8Array[] = [];
  const other = encodeCommandSet(COMMANDS[5]);
  const negotiated = {
    peerMaxPduLength: 16384,
    accepted: [],
    maxOperationsInvoked: 1,
    maxOperationsPerformed: 1,
  } as unknown as NegotiatedAssociation;
  const dispatcher = new Dispatcher({
    sink: {
      sendPData(pdus) {
        // The codec encoding and decoding command sets is shared by every association.
        decodeCommandSet(other);
        encodeCommandSet(COMMANDS[3]);
        sent.push(pdus.slice());
        return Promise.resolve();
      },
    },
    negotiated,
    onRequest: () => Promise.resolve(),
  });
  await dispatcher.sendMessage(3, C_STORE_RSP);
  const expected = new PDataWriter({ maxPduLength: 16384 })
    .writeAndFlush(3, true, encodeCommandSet(C_STORE_RSP), true);
  assert.equal(hex(sent[0]), hex(expected));
});
