import assert from "node:assert/strict";
import { Association, type ConnectOptions } from "../../src/client.ts";
import { CommandField } from "../../src/dimse/command.ts";
import { Status } from "../../src/dimse/status.ts";
import { type DataSet, toKeywords } from "../../src/dataset/dataset.ts";
import type { Scp } from "../../src/scp.ts";
import {
  DimseStatusError,
  type NormalizedRequest,
  normalizedService,
  type NormalizedSopClass,
} from "../../src/services/normalized.ts";
import { nEventReport } from "../../src/services/normalized_scu.ts";
import type { AssociationInfo } from "../../src/services/service.ts";
import { isValidUid, TransferSyntax, VERIFICATION_SOP_CLASS } from "../../src/ul/uids.ts";
import { associateRaw, pDataTf } from "../peers/raw_peer.ts";
import { DCMTK_ENV, freePort, requireDcmtk } from "../interop/_dcmtk.ts";
import { connectLocal, startLocalScp } from "../_helpers/local_scp.ts";

const TEST_CLASS = "1.2.826.0.1.3680043.10.1.1";
const OTHER_CLASS = "1.2.826.0.1.3680043.10.1.2";
const EXPLICIT = [TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN];
const IMPLICIT = [TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN];

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A SOP class whose instances live in a Map: every DIMSE-N service implemented. */
function memoryClass(uid: string, store: Map<string, DataSet>, seen: NormalizedRequest[]) {
  const sopClass: NormalizedSopClass = {
    uid,
    nCreate(request) {
      seen.push(request);
      if (store.has(request.sopInstanceUid)) return { status: Status.DUPLICATE_SOP_INSTANCE };
      store.set(request.sopInstanceUid, request.dataSet ?? {});
      return { status: Status.SUCCESS, dataSet: request.dataSet };
    },
    nGet(request) {
      seen.push(request);
      const instance = store.get(request.sopInstanceUid);
      if (!instance) return { status: Status.NO_SUCH_SOP_INSTANCE };
      const wanted = request.attributeIdentifierList ?? [];
      if (wanted.length === 0) return { status: Status.SUCCESS, dataSet: instance };
      const out: DataSet = {};
      for (const tag of wanted) {
        const key = tag.toString(16).toUpperCase().padStart(8, "0");
        if (instance[key]) out[key] = instance[key];
      }
      return { status: Status.SUCCESS, dataSet: out };
    },
    nSet(request) {
      seen.push(request);
      const instance = store.get(request.sopInstanceUid);
      if (!instance) return { status: Status.NO_SUCH_SOP_INSTANCE };
      Object.assign(instance, request.dataSet ?? {});
      return { status: Status.SUCCESS, dataSet: instance };
    },
    nAction(request) {
      seen.push(request);
      if (request.actionTypeId !== 1) {
        throw new DimseStatusError(Status.NO_SUCH_ACTION, `No action ${request.actionTypeId}`);
      }
      return {
        status: Status.SUCCESS,
        dataSet: { ...(request.dataSet ? toKeywords(request.dataSet) : {}), Manufacturer: "ACME" },
      };
    },
    nEventReport(request) {
      seen.push(request);
      return {
        status: Status.SUCCESS,
        dataSet: { StudyDescription: `event ${request.eventTypeId}` },
      };
    },
    nDelete(request) {
      seen.push(request);
      return store.delete(request.sopInstanceUid)
        ? { status: Status.SUCCESS }
        : { status: Status.NO_SUCH_SOP_INSTANCE, errorComment: "No such instance" };
    },
  };
  return sopClass;
}

function connect(scp: Scp, extra: Partial<ConnectOptions> = {}): Promise<Association> {
  return connectLocal(scp, {
    presentationContexts: [
      { abstractSyntax: TEST_CLASS, transferSyntaxes: EXPLICIT },
      { abstractSyntax: OTHER_CLASS, transferSyntaxes: IMPLICIT },
    ],
    ...extra,
  });
}

