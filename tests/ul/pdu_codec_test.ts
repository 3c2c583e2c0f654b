// The PDU codec: round-trip properties over random PDUs, PDUs that DCMTK sent, and every kind of
// malformed input answered with the field and A-ABORT reason of PS3.8 Table 9-26.
import assert from "node:assert/strict";
import { decodePdu, encodePdu } from "../../src/ul/codec.ts";
import { PduError } from "../../src/ul/errors.ts";
import {
  type AAssociateAc,
  type AAssociateRq,
  AbortReason,
  type PDataTf,
  PduType,
} from "../../src/ul/pdu.ts";
import { mulberry32, randomPdu } from "./_pdu_random.ts";

// ---- round-trip properties ----

Deno.test("random PDUs of every type decode to what was encoded", () => {
  const rng = mulberry32(20261129);
  const seen = new Set<number>();
  for (let i = 0; i < 3000; i++) {
    const pdu = randomPdu(rng);
    seen.add(pdu.pduType);
    const bytes = encodePdu(pdu);
    assert.deepEqual(decodePdu(bytes), pdu);
  }
  assert.equal(seen.size, 7);
});

Deno.test("random PDUs re-encode byte-exactly after decoding", () => {
  const rng = mulberry32(7);
  for (let i = 0; i < 2000; i++) {
    const bytes = encodePdu(randomPdu(rng));
    assert.deepEqual(encodePdu(decodePdu(bytes)), bytes);
  }
});

Deno.test("encoded PDU length field equals the bytes after the header", () => {
  const rng = mulberry32(99);
  for (let i = 0; i < 500; i++) {
    const bytes = encodePdu(randomPdu(rng));
    assert.equal(new DataView(bytes.buffer).getUint32(2), bytes.length - 6);
  }
});

Deno.test("a P-DATA-TF with a 1 MiB PDV round-trips", () => {
  const data = new Uint8Array(1 << 20).map((_, i) => i * 7);
  const pdu: PDataTf = {
    pduType: PduType.P_DATA_TF,
    presentationDataValues: [{ presentationContextId: 1, isCommand: false, isLast: true, data }],
  };
  const bytes = encodePdu(pdu);
  assert.equal(bytes.length, 6 + 6 + data.length);
  assert.deepEqual(decodePdu(bytes), pdu);
});

// ---- DCMTK conversations (tests/fixtures/dcmtk) ----

const FIXTURES = new URL("../fixtures/dcmtk/", import.meta.url);
const fixtureNames = [...Deno.readDirSync(FIXTURES)]
  .map((e) => e.name)
  .filter((n) => n.endsWith(".bin"))
  .sort();

/** Offsets of byte 7 of each presentation context item of an A-ASSOCIATE-RQ (PS3.8 Table 9-13). */
function reservedPresentationContextBytes(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let p = 74;
  while (p + 4 <= bytes.length) {
    const length = (bytes[p + 2] << 8) | bytes[p + 3];
    if (bytes[p] === 0x20) out.push(p + 6);
    p += 4 + length;
  }
  return out;
}

for (const name of fixtureNames.filter((n) => !n.includes("p-data-tf"))) {
  Deno.test(`DCMTK ${name} decodes and re-encodes byte-exactly`, () => {
    const bytes = Deno.readFileSync(new URL(name, FIXTURES));
    const pdu = decodePdu(bytes);
    const again = encodePdu(pdu);
    assert.equal(again.length, bytes.length);
    // DCMTK sends FFH in a reserved byte of each presentation context item of an
    // A-ASSOCIATE-RQ; the standard says 00H, sent and not tested (PS3.8 Table 9-13).
    const reserved = pdu.pduType === PduType.A_ASSOCIATE_RQ
      ? reservedPresentationContextBytes(bytes)
      : [];
    for (const at of reserved) {
      assert.equal(again[at], 0x00);
      again[at] = bytes[at];
    }
    assert.deepEqual(again, bytes);
  });
}

for (const name of fixtureNames.filter((n) => n.includes("p-data-tf"))) {
  Deno.test(`DCMTK ${name} decodes to PDVs and re-encodes byte-exactly`, () => {
    const bytes = Deno.readFileSync(new URL(name, FIXTURES));
    const pdu = decodePdu(bytes);
    assert.equal(pdu.pduType, PduType.P_DATA_TF);
    assert.ok(pdu.presentationDataValues.length >= 1);
    assert.deepEqual(encodePdu(pdu), bytes);
  });
}

