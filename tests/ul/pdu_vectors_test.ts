// deno-fmt-ignore-file -- the vectors are laid out one field per line, as in the standard's tables.
// Byte-exact vectors built by hand from the tables of PS3.8 §9.3 and PS3.7 Annex D: each decodes
// to the expected value and that value encodes to the same bytes.
import assert from "node:assert/strict";
import { decodePdu, encodePdu } from "../../src/ul/codec.ts";
import {
  type AAssociateAc,
  type AAssociateRq,
  emptyUserInformation,
  type Pdu,
  PduType,
  type UserInformation,
} from "../../src/ul/pdu.ts";

/** The bytes of an ASCII string. */
function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

function assertVector(bytes: number[], expected: Pdu): void {
  const wire = new Uint8Array(bytes);
  assert.deepEqual(decodePdu(wire), expected);
  assert.deepEqual(encodePdu(expected), wire);
}

// ---- A-ASSOCIATE-RQ, PS3.8 Table 9-11 ----

const RQ_BYTES = [
  0x01, // PDU-type A-ASSOCIATE-RQ
  0x00, // reserved
  0x00, 0x00, 0x00, 0xb2, // PDU-length 178
  0x00, 0x01, // protocol-version: bit 0
  0x00, 0x00, // reserved
  ...ascii("ANY-SCP         "), // called-AE-title, 16 bytes space-padded
  ...ascii("DIMSE-SCU       "), // calling-AE-title
  ...new Array(32).fill(0x00), // reserved
  // Application Context Item, Table 9-12
  0x10, 0x00, 0x00, 0x15, // item-type 10H, reserved, item-length 21
  ...ascii("1.2.840.10008.3.1.1.1"),
  // Presentation Context Item (RQ), Table 9-13
  0x20, 0x00, 0x00, 0x45, // item-type 20H, reserved, item-length 69
  0x01, 0x00, 0x00, 0x00, // presentation-context-ID 1, reserved ×3
  0x30, 0x00, 0x00, 0x11, // Abstract Syntax Sub-Item, Table 9-14: length 17
  ...ascii("1.2.840.10008.1.1"),
  0x40, 0x00, 0x00, 0x13, // Transfer Syntax Sub-Item, Table 9-15: length 19
  ...ascii("1.2.840.10008.1.2.1"),
  0x40, 0x00, 0x00, 0x11, // second Transfer Syntax Sub-Item: length 17
  ...ascii("1.2.840.10008.1.2"),
  // User Information Item, Table 9-16
  0x50, 0x00, 0x00, 0x08, // item-type 50H, reserved, item-length 8
  0x51, 0x00, 0x00, 0x04, // Maximum Length Sub-Item, PS3.8 Table D.1-1
  0x00, 0x00, 0x40, 0x00, // maximum-length-received 16384
];

function rqWith(userInformation: UserInformation): AAssociateRq {
  return {
    pduType: PduType.A_ASSOCIATE_RQ,
    protocolVersion: 1,
    calledAeTitle: "ANY-SCP",
    callingAeTitle: "DIMSE-SCU",
    applicationContextName: "1.2.840.10008.3.1.1.1",
    presentationContexts: [{
      presentationContextId: 1,
      abstractSyntax: "1.2.840.10008.1.1",
      transferSyntaxes: ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"],
    }],
    userInformation,
  };
}

function maximumLengthOnly(): UserInformation {
  return { ...emptyUserInformation(), maximumLength: 16384 };
}

Deno.test("A-ASSOCIATE-RQ vector with application context, presentation context and user information", () => {
  assertVector(RQ_BYTES, rqWith(maximumLengthOnly()));
});

// ---- A-ASSOCIATE-AC, PS3.8 Table 9-17 ----