Deno.test("every DIMSE-N primitive round-trips between our SCU and a normalizedService on our SCP", async () => {
  const store = new Map<string, DataSet>();
  const seen: NormalizedRequest[] = [];
  const scp = await startLocalScp([
    normalizedService({ name: "memory", sopClasses: [memoryClass(TEST_CLASS, store, seen)] }),
  ]);
  const assoc = await connect(scp);
  try {
    const uid = "1.2.826.0.1.3680043.10.1.9.1";
    const created = await assoc.nCreate({
      affectedSopClassUid: TEST_CLASS,
      affectedSopInstanceUid: uid,
      attributeList: { PatientName: "Doe^John", PatientID: "P1", StudyDescription: "Knee" },
    });
    assert.equal(created.status, Status.SUCCESS);
    assert.equal(created.command.commandField, CommandField.N_CREATE_RSP);
    assert.equal(created.command.affectedSopInstanceUid, uid);
    assert.equal(created.command.affectedSopClassUid, TEST_CLASS);
    assert.deepEqual(created.dataSet?.["00100020"], { vr: "LO", Value: ["P1"] });
    assert.equal(seen[0].operation, "nCreate");
    assert.equal(seen[0].transferSyntax, TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN);
    assert.deepEqual(seen[0].dataSet?.["00100010"], {
      vr: "PN",
      Value: [{ Alphabetic: "Doe^John" }],
    });

    const got = await assoc.nGet({
      requestedSopClassUid: TEST_CLASS,
      requestedSopInstanceUid: uid,
      attributeIdentifierList: ["PatientID", 0x00081030],
    });
    assert.equal(got.status, Status.SUCCESS);
    assert.equal(got.command.commandField, CommandField.N_GET_RSP);
    assert.equal(got.command.affectedSopInstanceUid, uid);
    assert.deepEqual(Object.keys(got.dataSet ?? {}).sort(), ["00081030", "00100020"]);
    assert.deepEqual(seen[1].attributeIdentifierList, [0x00100020, 0x00081030]);

    const set = await assoc.nSet({
      requestedSopClassUid: TEST_CLASS,
      requestedSopInstanceUid: uid,
      modificationList: { "00081030": { vr: "LO", Value: ["Shoulder"] } },
    });
    assert.equal(set.status, Status.SUCCESS);
    assert.equal(set.command.commandField, CommandField.N_SET_RSP);
    assert.deepEqual(store.get(uid)?.["00081030"], { vr: "LO", Value: ["Shoulder"] });

    const action = await assoc.nAction({
      requestedSopClassUid: TEST_CLASS,
      requestedSopInstanceUid: uid,
      actionTypeId: 1,
      actionInformation: { PatientID: "P1" },
    });
    assert.equal(action.status, Status.SUCCESS);
    assert.equal(action.command.commandField, CommandField.N_ACTION_RSP);
    assert.equal(action.command.actionTypeId, 1);
    assert.deepEqual(action.dataSet && toKeywords(action.dataSet), {
      Manufacturer: "ACME",
      PatientID: "P1",
    });

    const report = await assoc.nEventReport({
      affectedSopClassUid: TEST_CLASS,
      affectedSopInstanceUid: uid,
      eventTypeId: 3,
      eventInformation: { PatientID: "P1" },
    });
    assert.equal(report.status, Status.SUCCESS);
    assert.equal(report.command.commandField, CommandField.N_EVENT_REPORT_RSP);
    assert.equal(report.command.eventTypeId, 3);
    assert.deepEqual(report.dataSet && toKeywords(report.dataSet), {
      StudyDescription: "event 3",
    });
    assert.equal(seen[4].eventTypeId, 3);

    const deleted = await assoc.nDelete({
      requestedSopClassUid: TEST_CLASS,
      requestedSopInstanceUid: uid,
    });
    assert.equal(deleted.status, Status.SUCCESS);
    assert.equal(deleted.command.commandField, CommandField.N_DELETE_RSP);
    assert.equal(deleted.command.affectedSopInstanceUid, uid);
    assert.equal(store.has(uid), false);

    const gone = await assoc.nGet({
      requestedSopClassUid: TEST_CLASS,
      requestedSopInstanceUid: uid,
    });
    assert.equal(gone.status, Status.NO_SUCH_SOP_INSTANCE);
    assert.equal(gone.dataSet, undefined);
    const goneDelete = await assoc.nDelete({
      requestedSopClassUid: TEST_CLASS,
      requestedSopInstanceUid: uid,
    });
    assert.equal(goneDelete.status, Status.NO_SUCH_SOP_INSTANCE);
    assert.equal(goneDelete.command.errorComment, "No such instance");
  } finally {
    await assoc.release();
    await scp.close();
  }
});

