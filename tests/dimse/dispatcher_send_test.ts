// What the dispatcher does when a request's data set source fails, against our own SCP over
// real sockets: dropped whole before any byte left, association aborted after.
import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import { CommandField } from "../../src/dimse/command.ts";
import { ExplicitVrLittleEndian } from "../../src/dataset/transfer_syntax.ts";
import { Scp } from "../../src/scp.ts";
import { storageHandler } from "../../src/services/storage.ts";

const SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7";

class SourceFailure extends Error {
  constructor() {
    super("Source failed");
    this.name = "SourceFailure";
  }
}

/** Yields `chunks` chunks of 64 KiB, then fails. */
async function* failingAfter(chunks: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < chunks; i++) yield new Uint8Array(65536);
  throw new SourceFailure();
}

/** A small explicit VR LE data set: (0008,0016), (0008,0018). */
function dataSet(uid: string): Uint8Array {
  const out: number[] = [];
  for (const [element, value] of [[0x16, SECONDARY_CAPTURE], [0x18, uid]] as const) {
    const text = value.length % 2 ? `${value}\0` : value;
    out.push(0x08, 0x00, element, 0x00, 0x55, 0x49, text.length & 0xff, text.length >> 8);
    for (const c of text) out.push(c.charCodeAt(0));
  }
  return new Uint8Array(out);
}

async function setUp() {
  const received: string[] = [];
  const scp = new Scp({
    aeTitle: "DIMSE",
    port: 0,
    hostname: "127.0.0.1",
    services: [
      storageHandler(async (instance) => {
        for await (const _ of instance.dataSet) { /* drained */ }
        received.push(instance.sopInstanceUid);
        return 0;
      }, { transferSyntaxes: [ExplicitVrLittleEndian] }),
    ],
  });
  await scp.listen();
  const association = await Association.connect({
    host: "127.0.0.1",
    port: scp.port,
    calledAeTitle: "DIMSE",
    presentationContexts: [
      { abstractSyntax: SECONDARY_CAPTURE, transferSyntaxes: [ExplicitVrLittleEndian] },
    ],
  });
  return { scp, received, association };
}

function storeRq(uid: string) {
  return {
    commandField: CommandField.C_STORE_RQ,
    affectedSopClassUid: SECONDARY_CAPTURE,
    affectedSopInstanceUid: uid,
    priority: 0,
    commandDataSetType: 0,
  };
}

Deno.test("a C-STORE whose data set source fails before any byte is sent is dropped whole, and the association goes on", async () => {
  const { scp, received, association } = await setUp();
  try {
    // The first chunk is held until the next one comes, so one chunk is not sent either.
    for (const chunks of [0, 1]) {
      await assert.rejects(
        association.request(storeRq("1.2.3.4.1"), { dataSet: failingAfter(chunks) }),
        SourceFailure,
      );
    }
    const response = await association.request(storeRq("1.2.3.4.2"), {
      dataSet: dataSet("1.2.3.4.2"),
    });
    assert.equal(response.command.status, 0);
    await association.release();
    assert.deepEqual(received, ["1.2.3.4.2"]);
  } finally {
    await scp.close({ timeoutMs: 1000 });
  }
});

Deno.test("a C-STORE whose data set source fails after part of it was sent aborts the association with that error", async () => {
  const { scp, received, association } = await setUp();
  try {
    await assert.rejects(
      association.request(storeRq("1.2.3.4.3"), { dataSet: failingAfter(3) }),
      SourceFailure,
    );
    await association.closed;
    assert.equal(association.released, false);
    assert.ok(association.endError instanceof SourceFailure);
    assert.deepEqual(received, []);
  } finally {
    await scp.close({ timeoutMs: 1000 });
  }
});
