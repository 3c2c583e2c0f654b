import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import { CommandField } from "../../src/dimse/command.ts";
import { DimseTimeoutError } from "../../src/dimse/dispatcher.ts";
import { Status } from "../../src/dimse/status.ts";
import type { Scp } from "../../src/scp.ts";
import type { Service, ServiceRequest } from "../../src/services/service.ts";
import { verification } from "../../src/services/verification.ts";
import { TransferSyntax, VERIFICATION_SOP_CLASS } from "../../src/ul/uids.ts";
import { aAbort, associateRaw, cEchoRqCommand, pDataTf } from "../peers/raw_peer.ts";
import { startLocalScp } from "../_helpers/local_scp.ts";

const TEST_SOP_CLASS = "1.2.826.0.1.3680043.10.1.1";
const IMPLICIT = [TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN];

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** C-ECHO service whose first request is answered after the others. */
function slowFirstEcho(record: { concurrent: number; max: number }): Service {
  let calls = 0;
  return {
    name: "slow-echo",
    sopClasses: [{ abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: IMPLICIT }],
    async handle() {
      const first = calls++ === 0;
      record.concurrent++;
      record.max = Math.max(record.max, record.concurrent);
      await delay(first ? 150 : 10);
      record.concurrent--;
      return { status: Status.SUCCESS };
    },
  };
}

Deno.test("three outstanding C-ECHO requests are matched even when answered out of order", async () => {
  const record = { concurrent: 0, max: 0 };
  const scp = await startLocalScp([slowFirstEcho(record)], {
    asyncOpsWindow: { maxOperationsInvoked: 5, maxOperationsPerformed: 5 },
  });
  const assoc = await Association.connect({
    host: "127.0.0.1",
    port: scp.port,
    asyncOpsWindow: { maxOperationsInvoked: 5, maxOperationsPerformed: 5 },
  });
  assert.equal(assoc.negotiated.maxOperationsInvoked, 5);
  const order: number[] = [];
  const ids = [101, 102, 103];
  const results = await Promise.all(ids.map((id) =>
    assoc.request({
      commandField: CommandField.C_ECHO_RQ,
      affectedSopClassUid: VERIFICATION_SOP_CLASS,
      messageId: id,
      commandDataSetType: 0x0101,
    }).then((rsp) => {
      order.push(rsp.command.messageIdBeingRespondedTo!);
      return rsp.command.status;
    })
  ));
  assert.deepEqual(results, [0, 0, 0]);
  assert.equal(order[2], 101, `first request answered last: ${order}`);
  assert.equal(record.max, 3);
  await assoc.release();
  await scp.close();
});

Deno.test("in synchronous mode (window 1/1) only one operation is outstanding at a time", async () => {
  const record = { concurrent: 0, max: 0 };
  const scp = await startLocalScp([slowFirstEcho(record)]);
  const assoc = await Association.connect({ host: "127.0.0.1", port: scp.port });
  assert.equal(assoc.negotiated.maxOperationsInvoked, 1);
  let maxOutstanding = 0;
  const sampler = setInterval(() => {
    maxOutstanding = Math.max(maxOutstanding, assoc.outstanding);
  }, 1);
  const echoes = [assoc.echo(), assoc.echo(), assoc.echo()];
  const statuses = await Promise.all(echoes);
  clearInterval(sampler);
  assert.deepEqual(statuses, [0, 0, 0]);
  assert.equal(maxOutstanding, 1);
  assert.equal(record.max, 1);
  await assoc.release();
  await scp.close();
});

Deno.test("a request beyond the performing window is answered with A-ABORT reason 2", async () => {
  const record = { concurrent: 0, max: 0 };
  const scp = await startLocalScp([slowFirstEcho(record)]);
  const peer = await associateRaw(scp.port);
  await peer.send(pDataTf(1, true, true, cEchoRqCommand(1)));
  await peer.send(pDataTf(1, true, true, cEchoRqCommand(2)));
  const answer = await peer.readPduOfType(0x07);
  assert.deepEqual(answer && [...answer], aAbort(2, 2));
  assert.ok(await peer.waitClosed(2000));
  peer.close();
  await scp.close();
});

/** A C-FIND-like service: echoes the identifier in two pending responses, then succeeds. */
function pendingService(): Service {
  return {
    name: "pending",
    sopClasses: [{ abstractSyntax: TEST_SOP_CLASS, transferSyntaxes: IMPLICIT }],
    async handle(request: ServiceRequest) {
      const chunks: Uint8Array[] = [];
      for await (const c of request.dataSet!) chunks.push(c);
      const identifier = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let o = 0;
      for (const c of chunks) {
        identifier.set(c, o);
        o += c.length;
      }
      await request.sendPending({ status: Status.PENDING, dataSet: identifier });
      await request.sendPending({
        status: Status.PENDING_WARNING,
        dataSet: identifier.slice(0, 4),
      });
      return { status: Status.SUCCESS };
    },
  };
}