Deno.test("N-CREATE without Affected SOP Instance UID gets a 2.25 UID assigned and returned", async () => {
  const store = new Map<string, DataSet>();
  const seen: NormalizedRequest[] = [];
  const scp = await startLocalScp([
    normalizedService({ name: "memory", sopClasses: [memoryClass(TEST_CLASS, store, seen)] }),
  ]);
  const assoc = await connect(scp);
  try {
    const a = await assoc.nCreate({ affectedSopClassUid: TEST_CLASS, attributeList: {} });
    const b = await assoc.nCreate({ affectedSopClassUid: TEST_CLASS });
    assert.equal(a.status, Status.SUCCESS);
    assert.equal(b.status, Status.SUCCESS);
    const uidA = a.command.affectedSopInstanceUid!;
    const uidB = b.command.affectedSopInstanceUid!;
    assert.match(uidA, /^2\.25\.[1-9][0-9]*$/);
    assert.ok(isValidUid(uidA));
    assert.notEqual(uidA, uidB);
    assert.deepEqual([...store.keys()], [uidA, uidB]);
    assert.equal(seen[0].sopInstanceUid, uidA);
    assert.equal(seen[0].command.affectedSopInstanceUid, undefined);
    const again = await assoc.nCreate({
      affectedSopClassUid: TEST_CLASS,
      affectedSopInstanceUid: uidA,
    });
    assert.equal(again.status, Status.DUPLICATE_SOP_INSTANCE);
  } finally {
    await assoc.release();
    await scp.close();
  }
});

Deno.test("a DIMSE-N service the SOP class has no handler for is answered 0211 Unrecognized operation", async () => {
  const scp = await startLocalScp([
    normalizedService({
      name: "get-only",
      sopClasses: [{ uid: TEST_CLASS, nGet: () => ({ status: Status.SUCCESS }) }],
    }),
  ]);
  const assoc = await connect(scp);
  try {
    const uid = "1.2.3.4";
    assert.equal(
      (await assoc.nGet({ requestedSopClassUid: TEST_CLASS, requestedSopInstanceUid: uid }))
        .status,
      Status.SUCCESS,
    );
    const results = await Promise.all([
      assoc.nSet({
        requestedSopClassUid: TEST_CLASS,
        requestedSopInstanceUid: uid,
        modificationList: {},
      }),
      assoc.nAction({
        requestedSopClassUid: TEST_CLASS,
        requestedSopInstanceUid: uid,
        actionTypeId: 1,
      }),
      assoc.nCreate({ affectedSopClassUid: TEST_CLASS }),
      assoc.nDelete({ requestedSopClassUid: TEST_CLASS, requestedSopInstanceUid: uid }),
      assoc.nEventReport({
        affectedSopClassUid: TEST_CLASS,
        affectedSopInstanceUid: uid,
        eventTypeId: 1,
      }),
    ]);
    assert.deepEqual(results.map((r) => r.status), Array(5).fill(Status.UNRECOGNIZED_OPERATION));
    // A DIMSE-C request on a normalized SOP class is not an operation it knows either.
    const echo = await assoc.request({
      commandField: CommandField.C_ECHO_RQ,
      affectedSopClassUid: TEST_CLASS,
      commandDataSetType: 0x0101,
    });
    assert.equal(echo.command.status, Status.UNRECOGNIZED_OPERATION);
  } finally {
    await assoc.release();
    await scp.close();
  }
});

