import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import { UpperLayerAssociation } from "../../src/ul/association.ts";
import { buildAssociateRq } from "../../src/ul/negotiation.ts";
import type { State } from "../../src/ul/state_table.ts";
import { ConnectTimeoutError, connectTransport, type Transport } from "../../src/ul/transport.ts";
import { TransferSyntax, VERIFICATION_SOP_CLASS } from "../../src/ul/uids.ts";

/**
 * A listener that never accepts, with its accept queue filled: further TCP connects get no
 * answer to their SYN (the kernel drops it), as from a host that is down.
 */
async function unansweringPort(): Promise<{ port: number; close(): void }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const filled: Deno.Conn[] = [];
  for (;;) {
    const conn = await Promise.race([
      Deno.connect({ hostname: "127.0.0.1", port }),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 200)),
    ]);
    if (conn === null) break;
    filled.push(conn);
    if (filled.length > 5000) throw new Error("Accept queue never filled");
  }
  return {
    port,
    close() {
      for (const c of filled) c.close();
      listener.close();
    },
  };
}

Deno.test({
  name: "a TCP connect that gets no answer fails with ConnectTimeoutError after timeouts.connect",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const peer = await unansweringPort();
    try {
      const started = performance.now();
      await assert.rejects(
        Association.connect({
          host: "127.0.0.1",
          port: peer.port,
          timeouts: { connect: 300, artim: 300 },
        }),
        (e) => e instanceof ConnectTimeoutError && /timed out after 300 ms/.test(e.message),
      );
      const took = performance.now() - started;
      assert.ok(took >= 290, `gave up after ${took} ms, before the connect timeout`);
    } finally {
      peer.close();
    }
  },
});

Deno.test("A-ABORT request in Sta4 closes the connection being opened and sends nothing (AA-2)", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  let release!: (t: Transport) => void;
  const gate = new Promise<Transport>((resolve) => (release = resolve));
  const states: State[] = [];
  const indications: string[] = [];
  const ul = new UpperLayerAssociation({
    isRequestor: true,
    maxPduLength: 16384,
    artimTimeoutMs: 2000,
    user: {
      indication: (ind) => indications.push(ind.type),
      pdv: () => {},
      pdvData: () => {},
      transition: (_from, _event, _action, to) => states.push(to),
    },
  });
  const rq = buildAssociateRq({
    callingAeTitle: "DIMSE-SCU",
    calledAeTitle: "ANY-SCP",
    presentationContexts: [{
      abstractSyntax: VERIFICATION_SOP_CLASS,
      transferSyntaxes: [TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN],
    }],
    maxPduLength: 16384,
  });
  // The transport connect completes only when the test lets it, after the abort.
  ul.associateRequest(rq, () => gate);
  assert.equal(ul.state, "Sta4");
  ul.abortRequest();
  assert.equal(ul.state, "Sta1");
  assert.deepEqual(states, ["Sta4", "Sta1"]);

  release(await connectTransport({ hostname: "127.0.0.1", port }));
  const accepted = await listener.accept();
  const received: number[] = [];
  const buffer = new Uint8Array(1024);
  for (;;) {
    const n = await accepted.read(buffer);
    if (n === null) break;
    received.push(...buffer.subarray(0, n));
  }
  accepted.close();
  listener.close();
  assert.deepEqual(received, [], "no A-ASSOCIATE-RQ nor A-ABORT may be sent after AA-2");
  assert.ok(!indications.includes("associate-accepted"));
});