Deno.test("DCMTK storescu A-ASSOCIATE-RQ carries its user identity and two contexts", () => {
  const pdu = decodePdu(
    Deno.readFileSync(new URL("storescu_01_scu_a-associate-rq.bin", FIXTURES)),
  ) as AAssociateRq;
  assert.equal(pdu.calledAeTitle, "STORESCP");
  assert.equal(pdu.callingAeTitle, "STORESCU");
  assert.deepEqual(pdu.presentationContexts.map((pc) => pc.presentationContextId), [1, 3]);
  assert.equal(pdu.userInformation.maximumLength, 16384);
  assert.equal(pdu.userInformation.implementationVersionName, "OFFIS_DCMTK_367");
  const id = pdu.userInformation.userIdentityRq;
  assert.ok(id);
  assert.equal(id.userIdentityType, 2);
  assert.equal(new TextDecoder().decode(id.primaryField), "alice");
  assert.equal(new TextDecoder().decode(id.secondaryField), "secret");
});

// ---- malformed input ----

/** Builds a PDU: type, reserved, 4-byte length, then the given bytes (PS3.8 §9.3.1). */
function pdu(type: number, body: number[]): Uint8Array {
  const n = body.length;
  return new Uint8Array([type, 0, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, ...body]);
}

function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

/** An item: type, reserved, 2-byte length, value. */
function item(type: number, value: number[]): number[] {
  return [type, 0, value.length >> 8, value.length & 0xff, ...value];
}

/** Fixed fields of an A-ASSOCIATE-RQ/AC: protocol version, reserved, AE titles, reserved. */
const FIXED = [
  0x00,
  0x01,
  0x00,
  0x00,
  ...ascii("CALLED          "),
  ...ascii("CALLING         "),
  ...new Array(32).fill(0),
];
const APPLICATION_CONTEXT = item(0x10, ascii("1.2.840.10008.3.1.1.1"));
const ABSTRACT = item(0x30, ascii("1.2.840.10008.1.1"));
const TRANSFER = item(0x40, ascii("1.2.840.10008.1.2"));
const PC_RQ = item(0x20, [0x01, 0, 0, 0, ...ABSTRACT, ...TRANSFER]);
const MAXIMUM_LENGTH = item(0x51, [0x00, 0x00, 0x40, 0x00]);
const USER_INFORMATION = item(0x50, MAXIMUM_LENGTH);

function rq(items: number[]): Uint8Array {
  return pdu(0x01, [...FIXED, ...items]);
}

function assertPduError(
  bytes: Uint8Array,
  code: string,
  field: string,
  abortReason: number,
): void {
  assert.throws(
    () => decodePdu(bytes),
    (err: unknown) => {
      assert.ok(err instanceof PduError, `PduError expected, got ${err}`);
      assert.equal(err.code, code);
      assert.equal(err.field, field);
      assert.equal(err.abortReason, abortReason);
      return true;
    },
  );
}

Deno.test("the minimal A-ASSOCIATE-RQ the malformed cases start from decodes", () => {
  const decoded = decodePdu(rq([...APPLICATION_CONTEXT, ...PC_RQ, ...USER_INFORMATION]));
  assert.equal(decoded.pduType, PduType.A_ASSOCIATE_RQ);
});

Deno.test("a PDU type out of range is aborted with reason 1 (unrecognized PDU)", () => {
  assertPduError(pdu(0x08, [0, 0, 0, 0]), "pdu-type-unrecognized", "pdu.type", 1);
  assertPduError(pdu(0x00, [0, 0, 0, 0]), "pdu-type-unrecognized", "pdu.type", 1);
});

Deno.test("a PDU length disagreeing with the bytes is aborted with reason 6", () => {
  const bytes = pdu(0x05, [0, 0, 0, 0]);
  bytes[5] = 5;
  assertPduError(bytes, "length-mismatch", "a-release-rq.length", 6);
});

Deno.test("a header shorter than 6 bytes is aborted with reason 6", () => {
  assertPduError(new Uint8Array([0x01, 0, 0]), "item-too-short", "pdu.header", 6);
});

Deno.test("A-ASSOCIATE-RQ shorter than its fixed fields is aborted with reason 6", () => {
  assertPduError(pdu(0x01, FIXED.slice(0, 60)), "item-too-short", "a-associate-rq", 6);
});