Deno.test("an unknown SOP class is answered 0118 and a served one on another context 0122", async () => {
  const seen: NormalizedRequest[] = [];
  const scp = await startLocalScp([
    normalizedService({
      name: "two",
      sopClasses: [
        memoryClass(TEST_CLASS, new Map(), seen),
        memoryClass(OTHER_CLASS, new Map(), seen),
      ],
    }),
  ]);
  const assoc = await connect(scp);
  try {
    const pcTest = assoc.presentationContextFor(TEST_CLASS);
    const unknown = await assoc.nGet(
      { requestedSopClassUid: "1.2.826.0.1.3680043.10.1.99", requestedSopInstanceUid: "1.2.3" },
      { presentationContextId: pcTest },
    );
    assert.equal(unknown.status, Status.NO_SUCH_SOP_CLASS);
    assert.match(unknown.command.errorComment ?? "", /1\.2\.826\.0\.1\.3680043\.10\.1\.99/);
    const elsewhere = await assoc.nGet(
      { requestedSopClassUid: OTHER_CLASS, requestedSopInstanceUid: "1.2.3" },
      { presentationContextId: pcTest },
    );
    assert.equal(elsewhere.status, Status.SOP_CLASS_NOT_SUPPORTED);
    assert.equal(seen.length, 0, "no handler was called");
  } finally {
    await assoc.release();
    await scp.close();
  }
});

Deno.test("a malformed or missing SOP Instance UID is answered 0117 Invalid object instance", async () => {
  const seen: NormalizedRequest[] = [];
  const scp = await startLocalScp([
    normalizedService({ name: "memory", sopClasses: [memoryClass(TEST_CLASS, new Map(), seen)] }),
  ]);
  const assoc = await connect(scp);
  try {
    for (const bad of ["1.02.3", "1..2", "abc", "1.2."]) {
      const r = await assoc.nGet({
        requestedSopClassUid: TEST_CLASS,
        requestedSopInstanceUid: bad,
      });
      assert.equal(r.status, Status.INVALID_OBJECT_INSTANCE, bad);
    }
    const missing = await assoc.request({
      commandField: CommandField.N_DELETE_RQ,
      requestedSopClassUid: TEST_CLASS,
      commandDataSetType: 0x0101,
    });
    assert.equal(missing.command.status, Status.INVALID_OBJECT_INSTANCE);
    assert.equal(missing.command.errorComment, "SOP Instance UID missing");
    assert.equal(seen.length, 0);
  } finally {
    await assoc.release();
    await scp.close();
  }
});

