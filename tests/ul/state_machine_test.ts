import assert from "node:assert/strict";
import { Association, AssociationAbortedError } from "../../src/client.ts";
import type { Scp, ScpOptions } from "../../src/scp.ts";
import type { Service } from "../../src/services/service.ts";
import { verification } from "../../src/services/verification.ts";
import { UpperLayerAssociation } from "../../src/ul/association.ts";
import type { Indication } from "../../src/ul/actions.ts";
import { decodePdu, encodePdu } from "../../src/ul/codec.ts";
import { PduError } from "../../src/ul/errors.ts";
import { negotiateAsAcceptor } from "../../src/ul/negotiation.ts";
import type { AAssociateRq } from "../../src/ul/pdu.ts";
import { wrapConn } from "../../src/ul/transport.ts";
import { TransferSyntax, VERIFICATION_SOP_CLASS } from "../../src/ul/uids.ts";
import {
  A_RELEASE_RP,
  A_RELEASE_RQ,
  aAbort,
  aAssociateRqBytes,
  associateRaw,
  cEchoRqCommand,
  cEchoRspCommand,
  pDataTf,
  RawPeer,
} from "../peers/raw_peer.ts";
import { startLocalScp } from "../_helpers/local_scp.ts";

const UNKNOWN_PDU = [0x09, 0, 0, 0, 0, 4, 0, 0, 0, 0];

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function startScp(extra: Partial<ScpOptions> = {}): Promise<Scp> {
  return startLocalScp([verification()], { timeouts: { artim: 300 }, ...extra });
}

function slowEcho(ms: number): Service {
  return {
    name: "slow-echo",
    sopClasses: [{
      abstractSyntax: VERIFICATION_SOP_CLASS,
      transferSyntaxes: [TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN],
    }],
    async handle() {
      await delay(ms);
      return { status: 0 };
    },
  };
}

/** An authenticator that keeps the association in Sta3 for a while. */
function slowAuthenticator(ms: number): ScpOptions["authenticator"] {
  return async () => {
    await delay(ms);
    return {};
  };
}

async function expectBytes(peer: RawPeer, expected: number[]): Promise<void> {
  const pdu = await peer.readPdu();
  assert.ok(pdu, "a PDU before the close");
  assert.deepEqual([...pdu], expected);
}

// --- acceptor side (our SCP) ---

Deno.test("Sta2: silence after connect until ARTIM expires closes the connection without a PDU", async () => {
  const scp = await startScp({ timeouts: { artim: 200 } });
  const peer = await RawPeer.connect(scp.port);
  const t0 = Date.now();
  assert.equal(await peer.readPdu(3000), null);
  const waited = Date.now() - t0;
  assert.ok(waited >= 180 && waited < 2000, `closed after ${waited} ms`);
  assert.equal(scp.associations.length, 0);
  peer.close();
  await scp.close();
});

Deno.test("Sta2: A-RELEASE-RQ before A-ASSOCIATE-RQ is answered with A-ABORT reason 2, then ARTIM closes", async () => {
  const scp = await startScp({ timeouts: { artim: 200 } });
  const peer = await RawPeer.connect(scp.port);
  await peer.send(A_RELEASE_RQ);
  await expectBytes(peer, aAbort(2, 2));
  assert.ok(await peer.waitClosed(2000));
  peer.close();
  await scp.close();
});

Deno.test("Sta2: P-DATA-TF before A-ASSOCIATE-RQ is answered with A-ABORT reason 2", async () => {
  const scp = await startScp();
  const peer = await RawPeer.connect(scp.port);
  await peer.send(pDataTf(1, true, true, cEchoRqCommand(1)));
  await expectBytes(peer, aAbort(2, 2));
  assert.ok(await peer.waitClosed());
  peer.close();
  await scp.close();
});

Deno.test("Sta2: an unknown PDU type is answered with A-ABORT reason 1", async () => {
  const scp = await startScp();
  const peer = await RawPeer.connect(scp.port);
  await peer.send(UNKNOWN_PDU);
  await expectBytes(peer, aAbort(2, 1));
  assert.ok(await peer.waitClosed());
  peer.close();
  await scp.close();
});