Deno.test("A-ASSOCIATE-AC vector with an accepted and a rejected presentation context", () => {
  const bytes = [
    0x02, // PDU-type A-ASSOCIATE-AC
    0x00, // reserved
    0x00, 0x00, 0x00, 0xa3, // PDU-length 163
    0x00, 0x01, // protocol-version
    0x00, 0x00, // reserved
    ...ascii("ANY-SCP         "), // called-AE-title as received (not tested)
    ...ascii("DIMSE-SCU       "), // calling-AE-title as received (not tested)
    ...new Array(32).fill(0x00), // reserved
    0x10, 0x00, 0x00, 0x15, // Application Context Item, length 21
    ...ascii("1.2.840.10008.3.1.1.1"),
    // Presentation Context Item (AC), Table 9-18
    0x21, 0x00, 0x00, 0x19, // item-type 21H, reserved, item-length 25
    0x01, 0x00, 0x00, 0x00, // presentation-context-ID 1, reserved, result 0 acceptance, reserved
    0x40, 0x00, 0x00, 0x11, // Transfer Syntax Sub-Item, Table 9-19: length 17
    ...ascii("1.2.840.10008.1.2"),
    0x21, 0x00, 0x00, 0x19, // item-type 21H, item-length 25
    0x03, 0x00, 0x03, 0x00, // presentation-context-ID 3, result 3 abstract syntax not supported
    0x40, 0x00, 0x00, 0x11, // Transfer Syntax Sub-Item (not significant when rejected)
    ...ascii("1.2.840.10008.1.2"),
    0x50, 0x00, 0x00, 0x08, // User Information Item, length 8
    0x51, 0x00, 0x00, 0x04, // Maximum Length Sub-Item
    0x00, 0x00, 0x00, 0x00, // maximum-length-received 0: no limit
  ];
  const expected: AAssociateAc = {
    pduType: PduType.A_ASSOCIATE_AC,
    protocolVersion: 1,
    calledAeTitle: "ANY-SCP",
    callingAeTitle: "DIMSE-SCU",
    applicationContextName: "1.2.840.10008.3.1.1.1",
    presentationContexts: [
      { presentationContextId: 1, result: 0, transferSyntax: "1.2.840.10008.1.2" },
      { presentationContextId: 3, result: 3, transferSyntax: "1.2.840.10008.1.2" },
    ],
    userInformation: { ...emptyUserInformation(), maximumLength: 0 },
  };
  assertVector(bytes, expected);
});

// ---- A-ASSOCIATE-RJ, A-RELEASE-RQ/RP, A-ABORT, P-DATA-TF ----

Deno.test("A-ASSOCIATE-RJ vector: rejected-permanent by the service user, called AE title not recognized", () => {
  assertVector(
    [
      0x03, // PDU-type A-ASSOCIATE-RJ, Table 9-21
      0x00, // reserved
      0x00, 0x00, 0x00, 0x04, // PDU-length 4
      0x00, // reserved
      0x01, // result 1 rejected-permanent
      0x01, // source 1 DICOM UL service-user
      0x07, // reason 7 called-AE-title-not-recognized
    ],
    { pduType: PduType.A_ASSOCIATE_RJ, result: 1, source: 1, reason: 7 },
  );
});

Deno.test("A-RELEASE-RQ vector", () => {
  assertVector(
    [
      0x05, // PDU-type A-RELEASE-RQ, Table 9-24
      0x00, // reserved
      0x00, 0x00, 0x00, 0x04, // PDU-length 4
      0x00, 0x00, 0x00, 0x00, // reserved
    ],
    { pduType: PduType.A_RELEASE_RQ },
  );
});

Deno.test("A-RELEASE-RP vector", () => {
  assertVector(
    [
      0x06, // PDU-type A-RELEASE-RP, Table 9-25
      0x00, // reserved
      0x00, 0x00, 0x00, 0x04, // PDU-length 4
      0x00, 0x00, 0x00, 0x00, // reserved
    ],
    { pduType: PduType.A_RELEASE_RP },
  );
});