Deno.test("pending responses are delivered before the final one, with their data sets", async () => {
  const scp = await startLocalScp([pendingService()]);
  const assoc = await Association.connect({
    host: "127.0.0.1",
    port: scp.port,
    maxPduLength: 1024,
    presentationContexts: [{ abstractSyntax: TEST_SOP_CLASS, transferSyntaxes: IMPLICIT }],
  });
  const identifier = new Uint8Array(5000).map((_, i) => i & 0xff);
  const pending: { status: number; length: number }[] = [];
  const final = await assoc.request({
    commandField: CommandField.C_FIND_RQ,
    affectedSopClassUid: TEST_SOP_CLASS,
    priority: 0,
    commandDataSetType: 0,
  }, {
    dataSet: identifier,
    onPending: (rsp) => {
      pending.push({ status: rsp.command.status!, length: rsp.dataSet?.length ?? 0 });
    },
  });
  assert.deepEqual(pending, [{ status: 0xff00, length: 5000 }, { status: 0xff01, length: 4 }]);
  assert.equal(final.command.status, 0);
  assert.equal(final.command.commandField, CommandField.C_FIND_RSP);
  assert.equal(final.dataSet, undefined);
  await assoc.release();
  await scp.close();
});

Deno.test("C-CANCEL-RQ reaches the operation with that Message ID", async () => {
  let cancelledSeen = false;
  const service: Service = {
    name: "cancellable",
    sopClasses: [{ abstractSyntax: TEST_SOP_CLASS, transferSyntaxes: IMPLICIT }],
    async handle(request) {
      await request.dataSet?.cancel();
      await new Promise<void>((resolve) =>
        request.signal.addEventListener("abort", () => resolve())
      );
      cancelledSeen = true;
      return { status: Status.CANCEL };
    },
  };
  const scp = await startLocalScp([service]);
  const assoc = await Association.connect({
    host: "127.0.0.1",
    port: scp.port,
    presentationContexts: [{ abstractSyntax: TEST_SOP_CLASS, transferSyntaxes: IMPLICIT }],
  });
  const response = assoc.request({
    commandField: CommandField.C_FIND_RQ,
    affectedSopClassUid: TEST_SOP_CLASS,
    messageId: 77,
    priority: 0,
    commandDataSetType: 0,
  }, { dataSet: new Uint8Array(8) });
  await delay(50);
  await assoc.cancel(77, assoc.presentationContextFor(TEST_SOP_CLASS));
  const rsp = await response;
  assert.equal(rsp.command.status, Status.CANCEL);
  assert.equal(rsp.command.messageIdBeingRespondedTo, 77);
  assert.ok(cancelledSeen);
  await assoc.release();
  await scp.close();
});

Deno.test("a PDV interleaving another presentation context is answered with A-ABORT reason 2", async () => {
  const scp = await startLocalScp([verification()]);
  const peer = await associateRaw(scp.port, { presentationContextIds: [1, 3] });
  const command = cEchoRqCommand(1);
  await peer.send(pDataTf(1, true, false, command.subarray(0, 10)));
  await peer.send(pDataTf(3, true, true, command));
  const answer = await peer.readPduOfType(0x07);
  assert.deepEqual(answer && [...answer], aAbort(2, 2));
  assert.ok(await peer.waitClosed());
  peer.close();
  await scp.close();
});

Deno.test("a data set fragment before any command is answered with A-ABORT reason 2", async () => {
  const scp = await startLocalScp([verification()]);
  const peer = await associateRaw(scp.port);
  await peer.send(pDataTf(1, false, true, new Uint8Array(4)));
  const answer = await peer.readPduOfType(0x07);
  assert.deepEqual(answer && [...answer], aAbort(2, 2));
  peer.close();
  await scp.close();
});

Deno.test("a PDV on a presentation context that was not accepted is answered with A-ABORT reason 6", async () => {
  const scp = await startLocalScp([verification()]);
  const peer = await associateRaw(scp.port);
  await peer.send(pDataTf(5, true, true, cEchoRqCommand(1)));
  const answer = await peer.readPduOfType(0x07);
  assert.deepEqual(answer && [...answer], aAbort(2, 6));
  peer.close();
  await scp.close();
});