Deno.test("Sta2: a malformed A-ASSOCIATE-RQ is answered with A-ABORT carrying the decoder's reason", async () => {
  const bytes = aAssociateRqBytes();
  // Make the first presentation context item (after the fixed fields and the application
  // context item) claim more bytes than the PDU holds.
  const pcOffset = 6 + 68 + 4 + "1.2.840.10008.3.1.1.1".length;
  assert.equal(bytes[pcOffset], 0x20);
  new DataView(bytes.buffer).setUint16(pcOffset + 2, 0x4000);
  let expected = -1;
  try {
    decodePdu(bytes);
  } catch (e) {
    assert.ok(e instanceof PduError);
    expected = e.abortReason;
  }
  assert.ok(expected > 0, "the decoder rejects it");
  const scp = await startScp();
  const peer = await RawPeer.connect(scp.port);
  await peer.send(bytes);
  await expectBytes(peer, aAbort(2, expected));
  assert.ok(await peer.waitClosed());
  peer.close();
  await scp.close();
});

Deno.test("Sta2: A-ABORT before A-ASSOCIATE-RQ closes the connection without answer", async () => {
  const scp = await startScp({ timeouts: { artim: 5000 } });
  const peer = await RawPeer.connect(scp.port);
  await peer.send(aAbort(0, 0));
  const t0 = Date.now();
  assert.equal(await peer.readPdu(2000), null);
  assert.ok(Date.now() - t0 < 1000);
  peer.close();
  await scp.close();
});

Deno.test("Sta2: the connection closed in the middle of an A-ASSOCIATE-RQ leaves the SCP serving others", async () => {
  const scp = await startScp();
  const peer = await RawPeer.connect(scp.port);
  await peer.send(aAssociateRqBytes().subarray(0, 40));
  await delay(20);
  peer.close();
  await delay(50);
  assert.equal(scp.associations.length, 0);
  const assoc = await Association.connect({ host: "127.0.0.1", port: scp.port });
  assert.equal(await assoc.echo(), 0);
  await assoc.release();
  await scp.close();
});

Deno.test("Sta3: a PDU while the A-ASSOCIATE response is pending is answered with A-ABORT reason 2", async () => {
  const scp = await startScp({ authenticator: slowAuthenticator(200) });
  const peer = await RawPeer.connect(scp.port);
  await peer.send(aAssociateRqBytes());
  await peer.send(A_RELEASE_RQ);
  await expectBytes(peer, aAbort(2, 2));
  assert.ok(await peer.waitClosed());
  peer.close();
  await scp.close();
});

Deno.test("Sta3: A-ABORT while the A-ASSOCIATE response is pending closes without an answer", async () => {
  const scp = await startScp({ authenticator: slowAuthenticator(200) });
  const peer = await RawPeer.connect(scp.port);
  await peer.send(aAssociateRqBytes());
  await peer.send(aAbort(0, 0));
  assert.equal(await peer.readPdu(2000), null);
  await delay(300);
  assert.equal(scp.associations.length, 0);
  peer.close();
  await scp.close();
});

Deno.test("Sta6: an unknown PDU type is answered with A-ABORT reason 1", async () => {
  const scp = await startScp();
  const aborted = new Promise<void>((r) => scp.on("association-aborted", () => r()));
  const peer = await associateRaw(scp.port);
  await peer.send(UNKNOWN_PDU);
  await expectBytes(peer, aAbort(2, 1));
  assert.ok(await peer.waitClosed());
  await aborted;
  peer.close();
  await scp.close();
});

Deno.test("Sta6: a second A-ASSOCIATE-RQ is answered with A-ABORT reason 2", async () => {
  const scp = await startScp();
  const peer = await associateRaw(scp.port);
  await peer.send(aAssociateRqBytes());
  await expectBytes(peer, aAbort(2, 2));
  assert.ok(await peer.waitClosed());
  peer.close();
  await scp.close();
});

Deno.test("Sta6: A-ABORT from the peer ends the association with its source and reason", async () => {
  const scp = await startScp();
  const aborted = new Promise<{ source: number; reason: number }>((r) =>
    scp.on("association-aborted", (e) => r(e))
  );
  const peer = await associateRaw(scp.port);
  await peer.send(aAbort(2, 6));
  assert.equal(await peer.readPdu(), null);
  const e = await aborted;
  assert.deepEqual([e.source, e.reason], [2, 6]);
  peer.close();
  await scp.close();
});