Deno.test("handler statuses reach the SCU: thrown DimseStatusError, 0110 on a plain error, 0213 over the data set limit", async () => {
  let called = 0;
  const scp = await startLocalScp([
    normalizedService({
      name: "statuses",
      maxDataSetLength: 64,
      sopClasses: [{
        uid: TEST_CLASS,
        nSet() {
          called++;
          throw new DimseStatusError(
            Status.INVALID_ATTRIBUTE_VALUE,
            "Study Description may not be set",
            { offendingElement: [0x00081030] },
          );
        },
        nAction(request) {
          called++;
          if (request.actionTypeId === 2) {
            return {
              status: Status.ATTRIBUTE_VALUE_OUT_OF_RANGE,
              offendingElement: [0x00100020],
              dataSet: { PatientID: "P" },
            };
          }
          if (request.actionTypeId === 3) return { status: Status.CLASS_INSTANCE_CONFLICT };
          throw new Error("Disk on fire");
        },
        nCreate() {
          called++;
          return { status: Status.SUCCESS };
        },
      }],
    }),
  ]);
  const assoc = await connect(scp);
  try {
    const set = await assoc.nSet({
      requestedSopClassUid: TEST_CLASS,
      requestedSopInstanceUid: "1.2.3",
      modificationList: { StudyDescription: "x" },
    });
    assert.equal(set.status, Status.INVALID_ATTRIBUTE_VALUE);
    assert.equal(set.command.errorComment, "Study Description may not be set");
    assert.deepEqual(set.command.offendingElement, [0x00081030]);

    const failed = await assoc.nAction({
      requestedSopClassUid: TEST_CLASS,
      requestedSopInstanceUid: "1.2.3",
      actionTypeId: 1,
    });
    assert.equal(failed.status, Status.PROCESSING_FAILURE);
    assert.equal(failed.command.errorComment, "Disk on fire");

    const warning = await assoc.nAction({
      requestedSopClassUid: TEST_CLASS,
      requestedSopInstanceUid: "1.2.3",
      actionTypeId: 2,
    });
    assert.equal(warning.status, Status.ATTRIBUTE_VALUE_OUT_OF_RANGE);
    assert.deepEqual(warning.command.offendingElement, [0x00100020]);
    assert.deepEqual(warning.dataSet && toKeywords(warning.dataSet), { PatientID: "P" });

    const conflict = await assoc.nAction({
      requestedSopClassUid: TEST_CLASS,
      requestedSopInstanceUid: "1.2.3",
      actionTypeId: 3,
    });
    assert.equal(conflict.status, Status.CLASS_INSTANCE_CONFLICT);

    const before = called;
    const big = await assoc.nCreate({
      affectedSopClassUid: TEST_CLASS,
      attributeList: { StudyDescription: "x".repeat(100) },
    });
    assert.equal(big.status, Status.RESOURCE_LIMITATION);
    assert.equal(called, before, "the handler never saw the oversized request");
    // The association is still usable after the refused data set.
    const small = await assoc.nCreate({ affectedSopClassUid: TEST_CLASS, attributeList: {} });
    assert.equal(small.status, Status.SUCCESS);
  } finally {
    await assoc.release();
    await scp.close();
  }
});

Deno.test("the acceptor sends N-EVENT-REPORT on the requestor's association after its N-ACTION response", async () => {
  let handle: AssociationInfo | undefined;
  const reportSent = Promise.withResolvers<number>();
  const scp = await startLocalScp([
    normalizedService({
      name: "commit-like",
      sopClasses: [{
        uid: TEST_CLASS,
        nAction(request) {
          handle = request.association;
          // Sent once the N-ACTION-RSP is on its way, as Storage Commitment does (PS3.4 J.3.3).
          setTimeout(async () => {
            assert.equal(request.association.open, true);
            const result = await nEventReport(request.association, {
              affectedSopClassUid: TEST_CLASS,
              affectedSopInstanceUid: request.sopInstanceUid,
              eventTypeId: 1,
              eventInformation: { TransactionUID: "1.2.3.4.5" },
            });
            reportSent.resolve(result.status);
          }, 20);
          return { status: Status.SUCCESS };
        },
      }],
    }),
  ]);
  const received: NormalizedRequest[] = [];
  const reportReceived = Promise.withResolvers<void>();
  const order: string[] = [];
  const assoc = await connect(scp, {
    services: [
      normalizedService({
        name: "reports",
        sopClasses: [{
          uid: TEST_CLASS,
          nEventReport(request) {
            order.push("report");
            received.push(request);
            reportReceived.resolve();
            return { status: Status.SUCCESS };
          },
        }],
      }),
    ],
  });
  try {
    const action = await assoc.nAction({
      requestedSopClassUid: TEST_CLASS,
      requestedSopInstanceUid: "1.2.840.10008.1.20.1.1",
      actionTypeId: 1,
    });
    order.push("response");
    assert.equal(action.status, Status.SUCCESS);
    await reportReceived.promise;
    assert.equal(await reportSent.promise, Status.SUCCESS);
    assert.deepEqual(order, ["response", "report"]);
    assert.equal(received[0].operation, "nEventReport");
    assert.equal(received[0].eventTypeId, 1);
    assert.equal(received[0].sopInstanceUid, "1.2.840.10008.1.20.1.1");
    assert.deepEqual(received[0].dataSet && toKeywords(received[0].dataSet), {
      TransactionUID: "1.2.3.4.5",
    });
  } finally {
    await assoc.release();
  }
  // The handle outlives the request and reports the end of the association.
  await handle!.closed;
  assert.equal(handle!.open, false);
  await assert.rejects(
    handle!.invoke(TEST_CLASS, {
      commandField: CommandField.N_EVENT_REPORT_RQ,
      affectedSopClassUid: TEST_CLASS,
      affectedSopInstanceUid: "1.2.3",
      eventTypeId: 1,
      commandDataSetType: 0x0101,
    }),
  );
  await scp.close();
});

