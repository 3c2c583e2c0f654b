import assert from "node:assert/strict";
import {
  type AbstractSyntaxSupport,
  type AcceptorPolicy,
  buildAssociateRq,
  checkProviderAcceptance,
  negotiateAsAcceptor,
  readNegotiation,
} from "../../src/ul/negotiation.ts";
import {
  type AAssociateRq,
  PresentationContextResult,
  type UserIdentityRq,
} from "../../src/ul/pdu.ts";
import {
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  TransferSyntax,
  VERIFICATION_SOP_CLASS,
} from "../../src/ul/uids.ts";

const CT = "1.2.840.10008.5.1.4.1.1.2";
const MR = "1.2.840.10008.5.1.4.1.1.4";
const JPEG = "1.2.840.10008.1.2.4.50";

function policy(extra: Partial<AcceptorPolicy> = {}): AcceptorPolicy {
  const abstractSyntaxes = new Map<string, AbstractSyntaxSupport>([
    [VERIFICATION_SOP_CLASS, {
      transferSyntaxes: [TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN],
    }],
    [CT, {
      transferSyntaxes: [
        TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN,
        TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN,
      ],
      scpRole: true,
      scuRole: true,
    }],
  ]);
  return { aeTitle: "DIMSE", abstractSyntaxes, maxPduLength: 32768, ...extra };
}

function rq(extra: Partial<Parameters<typeof buildAssociateRq>[0]> = {}): AAssociateRq {
  return buildAssociateRq({
    callingAeTitle: "SCU",
    calledAeTitle: "DIMSE",
    presentationContexts: [
      {
        abstractSyntax: VERIFICATION_SOP_CLASS,
        transferSyntaxes: [TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN],
      },
      {
        abstractSyntax: CT,
        transferSyntaxes: [
          TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN,
          TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN,
        ],
      },
      { abstractSyntax: MR, transferSyntaxes: [TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN] },
      { abstractSyntax: CT, transferSyntaxes: [JPEG] },
    ],
    maxPduLength: 16384,
    ...extra,
  });
}

Deno.test("presentation context ids are assigned 1, 3, 5, 7 in proposal order", () => {
  assert.deepEqual(rq().presentationContexts.map((p) => p.presentationContextId), [1, 3, 5, 7]);
});

Deno.test("contexts get our first acceptable transfer syntax, or reason 3 or 4", async () => {
  const d = await negotiateAsAcceptor(rq(), policy());
  assert.ok(d.accepted);
  assert.deepEqual(d.ac.presentationContexts.map((p) => [p.presentationContextId, p.result]), [
    [1, PresentationContextResult.ACCEPTANCE],
    [3, PresentationContextResult.ACCEPTANCE],
    [5, PresentationContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED],
    [7, PresentationContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED],
  ]);
  // Our preference (explicit first) wins over the requestor's order.
  assert.equal(
    d.ac.presentationContexts[1].transferSyntax,
    TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN,
  );
  assert.deepEqual(d.negotiated.accepted.map((c) => c.presentationContextId), [1, 3]);
  assert.deepEqual(d.negotiated.rejected.map((c) => [c.presentationContextId, c.result]), [[5, 3], [
    7,
    4,
  ]]);
});

Deno.test("max PDU and implementation identity are exchanged both ways", async () => {
  const d = await negotiateAsAcceptor(rq(), policy());
  assert.ok(d.accepted);
  assert.equal(d.ac.userInformation.maximumLength, 32768);
  assert.equal(d.ac.userInformation.implementationClassUid, IMPLEMENTATION_CLASS_UID);
  assert.equal(d.ac.userInformation.implementationVersionName, IMPLEMENTATION_VERSION_NAME);
  assert.ok(IMPLEMENTATION_VERSION_NAME.length <= 16);
  assert.match(IMPLEMENTATION_CLASS_UID, /^2\.25\.[1-9][0-9]*$/);
  assert.equal(d.negotiated.ourMaxPduLength, 32768);
  assert.equal(d.negotiated.peerMaxPduLength, 16384);
  const requestor = readNegotiation(d.negotiated.rq, d.ac, true);
  assert.equal(requestor.ourMaxPduLength, 16384);
  assert.equal(requestor.peerMaxPduLength, 32768);
  assert.equal(requestor.peerImplementationClassUid, IMPLEMENTATION_CLASS_UID);
});

Deno.test("asynchronous operations window absent means 1/1 and is not answered", async () => {
  const d = await negotiateAsAcceptor(
    rq(),
    policy({ asyncOpsWindow: { maxOperationsInvoked: 5, maxOperationsPerformed: 5 } }),
  );
  assert.ok(d.accepted);
  assert.equal(d.ac.userInformation.asynchronousOperationsWindow, undefined);
  assert.equal(d.negotiated.maxOperationsInvoked, 1);
  assert.equal(d.negotiated.maxOperationsPerformed, 1);
});