Deno.test("Sta6: the connection closed in the middle of a P-DATA-TF is an A-P-ABORT", async () => {
  const scp = await startScp();
  const aborted = new Promise<{ source: number; reason: number }>((r) =>
    scp.on("association-aborted", (e) => r(e))
  );
  const peer = await associateRaw(scp.port);
  await peer.send(pDataTf(1, true, true, cEchoRqCommand(1)).subarray(0, 15));
  await delay(20);
  peer.close();
  const e = await aborted;
  assert.equal(e.source, 2);
  assert.equal(scp.associations.length, 0);
  await scp.close();
});

Deno.test("Sta6 → Sta13: A-RELEASE-RQ is answered with A-RELEASE-RP and the SCP waits for our close", async () => {
  const scp = await startScp({ timeouts: { artim: 2000 } });
  const released = new Promise<void>((r) => scp.on("association-released", () => r()));
  const peer = await associateRaw(scp.port);
  await peer.send(A_RELEASE_RQ);
  await expectBytes(peer, A_RELEASE_RP);
  // Sta13: the acceptor leaves the close to the requestor while ARTIM runs.
  await assert.rejects(peer.readPdu(200));
  assert.equal(scp.associations[0]?.state, "Sta13");
  peer.close();
  await released;
  assert.equal(scp.associations.length, 0);
  await scp.close();
});

Deno.test("Sta13: after A-RELEASE-RP, ARTIM expiry closes a connection the peer keeps open", async () => {
  const scp = await startScp({ timeouts: { artim: 200 } });
  const peer = await associateRaw(scp.port);
  await peer.send(A_RELEASE_RQ);
  await expectBytes(peer, A_RELEASE_RP);
  assert.ok(await peer.waitClosed(2000));
  peer.close();
  await scp.close();
});

Deno.test("Sta13: PDUs after A-RELEASE-RP are ignored and A-ABORT closes at once", async () => {
  const scp = await startScp({ timeouts: { artim: 5000 } });
  const peer = await associateRaw(scp.port);
  await peer.send(A_RELEASE_RQ);
  await expectBytes(peer, A_RELEASE_RP);
  await peer.send(A_RELEASE_RQ);
  await peer.send(pDataTf(1, true, true, cEchoRqCommand(1)));
  await peer.send(aAbort(0, 0));
  const t0 = Date.now();
  assert.equal(await peer.readPdu(2000), null, "nothing answered, then closed");
  assert.ok(Date.now() - t0 < 1000);
  peer.close();
  await scp.close();
});

Deno.test("Sta13: after A-ASSOCIATE-RJ, an A-ASSOCIATE-RQ is answered with A-ABORT (AA-7)", async () => {
  const scp = await startScp({ requireCalledAeTitle: true, timeouts: { artim: 1000 } });
  const peer = await RawPeer.connect(scp.port);
  await peer.send(aAssociateRqBytes({ calledAeTitle: "WRONG" }));
  await expectBytes(peer, [0x03, 0, 0, 0, 0, 4, 0, 1, 1, 7]);
  await peer.send(aAssociateRqBytes());
  await expectBytes(peer, aAbort(2, 2));
  peer.close();
  await scp.close();
});

Deno.test("Sta8: P-DATA-TF after the peer's A-RELEASE-RQ is answered with A-ABORT reason 2", async () => {
  const scp = await startScp({ services: [slowEcho(300)] });
  const peer = await associateRaw(scp.port);
  await peer.send(pDataTf(1, true, true, cEchoRqCommand(1)));
  await peer.send(A_RELEASE_RQ);
  await delay(30);
  assert.equal(scp.associations[0]?.state, "Sta8");
  await peer.send(pDataTf(1, true, true, cEchoRqCommand(2)));
  await expectBytes(peer, aAbort(2, 2));
  peer.close();
  await scp.close();
});

Deno.test("Sta8: the response to an operation in progress is sent before the A-RELEASE-RP", async () => {
  const scp = await startScp({ services: [slowEcho(100)] });
  const peer = await associateRaw(scp.port);
  await peer.send(pDataTf(1, true, true, cEchoRqCommand(1)));
  await peer.send(A_RELEASE_RQ);
  const first = await peer.readPdu();
  assert.equal(first?.[0], 0x04, "C-ECHO-RSP in a P-DATA-TF (AR-7)");
  await expectBytes(peer, A_RELEASE_RP);
  peer.close();
  await scp.close();
});