Deno.test("A-ASSOCIATE-RJ, A-RELEASE and A-ABORT with a length other than 4 are aborted with reason 6", () => {
  assertPduError(pdu(0x03, [0, 1, 1]), "invalid-length", "a-associate-rj.length", 6);
  assertPduError(pdu(0x06, [0, 0, 0, 0, 0]), "invalid-length", "a-release-rp.length", 6);
  assertPduError(pdu(0x07, []), "invalid-length", "a-abort.length", 6);
});

Deno.test("a presentation context item whose length overruns the PDU is aborted with reason 6", () => {
  const pc = [...PC_RQ];
  pc[3] += 1; // one byte longer than what follows
  assertPduError(
    rq([...APPLICATION_CONTEXT, ...USER_INFORMATION, ...pc]),
    "length-overrun",
    "presentation-context-item-rq.length",
    6,
  );
});

Deno.test("an abstract syntax sub-item overrunning its presentation context is aborted with reason 6", () => {
  const abstract = [...ABSTRACT];
  abstract[3] += 30; // past the transfer syntax sub-item and the item end
  assertPduError(
    rq([
      ...APPLICATION_CONTEXT,
      ...item(0x20, [1, 0, 0, 0, ...abstract, ...TRANSFER]),
      ...USER_INFORMATION,
    ]),
    "length-overrun",
    "abstract-syntax-sub-item.length",
    6,
  );
});

Deno.test("a truncated item header among the variable items is aborted with reason 6", () => {
  assertPduError(
    rq([...APPLICATION_CONTEXT, ...PC_RQ, ...USER_INFORMATION, 0x20, 0]),
    "item-too-short",
    "a-associate-rq.variable-items",
    6,
  );
});

Deno.test("a presentation context item shorter than its fixed fields is aborted with reason 6", () => {
  assertPduError(
    rq([...APPLICATION_CONTEXT, ...item(0x20, [1, 0]), ...USER_INFORMATION]),
    "item-too-short",
    "presentation-context-item-rq",
    6,
  );
});

Deno.test("a maximum length sub-item of length 2 is aborted with reason 6", () => {
  assertPduError(
    rq([...APPLICATION_CONTEXT, ...PC_RQ, ...item(0x50, item(0x51, [0x40, 0x00]))]),
    "invalid-length",
    "maximum-length-sub-item.length",
    6,
  );
});

Deno.test("an SCP/SCU role selection whose UID length disagrees with its item is aborted with reason 6", () => {
  const role = item(0x54, [0x00, 0x05, ...ascii("1.2.3"), 1]); // SCP role byte missing
  assertPduError(
    rq([...APPLICATION_CONTEXT, ...PC_RQ, ...item(0x50, [...MAXIMUM_LENGTH, ...role])]),
    "length-mismatch",
    "scp-scu-role-selection-sub-item.uid-length",
    6,
  );
});

Deno.test("a user identity sub-item whose primary field overruns it is aborted with reason 6", () => {
  const identity = item(0x58, [1, 0, 0x00, 0x10, ...ascii("bob"), 0, 0]);
  assertPduError(
    rq([...APPLICATION_CONTEXT, ...PC_RQ, ...item(0x50, [...MAXIMUM_LENGTH, ...identity])]),
    "length-overrun",
    "user-identity-sub-item-rq.primary-field-length",
    6,
  );
});

Deno.test("A-ASSOCIATE-RQ without an application context item is aborted with reason 6", () => {
  assertPduError(
    rq([...PC_RQ, ...USER_INFORMATION]),
    "missing-item",
    "application-context-item",
    6,
  );
});

Deno.test("a presentation context without an abstract syntax is aborted with reason 6", () => {
  assertPduError(
    rq([...APPLICATION_CONTEXT, ...item(0x20, [1, 0, 0, 0, ...TRANSFER]), ...USER_INFORMATION]),
    "missing-item",
    "abstract-syntax-sub-item",
    6,
  );
});

Deno.test("a proposed presentation context without a transfer syntax is aborted with reason 6", () => {
  assertPduError(
    rq([...APPLICATION_CONTEXT, ...item(0x20, [1, 0, 0, 0, ...ABSTRACT]), ...USER_INFORMATION]),
    "missing-item",
    "transfer-syntax-sub-item",
    6,
  );
});

Deno.test("A-ASSOCIATE-RQ without a user information item is aborted with reason 6", () => {
  assertPduError(
    rq([...APPLICATION_CONTEXT, ...PC_RQ]),
    "missing-item",
    "user-information-item",
    6,
  );
});