Deno.test("asynchronous mode: four N-ACTIONs outstanding at once, answered out of order, with reports interleaved", async () => {
  const record = { concurrent: 0, max: 0 };
  const scp = await startLocalScp([
    normalizedService({
      name: "async",
      sopClasses: [{
        uid: TEST_CLASS,
        async nAction(request) {
          record.concurrent++;
          record.max = Math.max(record.max, record.concurrent);
          // The first request is performed last; each reports to the requestor before answering.
          await delay(request.actionTypeId === 1 ? 700 : 150 * (request.actionTypeId ?? 0));
          await nEventReport(request.association, {
            affectedSopClassUid: TEST_CLASS,
            affectedSopInstanceUid: request.sopInstanceUid,
            eventTypeId: request.actionTypeId ?? 0,
          });
          record.concurrent--;
          return { status: Status.SUCCESS };
        },
      }],
    }),
  ], { asyncOpsWindow: { maxOperationsInvoked: 4, maxOperationsPerformed: 4 } });
  const events: string[] = [];
  const assoc = await connect(scp, {
    asyncOpsWindow: { maxOperationsInvoked: 4, maxOperationsPerformed: 4 },
    services: [
      normalizedService({
        name: "reports",
        sopClasses: [{
          uid: TEST_CLASS,
          nEventReport(request) {
            events.push(`report ${request.eventTypeId}`);
            return { status: Status.SUCCESS };
          },
        }],
      }),
    ],
  });
  try {
    assert.equal(assoc.negotiated.maxOperationsInvoked, 4);
    assert.equal(assoc.negotiated.maxOperationsPerformed, 4);
    const results = await Promise.all([1, 2, 3, 4].map((actionTypeId) =>
      assoc.nAction({
        requestedSopClassUid: TEST_CLASS,
        requestedSopInstanceUid: `1.2.3.${actionTypeId}`,
        actionTypeId,
      }).then((r) => {
        events.push(`response ${r.command.actionTypeId}`);
        return r;
      })
    ));
    assert.deepEqual(results.map((r) => r.status), [0, 0, 0, 0]);
    assert.deepEqual(
      results.map((r) => r.command.affectedSopInstanceUid),
      ["1.2.3.1", "1.2.3.2", "1.2.3.3", "1.2.3.4"],
    );
    assert.equal(record.max, 4, "all four were performed at once");
    assert.equal(events.at(-1), "response 1", `first request answered last: ${events}`);
    assert.deepEqual(
      events.filter((e) => e.startsWith("report")).sort(),
      ["report 1", "report 2", "report 3", "report 4"],
    );
    // Each report precedes its own response and follows the earlier responses: interleaved.
    assert.deepEqual(events.slice(0, 2), ["report 2", "response 2"]);
    assert.ok(events.indexOf("report 1") > events.indexOf("response 4"), `${events}`);
    for (const id of [1, 2, 3, 4]) {
      assert.ok(events.indexOf(`report ${id}`) < events.indexOf(`response ${id}`), `${events}`);
    }
  } finally {
    await assoc.release();
    await scp.close();
  }
});

/** An N-ACTION-RQ command set in implicit VR little endian, built by hand (PS3.7 Table 10.3-7). */
function nActionRqBytes(messageId: number): Uint8Array {
  const enc = (s: string) => {
    const b = [...s].map((c) => c.charCodeAt(0));
    if (b.length % 2) b.push(0);
    return b;
  };
  const u16 = (v: number) => [v & 0xff, v >> 8];
  const fields: [number, number[]][] = [
    [0x0003, enc(VERIFICATION_SOP_CLASS)],
    [0x0100, u16(0x0130)],
    [0x0110, u16(messageId)],
    [0x0800, u16(0x0101)],
    [0x1001, enc("1.2.3")],
    [0x1008, u16(1)],
  ];
  const body = fields.flatMap(([e, v]) => [0, 0, e & 0xff, e >> 8, v.length, 0, 0, 0, ...v]);
  const n = body.length;
  return new Uint8Array([0, 0, 0, 0, 4, 0, 0, 0, n & 0xff, n >> 8, 0, 0, ...body]);
}