Deno.test("A-ABORT vector: service provider, invalid PDU parameter value", () => {
  assertVector(
    [
      0x07, // PDU-type A-ABORT, Table 9-26
      0x00, // reserved
      0x00, 0x00, 0x00, 0x04, // PDU-length 4
      0x00, 0x00, // reserved ×2
      0x02, // source 2 DICOM UL service-provider
      0x06, // reason 6 invalid-PDU-parameter-value
    ],
    { pduType: PduType.A_ABORT, source: 2, reason: 6 },
  );
});

Deno.test("P-DATA-TF vector with a last command fragment and a data set fragment", () => {
  assertVector(
    [
      0x04, // PDU-type P-DATA-TF, Table 9-22
      0x00, // reserved
      0x00, 0x00, 0x00, 0x11, // PDU-length 17
      // Presentation Data Value Item, Table 9-23
      0x00, 0x00, 0x00, 0x06, // item-length 6
      0x01, // presentation-context-ID 1
      0x03, // message control header, Annex E.2: command, last fragment
      0xde, 0xad, 0xbe, 0xef, // fragment
      0x00, 0x00, 0x00, 0x03, // item-length 3
      0x03, // presentation-context-ID 3
      0x00, // message control header: data set, not last
      0x42, // fragment
    ],
    {
      pduType: PduType.P_DATA_TF,
      presentationDataValues: [
        {
          presentationContextId: 1,
          isCommand: true,
          isLast: true,
          data: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
        },
        { presentationContextId: 3, isCommand: false, isLast: false, data: new Uint8Array([0x42]) },
      ],
    },
  );
});

Deno.test("P-DATA-TF vector with an empty data set fragment that is the last", () => {
  assertVector(
    [
      0x04, 0x00, 0x00, 0x00, 0x00, 0x06, // P-DATA-TF, PDU-length 6
      0x00, 0x00, 0x00, 0x02, // item-length 2: no fragment bytes
      0x05, // presentation-context-ID 5
      0x02, // message control header: data set, last fragment
    ],
    {
      pduType: PduType.P_DATA_TF,
      presentationDataValues: [
        { presentationContextId: 5, isCommand: false, isLast: true, data: new Uint8Array(0) },
      ],
    },
  );
});

// ---- user information sub-items, PS3.7 Annex D.3.3 ----

/**
 * RQ_BYTES with sub-items appended to its user information item; the lengths of the PDU and the
 * item grow by the sub-items' size.
 */
function rqBytesWith(subItems: number[]): number[] {
  const bytes = [...RQ_BYTES, ...subItems];
  const pduLength = RQ_BYTES.length - 6 + subItems.length;
  bytes[2] = pduLength >>> 24;
  bytes[3] = (pduLength >> 16) & 0xff;
  bytes[4] = (pduLength >> 8) & 0xff;
  bytes[5] = pduLength & 0xff;
  const userInformationAt = RQ_BYTES.length - 12;
  assert.equal(bytes[userInformationAt], 0x50);
  const itemLength = 8 + subItems.length;
  bytes[userInformationAt + 2] = itemLength >> 8;
  bytes[userInformationAt + 3] = itemLength & 0xff;
  return bytes;
}

function subItemVector(subItems: number[], userInformation: Partial<UserInformation>): void {
  assertVector(rqBytesWith(subItems), rqWith({ ...maximumLengthOnly(), ...userInformation }));
}

Deno.test("Implementation Class UID sub-item vector (52H)", () => {
  subItemVector(
    [
      0x52, 0x00, 0x00, 0x07, // item-type 52H, reserved, item-length 7, Table D.3-1
      ...ascii("1.2.3.4"), // implementation-class-uid, unpadded
    ],
    { implementationClassUid: "1.2.3.4" },
  );
});