Deno.test("asynchronous operations window is answered with the minimum of asked and allowed", async () => {
  const asked = rq({ asyncOpsWindow: { maxOperationsInvoked: 10, maxOperationsPerformed: 0 } });
  const d = await negotiateAsAcceptor(
    asked,
    policy({ asyncOpsWindow: { maxOperationsInvoked: 2, maxOperationsPerformed: 4 } }),
  );
  assert.ok(d.accepted);
  // Requestor invokes ≤ what we perform (4); requestor performs (0 = unlimited) ≤ what we invoke (2).
  assert.deepEqual(d.ac.userInformation.asynchronousOperationsWindow, {
    maxOperationsInvoked: 4,
    maxOperationsPerformed: 2,
  });
  assert.equal(d.negotiated.maxOperationsPerformed, 4);
  assert.equal(d.negotiated.maxOperationsInvoked, 2);
  const requestor = readNegotiation(asked, d.ac, true);
  assert.equal(requestor.maxOperationsInvoked, 4);
  assert.equal(requestor.maxOperationsPerformed, 2);
});

Deno.test("role selection grants only the roles we support", async () => {
  const asked = rq({
    roleSelections: [
      { sopClassUid: CT, scuRole: true, scpRole: true },
      { sopClassUid: VERIFICATION_SOP_CLASS, scuRole: true, scpRole: true },
      { sopClassUid: MR, scuRole: true, scpRole: true },
    ],
  });
  const d = await negotiateAsAcceptor(asked, policy());
  assert.ok(d.accepted);
  assert.deepEqual(d.ac.userInformation.roleSelections, [
    { sopClassUid: CT, scuRole: true, scpRole: true },
    { sopClassUid: VERIFICATION_SOP_CLASS, scuRole: true, scpRole: false },
  ]);
  const ct = d.negotiated.accepted.find((c) => c.abstractSyntax === CT)!;
  assert.equal(ct.requestorIsScp, true);
  const ver = d.negotiated.accepted.find((c) => c.abstractSyntax === VERIFICATION_SOP_CLASS)!;
  assert.equal(ver.requestorIsScp, false);
  assert.equal(ver.requestorIsScu, true);
});

Deno.test("a context whose requestor is SCP only takes the transfer syntaxes of our SCU role", async () => {
  const abstractSyntaxes = new Map<string, AbstractSyntaxSupport>([
    [CT, {
      transferSyntaxes: [TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN],
      scuTransferSyntaxes: [JPEG, TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN],
      scpRole: true,
      scuRole: true,
    }],
    [MR, { transferSyntaxes: [], scuTransferSyntaxes: [JPEG], scpRole: false, scuRole: true }],
  ]);
  const proposed = [
    { abstractSyntax: CT, transferSyntaxes: [TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN, JPEG] },
    { abstractSyntax: MR, transferSyntaxes: [JPEG] },
  ];
  const asScp = await negotiateAsAcceptor(
    buildAssociateRq({
      callingAeTitle: "SCU",
      calledAeTitle: "DIMSE",
      presentationContexts: proposed,
      roleSelections: [
        { sopClassUid: CT, scuRole: false, scpRole: true },
        { sopClassUid: MR, scuRole: false, scpRole: true },
      ],
    }),
    { aeTitle: "DIMSE", abstractSyntaxes },
  );
  assert.ok(asScp.accepted);
  assert.deepEqual(
    asScp.negotiated.accepted.map((c) => [c.abstractSyntax, c.transferSyntax, c.requestorIsScp]),
    [[CT, JPEG, true], [MR, JPEG, true]],
  );
  // Without role selection the requestor is SCU: our SCP role's list alone counts.
  const asScu = await negotiateAsAcceptor(
    buildAssociateRq({
      callingAeTitle: "SCU",
      calledAeTitle: "DIMSE",
      presentationContexts: proposed,
    }),
    { aeTitle: "DIMSE", abstractSyntaxes },
  );
  assert.ok(asScu.accepted);
  assert.deepEqual(asScu.negotiated.accepted, []);
  assert.deepEqual(asScu.ac.presentationContexts.map((c) => c.result), [
    PresentationContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED,
    PresentationContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED,
  ]);
});

Deno.test("called AE title not recognized is rejected 1/1/7 when required", async () => {
  const d = await negotiateAsAcceptor(
    rq({ calledAeTitle: "OTHER" }),
    policy({ requireCalledAeTitle: true }),
  );
  assert.ok(!d.accepted);
  assert.deepEqual([d.rj.result, d.rj.source, d.rj.reason], [1, 1, 7]);
  const loose = await negotiateAsAcceptor(rq({ calledAeTitle: "OTHER" }), policy());
  assert.ok(loose.accepted);
});

