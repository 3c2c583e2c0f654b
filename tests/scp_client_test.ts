import assert from "node:assert/strict";
import { Association, AssociationAbortedError, AssociationRejectedError } from "../src/client.ts";
import type { Scp, ScpOptions } from "../src/scp.ts";
import { verification } from "../src/services/verification.ts";
import { Status } from "../src/dimse/status.ts";
import { DimseTimeoutError } from "../src/dimse/dispatcher.ts";
import { TransferSyntax, VERIFICATION_SOP_CLASS } from "../src/ul/uids.ts";
import { connectLocal, startLocalScp } from "./_helpers/local_scp.ts";
import { certificates } from "./_helpers/certificates.ts";

function startScp(extra: Partial<ScpOptions> = {}): Promise<Scp> {
  return startLocalScp([verification()], extra);
}

Deno.test("our SCU echoes our SCP and releases the association", async () => {
  const scp = await startScp();
  const events: string[] = [];
  scp.on("association-accepted", () => events.push("accepted"));
  scp.on("message-received", (e) => events.push(`in:${e.command.commandField.toString(16)}`));
  scp.on("message-sent", (e) => events.push(`out:${e.command.commandField.toString(16)}`));
  const released = new Promise<void>((r) => scp.on("association-released", () => r()));
  const assoc = await connectLocal(scp);
  assert.equal(assoc.state, "Sta6");
  assert.equal(assoc.negotiated.accepted.length, 1);
  assert.equal(assoc.negotiated.accepted[0].abstractSyntax, VERIFICATION_SOP_CLASS);
  // Our preference (explicit VR LE first) wins over the SCU's order.
  assert.equal(
    assoc.negotiated.accepted[0].transferSyntax,
    TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN,
  );
  assert.equal(scp.associations.length, 1);
  assert.equal(scp.associations[0].callingAeTitle, "DIMSE-SCU");
  assert.equal(await assoc.echo(), Status.SUCCESS);
  assert.equal(await assoc.echo(), Status.SUCCESS);
  await assoc.release();
  assert.equal(assoc.released, true);
  assert.equal(assoc.state, "Sta1");
  await released;
  assert.deepEqual(events, ["accepted", "in:30", "out:8030", "in:30", "out:8030"]);
  assert.equal(scp.associations.length, 0);
  assert.equal(scp.totals.associationsReleased, 1);
  assert.deepEqual(scp.totals.services, { verification: { "0000": 2 } });
  await scp.close();
});

Deno.test("an SCU abort ends the association on both sides with source 0", async () => {
  const scp = await startScp();
  const aborted = new Promise<{ source: number; reason: number }>((r) =>
    scp.on("association-aborted", (e) => r(e))
  );
  const assoc = await connectLocal(scp);
  assert.equal(await assoc.echo(), 0);
  await assoc.abort();
  assert.equal(assoc.state, "Sta1");
  const e = await aborted;
  assert.equal(e.source, 0);
  assert.equal(scp.totals.associationsAborted, 1);
  await assert.rejects(assoc.echo(), AssociationAbortedError);
  await scp.close();
});

Deno.test("ten concurrent associations echo independently", async () => {
  const scp = await startScp();
  const associations = await Promise.all(Array.from({ length: 10 }, () => connectLocal(scp)));
  assert.equal(scp.associations.length, 10);
  const statuses = await Promise.all(associations.map((a) => a.echo()));
  assert.deepEqual(statuses, new Array(10).fill(0));
  // One aborting does not disturb the others.
  await associations[0].abort();
  const again = await Promise.all(associations.slice(1).map((a) => a.echo()));
  assert.deepEqual(again, new Array(9).fill(0));
  await Promise.all(associations.slice(1).map((a) => a.release()));
  await scp.close();
});

Deno.test("graceful close lets a running association finish, then refuses new ones", async () => {
  const scp = await startScp();
  const assoc = await connectLocal(scp);
  const closing = scp.close({ timeoutMs: 5000 });
  assert.equal(await assoc.echo(), 0);
  await assoc.release();
  await closing;
  await assert.rejects(connectLocal(scp, { timeouts: { connect: 1000 } }));
});