Deno.test("Asynchronous Operations Window sub-item vector (53H)", () => {
  subItemVector(
    [
      0x53, 0x00, 0x00, 0x04, // item-type 53H, item-length 4, Table D.3-7
      0x00, 0x05, // maximum-number-operations-invoked 5
      0x00, 0x00, // maximum-number-operations-performed 0: unlimited
    ],
    { asynchronousOperationsWindow: { maxOperationsInvoked: 5, maxOperationsPerformed: 0 } },
  );
});

Deno.test("SCP/SCU Role Selection sub-item vector (54H)", () => {
  subItemVector(
    [
      0x54, 0x00, 0x00, 0x0b, // item-type 54H, item-length 11, Table D.3-9
      0x00, 0x07, // UID-length 7
      ...ascii("1.2.3.5"), // SOP-class-uid
      0x00, // SCU-role 0
      0x01, // SCP-role 1
    ],
    { roleSelections: [{ sopClassUid: "1.2.3.5", scuRole: false, scpRole: true }] },
  );
});

Deno.test("Implementation Version Name sub-item vector (55H)", () => {
  subItemVector(
    [
      0x55, 0x00, 0x00, 0x09, // item-type 55H, item-length 9, Table D.3-3
      ...ascii("DIMSE_010"), // implementation-version-name
    ],
    { implementationVersionName: "DIMSE_010" },
  );
});

Deno.test("SOP Class Extended Negotiation sub-item vector (56H)", () => {
  subItemVector(
    [
      0x56, 0x00, 0x00, 0x0c, // item-type 56H, item-length 12, Table D.3-11
      0x00, 0x07, // SOP-class-uid-length 7
      ...ascii("1.2.3.6"), // SOP-class-uid
      0x01, 0x00, 0x01, // service-class-application-information
    ],
    {
      sopClassExtendedNegotiations: [{
        sopClassUid: "1.2.3.6",
        serviceClassApplicationInformation: new Uint8Array([1, 0, 1]),
      }],
    },
  );
});

Deno.test("SOP Class Common Extended Negotiation sub-item vector (57H) with related general SOP classes", () => {
  subItemVector(
    [
      0x57, 0x00, 0x00, 0x1e, // item-type 57H, sub-item-version 0, item-length 30, Table D.3-12
      0x00, 0x05, // SOP-class-uid-length 5
      ...ascii("1.2.7"), // SOP-class-uid
      0x00, 0x05, // service-class-uid-length 5
      ...ascii("1.2.8"), // service-class-uid
      0x00, 0x0e, // related-general-sop-class-identification-length 14
      0x00, 0x05, ...ascii("1.2.9"), // related-general-sop-class-uid, Table D.3-13
      0x00, 0x05, ...ascii("1.3.1"), // related-general-sop-class-uid
    ],
    {
      sopClassCommonExtendedNegotiations: [{
        sopClassUid: "1.2.7",
        serviceClassUid: "1.2.8",
        relatedGeneralSopClassUids: ["1.2.9", "1.3.1"],
      }],
    },
  );
});

Deno.test("SOP Class Common Extended Negotiation sub-item vector (57H) without related classes", () => {
  subItemVector(
    [
      0x57, 0x00, 0x00, 0x10, // item-type 57H, item-length 16
      0x00, 0x05, ...ascii("1.2.7"), // SOP-class-uid-length, SOP-class-uid
      0x00, 0x05, ...ascii("1.2.8"), // service-class-uid-length, service-class-uid
      0x00, 0x00, // related-general-sop-class-identification-length 0
    ],
    {
      sopClassCommonExtendedNegotiations: [{
        sopClassUid: "1.2.7",
        serviceClassUid: "1.2.8",
        relatedGeneralSopClassUids: [],
      }],
    },
  );
});