Deno.test("calling AE title outside the allow-list is rejected 1/1/3", async () => {
  const d = await negotiateAsAcceptor(rq(), policy({ allowedCallingAeTitles: ["MODALITY"] }));
  assert.ok(!d.accepted);
  assert.deepEqual([d.rj.result, d.rj.source, d.rj.reason], [1, 1, 3]);
  const ok = await negotiateAsAcceptor(
    rq({ callingAeTitle: "MODALITY" }),
    policy({ allowedCallingAeTitles: ["MODALITY"] }),
  );
  assert.ok(ok.accepted);
});

Deno.test("unsupported application context name is rejected 1/1/2", async () => {
  const r = rq();
  r.applicationContextName = "1.2.3.4";
  const d = await negotiateAsAcceptor(r, policy());
  assert.ok(!d.accepted);
  assert.deepEqual([d.rj.result, d.rj.source, d.rj.reason], [1, 1, 2]);
});

Deno.test("protocol version without bit 0 is rejected 1/2/2 by the provider", () => {
  const r = rq();
  r.protocolVersion = 2;
  const rj = checkProviderAcceptance(r, { activeAssociations: 0 });
  assert.ok(rj);
  assert.deepEqual([rj.result, rj.source, rj.reason], [1, 2, 2]);
  r.protocolVersion = 3;
  assert.equal(checkProviderAcceptance(r, { activeAssociations: 0 }), undefined);
});

Deno.test("too many associations is rejected 2/3/2 local limit exceeded", () => {
  const rj = checkProviderAcceptance(rq(), { activeAssociations: 2, maxAssociations: 2 });
  assert.ok(rj);
  assert.deepEqual([rj.result, rj.source, rj.reason], [2, 3, 2]);
  assert.equal(
    checkProviderAcceptance(rq(), { activeAssociations: 1, maxAssociations: 2 }),
    undefined,
  );
});

Deno.test("authenticator failure rejects 1/1/1; success sends its server response when asked", async () => {
  const identity: UserIdentityRq = {
    userIdentityType: 2,
    positiveResponseRequested: true,
    primaryField: new TextEncoder().encode("alice"),
    secondaryField: new TextEncoder().encode("secret"),
  };
  const seen: string[] = [];
  const authenticator = (id: UserIdentityRq | undefined) => {
    seen.push(new TextDecoder().decode(id?.primaryField));
    const ok = new TextDecoder().decode(id?.secondaryField) === "secret";
    return Promise.resolve(ok ? { serverResponse: new Uint8Array([1, 2, 3]) } : false as const);
  };
  const good = await negotiateAsAcceptor(rq({ userIdentity: identity }), policy({ authenticator }));
  assert.ok(good.accepted);
  assert.deepEqual(
    good.ac.userInformation.userIdentityAc?.serverResponse,
    new Uint8Array([1, 2, 3]),
  );
  const bad = await negotiateAsAcceptor(
    rq({ userIdentity: { ...identity, secondaryField: new Uint8Array([0x78]) } }),
    policy({ authenticator }),
  );
  assert.ok(!bad.accepted);
  assert.deepEqual([bad.rj.result, bad.rj.source, bad.rj.reason], [1, 1, 1]);
  const quiet = await negotiateAsAcceptor(
    rq({ userIdentity: { ...identity, positiveResponseRequested: false } }),
    policy({ authenticator }),
  );
  assert.ok(quiet.accepted);
  assert.equal(quiet.ac.userInformation.userIdentityAc, undefined);
  assert.deepEqual(seen, ["alice", "alice", "alice"]);
});

Deno.test("extended negotiation is handed to the hook and answered with what it returns", async () => {
  const info = new Uint8Array([1, 0, 1]);
  const asked = rq({
    sopClassExtendedNegotiations: [{ sopClassUid: CT, serviceClassApplicationInformation: info }],
    sopClassCommonExtendedNegotiations: [{
      sopClassUid: CT,
      serviceClassUid: "1.2.840.10008.4.2",
      relatedGeneralSopClassUids: [],
    }],
  });
  let commonSeen = 0;
  const d = await negotiateAsAcceptor(
    asked,
    policy({
      extendedNegotiation: (items) => {
        commonSeen = items.sopClassCommonExtendedNegotiations.length;
        return items.sopClassExtendedNegotiations.map((i) => ({
          ...i,
          serviceClassApplicationInformation: new Uint8Array([1]),
        }));
      },
    }),
  );
  assert.ok(d.accepted);
  assert.equal(commonSeen, 1);
  assert.deepEqual(d.ac.userInformation.sopClassExtendedNegotiations, [
    { sopClassUid: CT, serviceClassApplicationInformation: new Uint8Array([1]) },
  ]);
});