Deno.test("graceful close aborts associations still open after the timeout", async () => {
  const scp = await startScp();
  const assoc = await connectLocal(scp);
  const t0 = Date.now();
  await scp.close({ timeoutMs: 200 });
  assert.ok(Date.now() - t0 >= 190);
  await assoc.closed;
  assert.ok(assoc.endError instanceof AssociationAbortedError);
  assert.equal((assoc.endError as AssociationAbortedError).source, 0);
});

async function rejection(
  scpOptions: Partial<ScpOptions>,
  connectOptions: Partial<Parameters<typeof Association.connect>[0]>,
): Promise<AssociationRejectedError> {
  const scp = await startScp(scpOptions);
  const events: number[][] = [];
  scp.on("association-rejected", (e) => events.push([e.result, e.source, e.reason]));
  try {
    await connectLocal(scp, connectOptions);
    assert.fail("association accepted");
  } catch (e) {
    assert.ok(e instanceof AssociationRejectedError, String(e));
    assert.deepEqual(events, [[e.result, e.source, e.reason]]);
    return e;
  } finally {
    await scp.close();
  }
}

Deno.test("called AE title not recognized is seen by the SCU as 1/1/7", async () => {
  const e = await rejection({ requireCalledAeTitle: true }, { calledAeTitle: "SOMEONE" });
  assert.deepEqual([e.result, e.source, e.reason], [1, 1, 7]);
  assert.match(e.message, /called AE title not recognized/);
});

Deno.test("calling AE title outside the allow-list is seen by the SCU as 1/1/3", async () => {
  const e = await rejection({ allowedCallingAeTitles: ["MODALITY"] }, {});
  assert.deepEqual([e.result, e.source, e.reason], [1, 1, 3]);
});

Deno.test("failed authentication is seen by the SCU as 1/1/1", async () => {
  const e = await rejection({ authenticator: () => Promise.resolve(false) }, {
    userIdentity: {
      userIdentityType: 1,
      positiveResponseRequested: false,
      primaryField: new TextEncoder().encode("mallory"),
      secondaryField: new Uint8Array(0),
    },
  });
  assert.deepEqual([e.result, e.source, e.reason], [1, 1, 1]);
});

Deno.test("a positive user identity response reaches the SCU", async () => {
  const scp = await startScp({
    authenticator: (id) =>
      Promise.resolve(
        new TextDecoder().decode(id?.primaryField) === "alice"
          ? { serverResponse: new TextEncoder().encode("token") }
          : false,
      ),
  });
  const assoc = await connectLocal(scp, {
    userIdentity: {
      userIdentityType: 1,
      positiveResponseRequested: true,
      primaryField: new TextEncoder().encode("alice"),
      secondaryField: new Uint8Array(0),
    },
  });
  assert.equal(new TextDecoder().decode(assoc.negotiated.userIdentityServerResponse), "token");
  await assoc.release();
  await scp.close();
});

Deno.test("more associations than allowed is seen by the SCU as 2/3/2", async () => {
  const scp = await startScp({ maxAssociations: 1 });
  const first = await connectLocal(scp);
  await assert.rejects(connectLocal(scp), (e) => {
    assert.ok(e instanceof AssociationRejectedError);
    assert.deepEqual([e.result, e.source, e.reason], [2, 3, 2]);
    return true;
  });
  await first.release();
  const second = await connectLocal(scp);
  await second.release();
  await scp.close();
});

Deno.test("a context for an unknown SOP class is rejected with reason 3 and the rest accepted", async () => {
  const scp = await startScp();
  const assoc = await connectLocal(scp, {
    presentationContexts: [
      {
        abstractSyntax: "1.2.840.10008.5.1.4.1.1.2",
        transferSyntaxes: [TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN],
      },
      { abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: ["1.2.840.10008.1.2.4.50"] },
      {
        abstractSyntax: VERIFICATION_SOP_CLASS,
        transferSyntaxes: [TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN],
      },
    ],
  });
  assert.deepEqual(assoc.negotiated.rejected.map((r) => [r.presentationContextId, r.result]), [[
    1,
    3,
  ], [3, 4]]);
  assert.deepEqual(assoc.negotiated.accepted.map((a) => a.presentationContextId), [5]);
  assert.equal(await assoc.echo(), 0);
  await assoc.release();
  await scp.close();
});