Deno.test("a second request with a Message ID still being performed is answered 0210 Duplicate invocation", async () => {
  const release = Promise.withResolvers<void>();
  let calls = 0;
  const scp = await startLocalScp([
    normalizedService({
      name: "slow",
      sopClasses: [{
        uid: VERIFICATION_SOP_CLASS,
        transferSyntaxes: IMPLICIT,
        async nAction() {
          calls++;
          await release.promise;
          return { status: Status.SUCCESS };
        },
      }],
    }),
  ], { asyncOpsWindow: { maxOperationsInvoked: 2, maxOperationsPerformed: 2 } });
  const peer = await associateRaw(scp.port, { asyncWindow: [2, 2] });
  try {
    await peer.send(pDataTf(1, true, true, nActionRqBytes(42)));
    await delay(50);
    await peer.send(pDataTf(1, true, true, nActionRqBytes(42)));
    const first = await peer.readPdu();
    assert.ok(first && first[0] === 0x04);
    // Status (0000,0900) of the response: find the element in the command.
    const statusOf = (pdu: Uint8Array) => {
      for (let i = 12; i + 10 <= pdu.length; i++) {
        if (pdu[i] === 0 && pdu[i + 1] === 0 && pdu[i + 2] === 0x00 && pdu[i + 3] === 0x09) {
          return pdu[i + 8] | (pdu[i + 9] << 8);
        }
      }
      return -1;
    };
    assert.equal(statusOf(first), Status.DUPLICATE_INVOCATION);
    assert.equal(calls, 1);
    release.resolve();
    const second = await peer.readPdu();
    assert.ok(second);
    assert.equal(statusOf(second), Status.SUCCESS);
  } finally {
    peer.close();
    await scp.close({ timeoutMs: 500 });
  }
});

// DCMTK interop: dcmprscp (Basic Grayscale Print Management SCP) is the DCMTK tool that
// performs DIMSE-N services (N-GET, N-CREATE, N-SET, N-ACTION, N-DELETE); DCMTK has no MPPS tool.
const PRINT_META_SOP_CLASS = "1.2.840.10008.5.1.1.9";
const BASIC_FILM_SESSION = "1.2.840.10008.5.1.1.1";
const PRINTER_SOP_CLASS = "1.2.840.10008.5.1.1.16";
const PRINTER_SOP_INSTANCE = "1.2.840.10008.5.1.1.17";

async function startPrintScp(): Promise<{ port: number; stop(): Promise<string> }> {
  const dir = await Deno.makeTempDir({ prefix: "dimse-dcmprscp-" });
  const port = freePort();
  for (const sub of ["db", "spool", "lut"]) await Deno.mkdir(`${dir}/${sub}`);
  await Deno.writeTextFile(
    `${dir}/dcmpstat.cfg`,
    [
      "[[GENERAL]]",
      "[DATABASE]",
      `Directory = ${dir}/db`,
      "[PRINT]",
      `Directory = ${dir}/spool`,
      "[LUT]",
      `Directory = ${dir}/lut`,
      "[[COMMUNICATION]]",
      "[PRINTSCP]",
      "Type = LOCALPRINTER",
      "Aetitle = PRINTSCP",
      "Description = Print SCP for the interop tests",
      "Hostname = localhost",
      `Port = ${port}`,
      "MaxPDU = 32768",
      "ImplicitOnly = false",
      "DisableNewVRs = false",
      "DisplayFormat = 1,1",
      "FilmSizeID = 8INX10IN",
      "MediumType = PAPER",
      "MagnificationType = REPLICATE",
      "MaxDensity = 320",
      "MinDensity = 20",
      "Supports12Bit = true",
      "SupportsPresentationLUT = false",
      "",
    ].join("\n"),
  );
  const child = new Deno.Command("dcmprscp", {
    args: ["-c", `${dir}/dcmpstat.cfg`],
    env: DCMTK_ENV,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = new Response(child.stderr).text();
  const stdout = new Response(child.stdout).text();
  const deadline = Date.now() + 10_000;
  while (true) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`dcmprscp did not listen on ${port}: ${await output}`);
      }
      await delay(50);
    }
  }
  return {
    port,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      await child.status;
      const text = (await stdout) + (await output);
      await Deno.remove(dir, { recursive: true });
      return text;
    },
  };
}