Deno.test("a command set fragmented over several PDVs is reassembled and answered", async () => {
  const scp = await startLocalScp([verification()]);
  const peer = await associateRaw(scp.port);
  const command = cEchoRqCommand(9);
  await peer.send(pDataTf(1, true, false, command.subarray(0, 7)));
  await peer.send(pDataTf(1, true, false, command.subarray(7, 30)));
  await peer.send(pDataTf(1, true, true, command.subarray(30)));
  const rsp = await peer.readPdu();
  assert.ok(rsp);
  assert.equal(rsp[0], 0x04);
  assert.equal(rsp[11], 0x03, "command, last fragment");
  peer.close();
  await scp.close();
});

Deno.test("a 64 MiB data set streams to a paused consumer with backpressure, not buffered whole", async () => {
  const total = 64 * 1024 * 1024;
  let received = 0;
  let bytesInWhilePaused = 0;
  // deno-lint-ignore prefer-const
  let scp!: Scp;
  const service: Service = {
    name: "sink",
    sopClasses: [{ abstractSyntax: TEST_SOP_CLASS, transferSyntaxes: IMPLICIT }],
    async handle(request) {
      const reader = request.dataSet!.getReader();
      let paused = false;
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        received += value.length;
        if (!paused && received >= 1024 * 1024) {
          paused = true;
          await delay(300);
          bytesInWhilePaused = scp.associations[0].bytesIn;
        }
      }
      return { status: Status.SUCCESS };
    },
  };
  scp = await startLocalScp([service]);
  const assoc = await Association.connect({
    host: "127.0.0.1",
    port: scp.port,
    presentationContexts: [{ abstractSyntax: TEST_SOP_CLASS, transferSyntaxes: IMPLICIT }],
  });
  async function* chunks() {
    const chunk = new Uint8Array(256 * 1024);
    for (let sent = 0; sent < total; sent += chunk.length) yield chunk;
  }
  const rsp = await assoc.request({
    commandField: CommandField.C_STORE_RQ,
    affectedSopClassUid: TEST_SOP_CLASS,
    affectedSopInstanceUid: "1.2.3.4",
    priority: 0,
    commandDataSetType: 0,
  }, { dataSet: chunks() });
  assert.equal(rsp.command.status, 0);
  assert.equal(received, total);
  // While the consumer paused, the SCP stopped reading the socket a few chunks ahead of it.
  assert.ok(
    bytesInWhilePaused < 4 * 1024 * 1024,
    `read ${bytesInWhilePaused} bytes while the consumer had taken about 1 MiB`,
  );
  await assoc.release();
  await scp.close();
});

Deno.test("each request has its own DIMSE timeout: one answered after an earlier request's deadline has passed still succeeds", async () => {
  // The first echo is answered at once; the second is sent 600 ms later and answered 600 ms
  // after that, past the first one's deadline (1000 ms) and well within its own (1600 ms).
  let calls = 0;
  const scp = await startLocalScp([{
    name: "echo-later",
    sopClasses: [{ abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: IMPLICIT }],
    async handle() {
      if (calls++ > 0) await delay(600);
      return { status: Status.SUCCESS };
    },
  }]);
  const assoc = await Association.connect({
    host: "127.0.0.1",
    port: scp.port,
    timeouts: { dimse: 1000 },
  });
  assert.equal(await assoc.echo(), Status.SUCCESS);
  await delay(600);
  assert.equal(await assoc.echo(), Status.SUCCESS);
  assert.equal(calls, 2);
  await assoc.release();
  await scp.close();
});

Deno.test("a request left unanswered times out at its own deadline while an earlier one was answered", async () => {
  let calls = 0;
  const scp = await startLocalScp([{
    name: "echo-then-never",
    sopClasses: [{ abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: IMPLICIT }],
    handle(request) {
      if (calls++ === 0) return Promise.resolve({ status: Status.SUCCESS });
      return new Promise((resolve) =>
        request.signal.addEventListener("abort", () => resolve({ status: Status.CANCEL }))
      );
    },
  }]);
  const assoc = await Association.connect({
    host: "127.0.0.1",
    port: scp.port,
    timeouts: { dimse: 300 },
  });
  assert.equal(await assoc.echo(), Status.SUCCESS);
  // The second request's deadline is 150 ms after the first one's.
  await delay(150);
  const started = performance.now();
  await assert.rejects(assoc.echo(), DimseTimeoutError);
  // Not before its own deadline (the first request's timer is no excuse to end it early).
  assert.ok(
    performance.now() - started >= 290,
    `timed out after ${performance.now() - started} ms`,
  );
  await assoc.closed;
  await scp.close();
});