Deno.test("connecting to a closed port fails with a connection error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    Association.connect({ host: "127.0.0.1", port }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("an idle association is aborted by the SCP after the idle timeout", async () => {
  const scp = await startScp({ timeouts: { artim: 500, idle: 150 } });
  const aborted = new Promise<void>((r) => scp.on("association-aborted", () => r()));
  const assoc = await connectLocal(scp);
  assert.equal(await assoc.echo(), 0);
  await assoc.closed;
  await aborted;
  assert.ok(assoc.endError instanceof AssociationAbortedError);
  assert.equal((assoc.endError as AssociationAbortedError).source, 0);
  await scp.close();
});

Deno.test("a response slower than the DIMSE timeout fails the request and aborts", async () => {
  const scp = await startScp({
    services: [{
      name: "never",
      sopClasses: [{
        abstractSyntax: VERIFICATION_SOP_CLASS,
        transferSyntaxes: [TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN],
      }],
      handle: (request) =>
        new Promise((resolve) =>
          request.signal.addEventListener("abort", () => resolve({ status: Status.CANCEL }))
        ),
    }],
  });
  const assoc = await connectLocal(scp, { timeouts: { dimse: 150 } });
  await assert.rejects(assoc.echo(), DimseTimeoutError);
  await assoc.closed;
  assert.equal(assoc.released, false);
  await scp.close();
});

Deno.test("a peer that never answers A-RELEASE-RQ is aborted after the ARTIM time", async () => {
  const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (server.addr as Deno.NetAddr).port;
  const scp = await startScp();
  // A relay that forwards the association to our SCP but swallows A-RELEASE-RQ.
  const relay = (async () => {
    const conn = await server.accept();
    const upstream = await Deno.connect({ hostname: "127.0.0.1", port: scp.port });
    const down = (async () => {
      const buf = new Uint8Array(65536);
      while (true) {
        const n = await upstream.read(buf).catch(() => null);
        if (n === null) break;
        await conn.write(buf.subarray(0, n)).catch(() => 0);
      }
    })();
    const buf = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      if (buf[0] === 0x05) continue;
      await upstream.write(buf.subarray(0, n)).catch(() => 0);
    }
    upstream.close();
    await down;
    try {
      conn.close();
    } catch {
      // Closed.
    }
  })();
  const assoc = await Association.connect({ host: "127.0.0.1", port, timeouts: { artim: 200 } });
  const t0 = Date.now();
  await assert.rejects(assoc.release(), AssociationAbortedError);
  assert.ok(Date.now() - t0 >= 180);
  await relay;
  server.close();
  await scp.close();
});

Deno.test("echo over TLS (needs openssl to make a test certificate)", async (t) => {
  const certs = await certificates();
  if (!certs) {
    console.warn("SKIPPED: openssl not available to make a TLS test certificate");
    await t.step({ name: "skipped: no openssl", ignore: true, fn: () => {} });
    return;
  }
  const scp = await startScp({ tls: { cert: certs.cert, key: certs.key } });
  const assoc = await Association.connect({
    host: "localhost",
    port: scp.port,
    tls: { caCerts: [certs.ca] },
  });
  assert.equal(await assoc.echo(), 0);
  await assoc.release();
  await scp.close();
});

Deno.test("a peer that never answers the A-ASSOCIATE-RQ fails connect after connect + ARTIM and gets an A-ABORT", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: number[] = [];
  const peer = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(65536);
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        for (let i = 0; i < n; i++) received.push(buffer[i]);
      }
    } catch {
      // reset by the SCU
    }
    conn.close();
  })();
  const started = performance.now();
  await assert.rejects(
    Association.connect({
      host: "127.0.0.1",
      port: (listener.addr as Deno.NetAddr).port,
      timeouts: { connect: 100, artim: 200 },
    }),
    AssociationAbortedError,
  );
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 250, `gave up after ${elapsed} ms, before connect + ARTIM`);
  assert.ok(elapsed < 5000, `gave up after ${elapsed} ms`);
  await peer;
  listener.close();
  // The A-ASSOCIATE-RQ, then an A-ABORT (type 07H, source 0 service user) before the close.
  assert.equal(received[0], 0x01);
  const rqLength = (received[2] << 24 | received[3] << 16 | received[4] << 8 | received[5]) + 6;
  assert.deepEqual(received.slice(rqLength, rqLength + 10), [7, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
});