Deno.test("a user information item without a maximum length sub-item is aborted with reason 6", () => {
  assertPduError(
    rq([...APPLICATION_CONTEXT, ...PC_RQ, ...item(0x50, item(0x52, ascii("1.2.3")))]),
    "missing-item",
    "maximum-length-sub-item",
    6,
  );
});

Deno.test("A-ASSOCIATE-AC without a maximum length sub-item is aborted with reason 6", () => {
  const pcAc = item(0x21, [1, 0, 0, 0, ...TRANSFER]);
  assertPduError(
    pdu(0x02, [...FIXED, ...APPLICATION_CONTEXT, ...pcAc, ...item(0x50, [])]),
    "missing-item",
    "maximum-length-sub-item",
    6,
  );
});

Deno.test("A-ASSOCIATE-RQ with an even presentation context id is aborted with reason 6", () => {
  assertPduError(
    rq([
      ...APPLICATION_CONTEXT,
      ...item(0x20, [2, 0, 0, 0, ...ABSTRACT, ...TRANSFER]),
      ...USER_INFORMATION,
    ]),
    "invalid-value",
    "presentation-context-item-rq.presentation-context-id",
    6,
  );
});

Deno.test("A-ASSOCIATE-AC with a presentation context result above 4 is aborted with reason 6", () => {
  assertPduError(
    pdu(0x02, [
      ...FIXED,
      ...APPLICATION_CONTEXT,
      ...item(0x21, [1, 0, 5, 0, ...TRANSFER]),
      ...USER_INFORMATION,
    ]),
    "invalid-value",
    "presentation-context-item-ac.result",
    6,
  );
});

Deno.test("an unknown sub-item type inside a presentation context is aborted with reason 4", () => {
  assertPduError(
    rq([
      ...APPLICATION_CONTEXT,
      ...item(0x20, [1, 0, 0, 0, ...ABSTRACT, ...TRANSFER, ...item(0x3f, [1, 2])]),
      ...USER_INFORMATION,
    ]),
    "item-type-unrecognized",
    "presentation-context-item-rq.item-type",
    AbortReason.UNRECOGNIZED_PDU_PARAMETER,
  );
});

Deno.test("an A-ASSOCIATE-AC presentation context item inside an A-ASSOCIATE-RQ is aborted with reason 5", () => {
  assertPduError(
    rq([
      ...APPLICATION_CONTEXT,
      ...PC_RQ,
      ...item(0x21, [1, 0, 0, 0, ...TRANSFER]),
      ...USER_INFORMATION,
    ]),
    "unexpected-item",
    "presentation-context-item-ac",
    AbortReason.UNEXPECTED_PDU_PARAMETER,
  );
});

Deno.test("a second application context item is aborted with reason 5", () => {
  assertPduError(
    rq([...APPLICATION_CONTEXT, ...APPLICATION_CONTEXT, ...PC_RQ, ...USER_INFORMATION]),
    "unexpected-item",
    "application-context-item",
    5,
  );
});

Deno.test("a second maximum length sub-item is aborted with reason 5", () => {
  assertPduError(
    rq([...APPLICATION_CONTEXT, ...PC_RQ, ...item(0x50, [...MAXIMUM_LENGTH, ...MAXIMUM_LENGTH])]),
    "unexpected-item",
    "maximum-length-sub-item",
    5,
  );
});

Deno.test("P-DATA-TF with a PDV item length below 2 is aborted with reason 6", () => {
  assertPduError(
    pdu(0x04, [0, 0, 0, 1, 0x01]),
    "item-too-short",
    "presentation-data-value-item.length",
    6,
  );
});

Deno.test("P-DATA-TF whose PDV item length disagrees with the PDU is aborted with reason 6", () => {
  assertPduError(
    pdu(0x04, [0, 0, 0, 5, 0x01, 0x03, 0xaa, 0xbb]),
    "length-overrun",
    "presentation-data-value-item.length",
    6,
  );
});

Deno.test("P-DATA-TF without any PDV item is aborted with reason 6", () => {
  assertPduError(pdu(0x04, []), "missing-item", "presentation-data-value-item", 6);
});

Deno.test("P-DATA-TF with bytes after its last PDV too few for an item header is aborted with reason 6", () => {
  assertPduError(
    pdu(0x04, [0, 0, 0, 2, 0x01, 0x03, 0x00]),
    "item-too-short",
    "presentation-data-value-item.header",
    6,
  );
});

