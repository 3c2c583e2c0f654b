// The C-GET SCP over real sockets: our client proposes the GET SOP classes and Storage SOP
// classes with SCP/SCU Role Selection, and receives the C-STORE sub-operations on the same
// association with a recording Storage service.
import assert from "node:assert/strict";
import { Association, type ProposedPresentationContext } from "../../src/client.ts";
import { fromKeywords } from "../../src/dataset/dataset.ts";
import { readWholeDataSet } from "../../src/dataset/reader.ts";
import {
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from "../../src/dataset/transfer_syntax.ts";
import { writeDataSet } from "../../src/dataset/writer.ts";
import { CommandField, type CommandSet } from "../../src/dimse/command.ts";
import type { DimseResponse } from "../../src/dimse/dispatcher.ts";
import { Scp } from "../../src/scp.ts";
import { queryRetrieveGet } from "../../src/services/qr_get.ts";
import { PATIENT_ROOT_QR_GET, STUDY_ROOT_QR_GET } from "../../src/services/qr_identifier.ts";
import { storage } from "../../src/services/storage.ts";
import type { ScpScuRoleSelection } from "../../src/ul/pdu.ts";
import {
  ARCHIVE,
  CT,
  makeArchive,
  MR,
  type ReceivedStore,
  recordingStorage,
  SC,
  studyUid,
  uidsWhere,
  withGetScp,
} from "./_retrieve_archive.ts";

interface GetOptions {
  /** Storage SOP classes proposed, with the SCP role asked for unless listed in `noRole`. */
  storageClasses?: string[];
  noRole?: string[];
  storageTransferSyntaxes?: string[];
  delayMs?: number;
}

async function connect(
  port: number,
  received: ReceivedStore[],
  options: GetOptions = {},
): Promise<Association> {
  const classes = options.storageClasses ?? [CT, MR, SC];
  const contexts: ProposedPresentationContext[] = [
    { abstractSyntax: STUDY_ROOT_QR_GET, transferSyntaxes: [ExplicitVrLittleEndian] },
    {
      abstractSyntax: PATIENT_ROOT_QR_GET,
      transferSyntaxes: [ExplicitVrLittleEndian],
    },
    ...classes.map((abstractSyntax) => ({
      abstractSyntax,
      transferSyntaxes: options.storageTransferSyntaxes ??
        [ExplicitVrLittleEndian, ImplicitVrLittleEndian],
    })),
  ];
  const roleSelections: ScpScuRoleSelection[] = classes
    .filter((c) => !(options.noRole ?? []).includes(c))
    .map((sopClassUid) => ({ sopClassUid, scuRole: false, scpRole: true }));
  return await Association.connect({
    host: "127.0.0.1",
    port,
    callingAeTitle: "GETSCU",
    calledAeTitle: "QRSCP",
    presentationContexts: contexts,
    roleSelections,
    services: [recordingStorage(received, {
      delayMs: options.delayMs,
      transferSyntaxes: options.storageTransferSyntaxes,
    })],
  });
}

async function cGet(
  association: Association,
  sopClass: string,
  keys: Record<string, string>,
  onPending?: (c: CommandSet, messageId: number) => void,
): Promise<{ final: DimseResponse; pending: CommandSet[]; failedUids?: string[] }> {
  const pending: CommandSet[] = [];
  const messageId = 9;
  const final = await association.request({
    commandField: CommandField.C_GET_RQ,
    affectedSopClassUid: sopClass,
    messageId,
    priority: 0,
    commandDataSetType: 0,
  }, {
    dataSet: await writeDataSet(fromKeywords(keys), { transferSyntax: ExplicitVrLittleEndian }),
    onPending: (r) => {
      pending.push(r.command);
      onPending?.(r.command, messageId);
    },
  });
  let failedUids: string[] | undefined;
  if (final.dataSet) {
    const { dataSet } = await readWholeDataSet([final.dataSet], {
      transferSyntax: ExplicitVrLittleEndian,
    });
    failedUids = (dataSet["00080058"]?.Value ?? []).map(String);
  }
  return { final, pending, failedUids };
}

Deno.test("SCP/SCU role selection grants the SCP role for Storage classes when Storage and C-GET are both served", async () => {
  await withGetScp(async (port) => {
    const association = await connect(port, []);
    const accepted = association.negotiated.accepted;
    await association.release();
    for (const sop of [CT, MR, SC]) {
      const pc = accepted.find((c) => c.abstractSyntax === sop);
      assert.ok(pc, `context for ${sop} accepted`);
      assert.equal(pc.requestorIsScp, true);
      assert.equal(pc.requestorIsScu, false);
    }
  });
});

Deno.test("C-GET of a study sends its instances back on the same association with pending counts and Success", async () => {
  await withGetScp(async (port) => {
    const received: ReceivedStore[] = [];
    const association = await connect(port, received);
    const run = await cGet(association, STUDY_ROOT_QR_GET, {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: studyUid(1),
    });
    await association.release();
    assert.equal(run.final.command.status, 0x0000);
    assert.equal(run.final.command.numberOfCompletedSuboperations, 3);
    assert.equal(run.final.command.numberOfFailedSuboperations, 0);
    assert.deepEqual(
      run.pending.map((c) => [c.numberOfRemainingSuboperations, c.numberOfCompletedSuboperations]),
      [[2, 1], [1, 2]],
    );
    assert.deepEqual(
      received.map((r) => r.command.affectedSopInstanceUid).sort(),
      uidsWhere((i) => i.study === studyUid(1)).sort(),
    );
    for (const r of received) {
      assert.equal(r.command.moveOriginatorApplicationEntityTitle, undefined);
      const { dataSet } = await readWholeDataSet([r.dataSet], { transferSyntax: r.transferSyntax });
      assert.deepEqual(dataSet["00080018"].Value, [r.command.affectedSopInstanceUid]);
    }
  });
});

Deno.test("C-GET counts an instance whose SOP class was proposed without the SCP role as failed (B000)", async () => {
  await withGetScp(async (port, _archive, log) => {
    const received: ReceivedStore[] = [];
    const association = await connect(port, received, { noRole: [MR] });
    const run = await cGet(association, PATIENT_ROOT_QR_GET, {
      QueryRetrieveLevel: "STUDY",
      PatientID: "PID1",
      StudyInstanceUID: studyUid(1),
    });
    await association.release();
    assert.equal(run.final.command.status, 0xb000);
    assert.equal(run.final.command.numberOfCompletedSuboperations, 2);
    assert.equal(run.final.command.numberOfFailedSuboperations, 1);
    assert.deepEqual(run.failedUids, [ARCHIVE[2].sop]);
    assert.equal(received.length, 2);
    assert.ok(log.some((l) => l.includes("no context with the SCP role")), log.join("\n"));
  });
});

Deno.test("C-GET where no instance has a usable context fails with A702 listing them all", async () => {
  await withGetScp(async (port) => {
    const received: ReceivedStore[] = [];
    const association = await connect(port, received, { storageClasses: [CT] });
    const run = await cGet(association, STUDY_ROOT_QR_GET, {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: studyUid(3),
    });
    await association.release();
    assert.equal(run.final.command.status, 0xa702);
    assert.equal(run.final.command.numberOfFailedSuboperations, 3);
    assert.deepEqual(run.failedUids?.sort(), uidsWhere((i) => i.study === studyUid(3)).sort());
    assert.equal(received.length, 0);
  });
});

Deno.test("C-GET of an implicit VR file on an explicit VR only context converts it", async () => {
  await withGetScp(async (port) => {
    const received: ReceivedStore[] = [];
    const association = await connect(port, received, {
      storageTransferSyntaxes: [ExplicitVrLittleEndian],
    });
    const run = await cGet(association, STUDY_ROOT_QR_GET, {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: studyUid(2),
    });
    await association.release();
    assert.equal(ARCHIVE[3].transferSyntax, ImplicitVrLittleEndian);
    assert.equal(run.final.command.status, 0x0000);
    assert.equal(received.length, 1);
    assert.equal(received[0].transferSyntax, ExplicitVrLittleEndian);
    const { dataSet } = await readWholeDataSet([received[0].dataSet], {
      transferSyntax: ExplicitVrLittleEndian,
    });
    assert.equal(dataSet["00100010"].vr, "PN");
    assert.deepEqual(dataSet["00080018"].Value, [ARCHIVE[3].sop]);
  });
});

Deno.test("C-CANCEL during a C-GET stops between sub-operations and answers FE00", async () => {
  await withGetScp(async (port) => {
    const received: ReceivedStore[] = [];
    const association = await connect(port, received, { delayMs: 250 });
    const pcid = association.presentationContextFor(PATIENT_ROOT_QR_GET);
    let cancelled = false;
    const run = await cGet(association, PATIENT_ROOT_QR_GET, {
      QueryRetrieveLevel: "PATIENT",
      PatientID: "PID1",
    }, (_c, messageId) => {
      if (cancelled) return;
      cancelled = true;
      association.cancel(messageId, pcid);
    });
    await association.release();
    const c = run.final.command;
    assert.equal(c.status, 0xfe00);
    assert.ok((c.numberOfRemainingSuboperations ?? 0) >= 1, JSON.stringify(c));
    assert.equal(c.numberOfCompletedSuboperations, received.length);
    assert.equal(received.length + (c.numberOfRemainingSuboperations ?? 0), 4);
    assert.equal(run.failedUids?.length, c.numberOfRemainingSuboperations);
  });
});

Deno.test("C-GET with a wildcard in the unique key is refused with A900", async () => {
  await withGetScp(async (port) => {
    const association = await connect(port, []);
    const run = await cGet(association, PATIENT_ROOT_QR_GET, {
      QueryRetrieveLevel: "PATIENT",
      PatientID: "PID*",
    });
    await association.release();
    assert.equal(run.final.command.status, 0xa900);
    assert.deepEqual(run.final.command.offendingElement, [0x00100020]);
  });
});

Deno.test("A requestor that aborts during a C-GET leaves the SCP serving the next C-GET", async () => {
  await withGetScp(async (port) => {
    const first: ReceivedStore[] = [];
    const aborting = await connect(port, first, { delayMs: 250 });
    let aborted: Promise<void> | undefined;
    const outcome = await cGet(aborting, PATIENT_ROOT_QR_GET, {
      QueryRetrieveLevel: "PATIENT",
      PatientID: "PID1",
    }, () => {
      aborted ??= aborting.abort();
    }).then(() => "answered", (e) => (e instanceof Error ? e.name : String(e)));
    await aborted;
    assert.notEqual(outcome, "answered");
    assert.ok(first.length < 4);

    const received: ReceivedStore[] = [];
    const association = await connect(port, received);
    const run = await cGet(association, STUDY_ROOT_QR_GET, {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: studyUid(3),
    });
    await association.release();
    assert.equal(run.final.command.status, 0x0000);
    assert.equal(received.length, 3);
  });
});

Deno.test("A C-STORE reaches the Storage service even when the C-GET service, listing Storage classes for its SCU role, comes first", async () => {
  const archive = await makeArchive();
  const incoming = await Deno.makeTempDir({ prefix: "dimse-get-order-" });
  const scp = new Scp({
    aeTitle: "QRSCP",
    port: 0,
    hostname: "127.0.0.1",
    services: [
      queryRetrieveGet({ index: archive.index, dir: archive.dir, log: () => {} }),
      storage({ dir: incoming, fsync: false }),
    ],
  });
  await scp.listen();
  try {
    const association = await Association.connect({
      host: "127.0.0.1",
      port: scp.port,
      calledAeTitle: "QRSCP",
      presentationContexts: [{ abstractSyntax: SC, transferSyntaxes: [ExplicitVrLittleEndian] }],
    });
    const sopInstanceUid = "1.2.826.0.1.3680043.10.999.1";
    const result = await association.store(fromKeywords({
      SOPClassUID: SC,
      SOPInstanceUID: sopInstanceUid,
      PatientID: "ORDER",
      StudyInstanceUID: "1.2.826.0.1.3680043.10.999",
      SeriesInstanceUID: "1.2.826.0.1.3680043.10.999.0",
    }));
    await association.release();
    assert.equal(result.status, 0x0000);
    const stat = await Deno.stat(`${incoming}/${sopInstanceUid}.dcm`);
    assert.ok(stat.isFile && stat.size > 132);
  } finally {
    await scp.close({ timeoutMs: 1000 });
    await archive.close();
    await Deno.remove(incoming, { recursive: true });
  }
});