Deno.test("User Identity Negotiation sub-item vector (58H): username and passcode", () => {
  subItemVector(
    [
      0x58, 0x00, 0x00, 0x10, // item-type 58H, item-length 16, Table D.3-14
      0x02, // user-identity-type 2: username and passcode
      0x01, // positive-response-requested
      0x00, 0x05, ...ascii("alice"), // primary-field-length, primary-field
      0x00, 0x05, ...ascii("s3cr3"), // secondary-field-length, secondary-field
    ],
    {
      userIdentityRq: {
        userIdentityType: 2,
        positiveResponseRequested: true,
        primaryField: new Uint8Array(ascii("alice")),
        secondaryField: new Uint8Array(ascii("s3cr3")),
      },
    },
  );
});

Deno.test("User Identity Negotiation sub-item vector (59H): server response", () => {
  subItemVector(
    [
      0x59, 0x00, 0x00, 0x06, // item-type 59H, item-length 6, Table D.3-15
      0x00, 0x04, // server-response-length
      0x0a, 0x0b, 0x0c, 0x0d, // server-response
    ],
    { userIdentityAc: { serverResponse: new Uint8Array([0x0a, 0x0b, 0x0c, 0x0d]) } },
  );
});

Deno.test("an unknown user information sub-item vector is kept and re-encoded last", () => {
  subItemVector(
    [
      0x55, 0x00, 0x00, 0x02, ...ascii("V1"), // Implementation Version Name
      0xa0, 0x00, 0x00, 0x03, 0x01, 0x02, 0x03, // unknown item-type A0H, length 3
    ],
    {
      implementationVersionName: "V1",
      unknownItems: [{ itemType: 0xa0, data: new Uint8Array([1, 2, 3]) }],
    },
  );
});

Deno.test("every sub-item together goes out in ascending type order, unknown ones last", () => {
  const userInformation: UserInformation = {
    ...maximumLengthOnly(),
    implementationClassUid: "1.2",
    asynchronousOperationsWindow: { maxOperationsInvoked: 1, maxOperationsPerformed: 2 },
    roleSelections: [{ sopClassUid: "1.3", scuRole: true, scpRole: true }],
    implementationVersionName: "V",
    sopClassExtendedNegotiations: [{
      sopClassUid: "1.4",
      serviceClassApplicationInformation: new Uint8Array([7]),
    }],
    sopClassCommonExtendedNegotiations: [{
      sopClassUid: "1.5",
      serviceClassUid: "1.6",
      relatedGeneralSopClassUids: ["1.7"],
    }],
    userIdentityRq: {
      userIdentityType: 1,
      positiveResponseRequested: false,
      primaryField: new Uint8Array(ascii("u")),
      secondaryField: new Uint8Array(0),
    },
    unknownItems: [{ itemType: 0x01, data: new Uint8Array([0xff]) }],
  };
  subItemVector(
    [
      0x52, 0x00, 0x00, 0x03, ...ascii("1.2"), // Implementation Class UID
      0x53, 0x00, 0x00, 0x04, 0x00, 0x01, 0x00, 0x02, // Asynchronous Operations Window
      0x54, 0x00, 0x00, 0x07, 0x00, 0x03, ...ascii("1.3"), 0x01, 0x01, // Role Selection
      0x55, 0x00, 0x00, 0x01, ...ascii("V"), // Implementation Version Name
      0x56, 0x00, 0x00, 0x06, 0x00, 0x03, ...ascii("1.4"), 0x07, // SOP Class Extended Negotiation
      0x57, 0x00, 0x00, 0x11, // SOP Class Common Extended Negotiation, length 17
      0x00, 0x03, ...ascii("1.5"),
      0x00, 0x03, ...ascii("1.6"),
      0x00, 0x05, 0x00, 0x03, ...ascii("1.7"),
      0x58, 0x00, 0x00, 0x07, 0x01, 0x00, 0x00, 0x01, ...ascii("u"), 0x00, 0x00, // User Identity
      0x01, 0x00, 0x00, 0x01, 0xff, // unknown sub-item type 01H, last
    ],
    userInformation,
  );
});