Deno.test("Sta8: A-ABORT while the release response is pending closes the association", async () => {
  const scp = await startScp({ services: [slowEcho(300)] });
  const aborted = new Promise<void>((r) => scp.on("association-aborted", () => r()));
  const peer = await associateRaw(scp.port);
  await peer.send(pDataTf(1, true, true, cEchoRqCommand(1)));
  await peer.send(A_RELEASE_RQ);
  await delay(30);
  await peer.send(aAbort(0, 0));
  assert.equal(await peer.readPdu(), null);
  await aborted;
  peer.close();
  await scp.close();
});

// --- acceptor-side release collision, driving the upper layer directly ---

Deno.test("release collision on the acceptor side goes Sta7 → Sta10 → Sta12 → Sta13", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const states: string[] = [];
  const indications: string[] = [];
  let ul!: UpperLayerAssociation;
  const accepting = listener.accept().then((conn) => {
    ul = new UpperLayerAssociation({
      isRequestor: false,
      maxPduLength: 16384,
      artimTimeoutMs: 2000,
      user: {
        indication: (ind: Indication) => {
          indications.push(ind.type);
          if (ind.type === "associate-indication") {
            negotiateAsAcceptor(ind.rq as AAssociateRq, {
              aeTitle: "DIMSE",
              abstractSyntaxes: new Map([[VERIFICATION_SOP_CLASS, {
                transferSyntaxes: [TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN],
              }]]),
            }).then((d) => d.accepted && ul.acceptAssociation(d.ac));
          }
          if (ind.type === "release-confirmation" && ul.state === "Sta12") ul.releaseResponse();
        },
        pdv: () => {},
        pdvData: () => {},
        transition: (_from, _event, _action, to) => states.push(to),
      },
    });
    ul.acceptTransport(wrapConn(conn));
  });
  const peer = await associateRaw(port);
  await accepting;
  ul.releaseRequest();
  await expectBytes(peer, A_RELEASE_RQ);
  await peer.send(A_RELEASE_RQ);
  await delay(20);
  assert.equal(ul.state, "Sta10");
  await peer.send(A_RELEASE_RP);
  await expectBytes(peer, A_RELEASE_RP);
  assert.equal(ul.state, "Sta13");
  peer.close();
  await ul.closed;
  assert.deepEqual(states, ["Sta2", "Sta3", "Sta6", "Sta7", "Sta10", "Sta12", "Sta13", "Sta1"]);
  assert.deepEqual(indications, [
    "associate-indication",
    "release-indication",
    "release-confirmation",
    "closed",
  ]);
  listener.close();
});

// --- requestor side (our SCU) against a scripted acceptor ---

function scriptedAcceptor(): {
  port: number;
  next(): Promise<RawPeer>;
  close(): void;
} {
  const server = RawPeer.listen();
  return {
    port: server.port,
    async next() {
      const peer = await server.accept();
      const rqBytes = await peer.readPdu();
      assert.ok(rqBytes && rqBytes[0] === 0x01);
      const rq = decodePdu(rqBytes) as AAssociateRq;
      const d = await negotiateAsAcceptor(rq, {
        aeTitle: "PEER",
        abstractSyntaxes: new Map([[VERIFICATION_SOP_CLASS, {
          transferSyntaxes: [TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN],
        }]]),
      });
      assert.ok(d.accepted);
      await peer.send(encodePdu(d.ac));
      return peer;
    },
    close: () => server.close(),
  };
}

Deno.test("release collision on the requestor side goes Sta7 → Sta9 → Sta11 → Sta1", async () => {
  const acceptor = scriptedAcceptor();
  const peering = acceptor.next();
  const assoc = await Association.connect({ host: "127.0.0.1", port: acceptor.port });
  const peer = await peering;
  const releasing = assoc.release();
  await expectBytes(peer, A_RELEASE_RQ);
  await peer.send(A_RELEASE_RQ);
  await expectBytes(peer, A_RELEASE_RP);
  assert.equal(assoc.state, "Sta11");
  await peer.send(A_RELEASE_RP);
  await releasing;
  assert.equal(assoc.released, true);
  assert.ok(await peer.waitClosed(), "the requestor closes the transport (AR-3)");
  peer.close();
  acceptor.close();
});

Deno.test("Sta5: A-ABORT instead of A-ASSOCIATE-AC rejects connect with its source and reason", async () => {
  const server = RawPeer.listen();
  const script = (async () => {
    const peer = await server.accept();
    await peer.readPdu();
    await peer.send(aAbort(2, 1));
    await peer.waitClosed();
    peer.close();
  })();
  await assert.rejects(Association.connect({ host: "127.0.0.1", port: server.port }), (e) => {
    assert.ok(e instanceof AssociationAbortedError);
    assert.deepEqual([e.source, e.reason], [2, 1]);
    return true;
  });
  await script;
  server.close();
});