if (await requireDcmtk(["dcmprscp"], "tests/services/normalized_test.ts (DIMSE-N)")) {
  Deno.test("DCMTK dcmprscp performs our N-GET, N-CREATE, N-SET, N-ACTION and N-DELETE (Print Management)", async () => {
    const printScp = await startPrintScp();
    try {
      const assoc = await Association.connect({
        host: "127.0.0.1",
        port: printScp.port,
        calledAeTitle: "PRINTSCP",
        presentationContexts: [{
          abstractSyntax: PRINT_META_SOP_CLASS,
          transferSyntaxes: [...EXPLICIT, ...IMPLICIT],
        }],
      });
      // The SOP classes of a meta SOP class travel on its one context (PS3.4 H.3).
      const presentationContextId = assoc.presentationContextFor(PRINT_META_SOP_CLASS);
      const options = { presentationContextId };
      try {
        const printer = await assoc.nGet({
          requestedSopClassUid: PRINTER_SOP_CLASS,
          requestedSopInstanceUid: PRINTER_SOP_INSTANCE,
          attributeIdentifierList: ["PrinterStatus", "PrinterStatusInfo"],
        }, options);
        assert.equal(printer.status, Status.SUCCESS);
        assert.deepEqual(printer.dataSet && toKeywords(printer.dataSet), {
          PrinterStatus: "NORMAL",
          PrinterStatusInfo: "NORMAL",
        });

        const created = await assoc.nCreate({
          affectedSopClassUid: BASIC_FILM_SESSION,
          attributeList: { NumberOfCopies: "1", MediumType: "PAPER" },
        }, options);
        assert.equal(created.status, Status.SUCCESS);
        assert.equal(created.command.commandField, CommandField.N_CREATE_RSP);
        const uid = created.command.affectedSopInstanceUid!;
        assert.ok(isValidUid(uid), uid);
        assert.equal(toKeywords(created.dataSet!).MediumType, "PAPER");

        const set = await assoc.nSet({
          requestedSopClassUid: BASIC_FILM_SESSION,
          requestedSopInstanceUid: uid,
          modificationList: { NumberOfCopies: "2" },
        }, options);
        assert.equal(set.status, Status.SUCCESS);
        assert.equal(toKeywords(set.dataSet!).NumberOfCopies, 2);

        // Printing a film session without film boxes is refused with C600 (PS3.4 Annex H).
        const print = await assoc.nAction({
          requestedSopClassUid: BASIC_FILM_SESSION,
          requestedSopInstanceUid: uid,
          actionTypeId: 1,
        }, options);
        assert.equal(print.command.commandField, CommandField.N_ACTION_RSP);
        assert.equal(print.status, 0xc600);
        assert.equal(print.command.actionTypeId, 1);

        const deleted = await assoc.nDelete({
          requestedSopClassUid: BASIC_FILM_SESSION,
          requestedSopInstanceUid: uid,
        }, options);
        assert.equal(deleted.status, Status.SUCCESS);
        const again = await assoc.nDelete({
          requestedSopClassUid: BASIC_FILM_SESSION,
          requestedSopInstanceUid: uid,
        }, options);
        assert.equal(again.status, Status.NO_SUCH_SOP_INSTANCE);
      } finally {
        await assoc.release();
      }
    } finally {
      await printScp.stop();
    }
  });
}