// ---- tolerated input ----

Deno.test("unknown items at the top level of an A-ASSOCIATE-RQ are ignored", () => {
  const plain = decodePdu(rq([...APPLICATION_CONTEXT, ...PC_RQ, ...USER_INFORMATION]));
  const withUnknown = decodePdu(
    rq([...item(0x7e, [1, 2, 3]), ...APPLICATION_CONTEXT, ...PC_RQ, ...USER_INFORMATION]),
  );
  assert.deepEqual(withUnknown, plain);
});

Deno.test("unknown user information sub-items are kept with their type and bytes", () => {
  const decoded = decodePdu(
    rq([
      ...APPLICATION_CONTEXT,
      ...PC_RQ,
      ...item(0x50, [...item(0x6a, [9, 8]), ...MAXIMUM_LENGTH]),
    ]),
  ) as AAssociateRq;
  assert.deepEqual(decoded.userInformation.unknownItems, [
    { itemType: 0x6a, data: new Uint8Array([9, 8]) },
  ]);
  assert.equal(decoded.userInformation.maximumLength, 0x4000);
});

Deno.test("a trailing NUL on a received UID is stripped", () => {
  const decoded = decodePdu(
    rq([
      ...item(0x10, [...ascii("1.2.840.10008.3.1.1.1"), 0]),
      ...item(0x20, [1, 0, 0, 0, ...item(0x30, [...ascii("1.2.840.10008.1.1"), 0]), ...TRANSFER]),
      ...USER_INFORMATION,
    ]),
  ) as AAssociateRq;
  assert.equal(decoded.applicationContextName, "1.2.840.10008.3.1.1.1");
  assert.equal(decoded.presentationContexts[0].abstractSyntax, "1.2.840.10008.1.1");
});

Deno.test("AE titles are trimmed of their space padding when decoded", () => {
  const fixed = [...FIXED];
  fixed.splice(4, 16, ...ascii("  PADDED AE     "));
  const decoded = decodePdu(
    pdu(0x01, [...fixed, ...APPLICATION_CONTEXT, ...PC_RQ, ...USER_INFORMATION]),
  ) as AAssociateRq;
  assert.equal(decoded.calledAeTitle, "PADDED AE");
  assert.equal(decoded.callingAeTitle, "CALLING");
});

// ---- values that cannot be encoded ----

Deno.test("encoding an AE title longer than 16 characters throws PduError", () => {
  const decoded = decodePdu(rq([...APPLICATION_CONTEXT, ...PC_RQ, ...USER_INFORMATION]));
  assert.throws(
    () => encodePdu({ ...decoded, calledAeTitle: "SEVENTEEN-CHARSXX" } as AAssociateRq),
    (err: unknown) => err instanceof PduError && err.field === "called-ae-title",
  );
});

Deno.test("encoding an even presentation context id throws PduError", () => {
  const decoded = decodePdu(
    rq([...APPLICATION_CONTEXT, ...PC_RQ, ...USER_INFORMATION]),
  ) as AAssociateRq;
  decoded.presentationContexts[0].presentationContextId = 4;
  assert.throws(
    () => encodePdu(decoded),
    (err: unknown) =>
      err instanceof PduError &&
      err.field === "presentation-context-item-rq.presentation-context-id",
  );
});

Deno.test("encoding a UID longer than an item can hold throws PduError", () => {
  const decoded = decodePdu(
    rq([...APPLICATION_CONTEXT, ...PC_RQ, ...USER_INFORMATION]),
  ) as AAssociateRq;
  decoded.userInformation.implementationClassUid = "1".repeat(70000);
  assert.throws(
    () => encodePdu(decoded),
    (err: unknown) =>
      err instanceof PduError && err.code === "value-too-long" &&
      err.field === "implementation-class-uid-sub-item.length",
  );
});

Deno.test("encoding a presentation context result above 4 throws PduError", () => {
  const ac = decodePdu(
    pdu(0x02, [
      ...FIXED,
      ...APPLICATION_CONTEXT,
      ...item(0x21, [1, 0, 0, 0, ...TRANSFER]),
      ...USER_INFORMATION,
    ]),
  ) as AAssociateAc;
  ac.presentationContexts[0].result = 9;
  assert.throws(
    () => encodePdu(ac),
    (err: unknown) =>
      err instanceof PduError && err.field === "presentation-context-item-ac.result",
  );
});