Deno.test("Sta5: P-DATA-TF instead of A-ASSOCIATE-AC is answered with A-ABORT reason 2", async () => {
  const server = RawPeer.listen();
  const script = (async () => {
    const peer = await server.accept();
    await peer.readPdu();
    await peer.send(pDataTf(1, true, true, cEchoRspCommand(1)));
    const answer = await peer.readPdu();
    peer.close();
    return answer;
  })();
  await assert.rejects(
    Association.connect({ host: "127.0.0.1", port: server.port, timeouts: { artim: 200 } }),
    AssociationAbortedError,
  );
  const answer = await script;
  assert.deepEqual(answer && [...answer], aAbort(2, 2));
  server.close();
});

Deno.test("Sta7: a response arriving after our A-RELEASE-RQ is still delivered (AR-6)", async () => {
  const acceptor = scriptedAcceptor();
  const peering = acceptor.next();
  const assoc = await Association.connect({ host: "127.0.0.1", port: acceptor.port });
  const peer = await peering;
  const echo = assoc.echo();
  const request = await peer.readPdu();
  assert.equal(request?.[0], 0x04);
  const releasing = assoc.release();
  await expectBytes(peer, A_RELEASE_RQ);
  assert.equal(assoc.state, "Sta7");
  await peer.send(pDataTf(1, true, true, cEchoRspCommand(1)));
  assert.equal(await echo, 0);
  await peer.send(A_RELEASE_RP);
  await releasing;
  assert.ok(await peer.waitClosed());
  peer.close();
  acceptor.close();
});

Deno.test("Sta7: A-ABORT in answer to our A-RELEASE-RQ makes release fail with the abort", async () => {
  const acceptor = scriptedAcceptor();
  const peering = acceptor.next();
  const assoc = await Association.connect({ host: "127.0.0.1", port: acceptor.port });
  const peer = await peering;
  const releasing = assoc.release();
  await expectBytes(peer, A_RELEASE_RQ);
  await peer.send(aAbort(0, 0));
  await assert.rejects(releasing, AssociationAbortedError);
  assert.equal(assoc.state, "Sta1");
  peer.close();
  acceptor.close();
});

Deno.test("Sta6 requestor: an unknown PDU type is answered with A-ABORT reason 1 and pending echo fails", async () => {
  const acceptor = scriptedAcceptor();
  const peering = acceptor.next();
  const assoc = await Association.connect({ host: "127.0.0.1", port: acceptor.port });
  const peer = await peering;
  const echoFails = assert.rejects(assoc.echo(), AssociationAbortedError);
  await peer.readPdu();
  await peer.send(UNKNOWN_PDU);
  await expectBytes(peer, aAbort(2, 1));
  await echoFails;
  peer.close();
  await assoc.closed;
  acceptor.close();
});

Deno.test("SCU abort sends A-ABORT source 0 and closes", async () => {
  const acceptor = scriptedAcceptor();
  const peering = acceptor.next();
  const assoc = await Association.connect({ host: "127.0.0.1", port: acceptor.port });
  const peer = await peering;
  await assoc.abort();
  await expectBytes(peer, aAbort(0, 0));
  assert.ok(await peer.waitClosed());
  peer.close();
  acceptor.close();
});

Deno.test("Sta11: A-ABORT instead of the A-RELEASE-RP after a collision ends the release with the abort", async () => {
  const acceptor = scriptedAcceptor();
  const peering = acceptor.next();
  const assoc = await Association.connect({ host: "127.0.0.1", port: acceptor.port });
  const peer = await peering;
  const releasing = assoc.release();
  await expectBytes(peer, A_RELEASE_RQ);
  await peer.send(A_RELEASE_RQ);
  await expectBytes(peer, A_RELEASE_RP);
  assert.equal(assoc.state, "Sta11");
  await peer.send(aAbort(2, 0));
  await assert.rejects(releasing, (e) => {
    assert.ok(e instanceof AssociationAbortedError);
    assert.deepEqual([e.source, e.reason], [2, 0]);
    return true;
  });
  assert.equal(assoc.state, "Sta1");
  peer.close();
  acceptor.close();
});
