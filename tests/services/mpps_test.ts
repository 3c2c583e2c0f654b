import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import { Status } from "../../src/dimse/status.ts";
import { fromJson, type KeywordDataSet, toKeywords } from "../../src/dataset/dataset.ts";
import { Scp } from "../../src/scp.ts";
import {
  MAY_NO_LONGER_BE_UPDATED,
  mpps,
  MPPS_RETRIEVE_SOP_CLASS,
  MPPS_SOP_CLASS,
} from "../../src/services/mpps.ts";
import { createMpps, getMpps, mppsCreateAttributes, setMpps } from "../../src/services/mpps_scu.ts";
import { TransferSyntax } from "../../src/ul/uids.ts";

interface Setup {
  dir: string;
  scp: Scp;
  assoc: Association;
  [Symbol.asyncDispose](): Promise<void>;
}

async function setup(): Promise<Setup> {
  const dir = await Deno.makeTempDir({ prefix: "dimse-mpps-" });
  const scp = new Scp({
    aeTitle: "DIMSE",
    port: 0,
    hostname: "127.0.0.1",
    services: [mpps({ dir })],
    timeouts: { artim: 500 },
  });
  await scp.listen();
  const assoc = await Association.connect({
    host: "127.0.0.1",
    port: scp.port,
    calledAeTitle: "DIMSE",
    presentationContexts: [
      {
        abstractSyntax: MPPS_SOP_CLASS,
        transferSyntaxes: [TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN],
      },
      {
        abstractSyntax: MPPS_RETRIEVE_SOP_CLASS,
        transferSyntaxes: [TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN],
      },
    ],
  });
  return {
    dir,
    scp,
    assoc,
    async [Symbol.asyncDispose]() {
      await assoc.release().catch(() => {});
      await scp.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const COMPLETE = {
  PerformedProcedureStepStatus: "COMPLETED",
  PerformedProcedureStepEndDate: "20260101",
  PerformedProcedureStepEndTime: "101500",
};

Deno.test("MPPS: N-CREATE IN PROGRESS, N-SET COMPLETED, N-GET the stored instance, persisted as DICOM JSON", async () => {
  await using s = await setup();
  const created = await createMpps(
    s.assoc,
    mppsCreateAttributes({ PatientID: "P1", PatientName: "Doe^Jane", Modality: "CT" }),
  );
  assert.equal(created.status, Status.SUCCESS, created.command.errorComment);
  const uid = created.command.affectedSopInstanceUid!;
  assert.match(uid, /^2\.25\.\d+$/);

  const path = `${s.dir}/mpps/${uid}.json`;
  const stored = fromJson(await Deno.readTextFile(path));
  assert.deepEqual(stored["00400252"], { vr: "CS", Value: ["IN PROGRESS"] });
  assert.deepEqual(stored["00080018"], { vr: "UI", Value: [uid] });
  assert.deepEqual(stored["00080016"], { vr: "UI", Value: [MPPS_SOP_CLASS] });
  // Written by rename: no temporary file is left behind.
  const names = [...Deno.readDirSync(`${s.dir}/mpps`)].map((e) => e.name);
  assert.deepEqual(names, [`${uid}.json`]);

  const set = await setMpps(s.assoc, {
    sopInstanceUid: uid,
    modificationList: {
      ...COMPLETE,
      PerformedSeriesSequence: [{ SeriesInstanceUID: "1.2.3.4", ProtocolName: "Head" }],
    },
  });
  assert.equal(set.status, Status.SUCCESS, set.command.errorComment);

  const got = await getMpps(s.assoc, uid);
  assert.equal(got.status, Status.SUCCESS);
  const keywords = toKeywords(got.dataSet!);
  assert.equal(keywords.PerformedProcedureStepStatus, "COMPLETED");
  assert.equal(keywords.PatientID, "P1");
  assert.equal(keywords.Modality, "CT");
  assert.equal(keywords.PerformedProcedureStepEndTime, "101500");
  assert.deepEqual(keywords.PerformedSeriesSequence, [{
    ProtocolName: "Head",
    SeriesInstanceUID: "1.2.3.4",
  }]);

  const some = await getMpps(s.assoc, uid, {
    attributeIdentifierList: ["PerformedProcedureStepStatus", "PatientID", "PatientAge"],
  });
  assert.equal(some.status, Status.SUCCESS);
  assert.deepEqual(toKeywords(some.dataSet!), {
    PatientAge: null,
    PatientID: "P1",
    PerformedProcedureStepStatus: "COMPLETED",
  });
});

Deno.test("MPPS: an N-SET after COMPLETED or DISCONTINUED is refused with 0110 and the instance is unchanged", async () => {
  await using s = await setup();
  for (const final of ["COMPLETED", "DISCONTINUED"]) {
    const created = await createMpps(s.assoc, mppsCreateAttributes({ PatientID: final }));
    const uid = created.command.affectedSopInstanceUid!;
    const done = await setMpps(s.assoc, {
      sopInstanceUid: uid,
      modificationList: { ...COMPLETE, PerformedProcedureStepStatus: final },
    });
    assert.equal(done.status, Status.SUCCESS, done.command.errorComment);
    const before = await Deno.readTextFile(`${s.dir}/mpps/${uid}.json`);
    const changes: KeywordDataSet[] = [
      { PerformedProcedureStepStatus: "IN PROGRESS" },
      { CommentsOnThePerformedProcedureStep: "again" },
    ];
    for (const again of changes) {
      const refused = await setMpps(s.assoc, { sopInstanceUid: uid, modificationList: again });
      assert.equal(refused.status, Status.PROCESSING_FAILURE);
      assert.equal(refused.command.errorComment, MAY_NO_LONGER_BE_UPDATED);
    }
    assert.equal(await Deno.readTextFile(`${s.dir}/mpps/${uid}.json`), before);
  }
});

Deno.test("MPPS: N-CREATE with a status other than IN PROGRESS is refused with 0106 naming the attribute", async () => {
  await using s = await setup();
  const refused = await createMpps(
    s.assoc,
    mppsCreateAttributes({ PerformedProcedureStepStatus: "COMPLETED" }),
  );
  assert.equal(refused.status, Status.INVALID_ATTRIBUTE_VALUE);
  assert.deepEqual(refused.command.offendingElement, [0x00400252]);
  assert.match(refused.command.errorComment ?? "", /Performed Procedure Step Status COMPLETED/);
  assert.deepEqual([...Deno.readDirSync(s.dir)], []);
});

Deno.test("MPPS: N-CREATE missing a type 1 or type 2 attribute gets 0120, an empty type 1 one 0121", async () => {
  await using s = await setup();
  const full = mppsCreateAttributes({ PatientID: "P1" });

  const noModality = { ...full };
  delete noModality["00080060"];
  const missing = await createMpps(s.assoc, noModality);
  assert.equal(missing.status, Status.MISSING_ATTRIBUTE);
  assert.deepEqual(missing.command.offendingElement, [0x00080060]);
  assert.match(missing.command.errorComment ?? "", /Modality/);

  const noPatientName = { ...full };
  delete noPatientName["00100010"];
  const missing2 = await createMpps(s.assoc, noPatientName);
  assert.equal(missing2.status, Status.MISSING_ATTRIBUTE);
  assert.deepEqual(missing2.command.offendingElement, [0x00100010]);

  const emptyId = { ...full, "00400253": { vr: "SH" as const } };
  const empty = await createMpps(s.assoc, emptyId);
  assert.equal(empty.status, Status.MISSING_ATTRIBUTE_VALUE);
  assert.deepEqual(empty.command.offendingElement, [0x00400253]);

  const noStudy = mppsCreateAttributes({ StudyInstanceUID: "" });
  const emptyStudy = await createMpps(s.assoc, noStudy);
  assert.equal(emptyStudy.status, Status.MISSING_ATTRIBUTE_VALUE);
  assert.match(emptyStudy.command.errorComment ?? "", /^Scheduled Step Attribute Sequence item 1/);
  assert.deepEqual([...Deno.readDirSync(s.dir)], []);
});

Deno.test("MPPS: N-SET of an attribute only N-CREATE may set gets 0106, of an unknown one 0105, of an unknown instance 0112", async () => {
  await using s = await setup();
  const created = await createMpps(s.assoc, mppsCreateAttributes({ PatientID: "P1" }), {
    sopInstanceUid: "1.2.826.0.1.3680043.10.9.1",
  });
  assert.equal(created.status, Status.SUCCESS);
  assert.equal(created.command.affectedSopInstanceUid, "1.2.826.0.1.3680043.10.9.1");
  const uid = "1.2.826.0.1.3680043.10.9.1";

  const patient = await setMpps(s.assoc, {
    sopInstanceUid: uid,
    modificationList: { PatientID: "P2" },
  });
  assert.equal(patient.status, Status.INVALID_ATTRIBUTE_VALUE);
  assert.deepEqual(patient.command.offendingElement, [0x00100020]);
  assert.match(patient.command.errorComment ?? "", /may not be set by N-SET/);

  const unknown = await setMpps(s.assoc, {
    sopInstanceUid: uid,
    modificationList: { "00431234": { vr: "LO", Value: ["x"] } },
  });
  assert.equal(unknown.status, Status.NO_SUCH_ATTRIBUTE);
  assert.deepEqual(unknown.command.offendingElement, [0x00431234]);

  const badStatus = await setMpps(s.assoc, {
    sopInstanceUid: uid,
    modificationList: { PerformedProcedureStepStatus: "DONE" },
  });
  assert.equal(badStatus.status, Status.INVALID_ATTRIBUTE_VALUE);

  const noEnd = await setMpps(s.assoc, {
    sopInstanceUid: uid,
    modificationList: { PerformedProcedureStepStatus: "COMPLETED" },
  });
  assert.equal(noEnd.status, Status.MISSING_ATTRIBUTE_VALUE);
  assert.deepEqual(noEnd.command.offendingElement, [0x00400250]);

  const noProtocol = await setMpps(s.assoc, {
    sopInstanceUid: uid,
    modificationList: {
      ...COMPLETE,
      PerformedSeriesSequence: [{ SeriesInstanceUID: "1.2.3.4", ProtocolName: "" }],
    },
  });
  assert.equal(noProtocol.status, Status.MISSING_ATTRIBUTE_VALUE);
  assert.deepEqual(noProtocol.command.offendingElement, [0x00181030]);
  assert.match(noProtocol.command.errorComment ?? "", /^Performed Series Sequence item 1: /);

  const nowhere = await setMpps(s.assoc, {
    sopInstanceUid: "1.2.826.0.1.3680043.10.9.2",
    modificationList: COMPLETE,
  });
  assert.equal(nowhere.status, Status.NO_SUCH_SOP_INSTANCE);
  assert.equal(
    (await getMpps(s.assoc, "1.2.826.0.1.3680043.10.9.2")).status,
    Status.NO_SUCH_SOP_INSTANCE,
  );

  // Still IN PROGRESS: an allowed change is taken.
  const description = await setMpps(s.assoc, {
    sopInstanceUid: uid,
    modificationList: { PerformedProcedureStepDescription: "Chest" },
  });
  assert.equal(description.status, Status.SUCCESS);
  const got = await getMpps(s.assoc, uid, {
    attributeIdentifierList: ["PerformedProcedureStepDescription", "PerformedProcedureStepStatus"],
  });
  assert.deepEqual(toKeywords(got.dataSet!), {
    PerformedProcedureStepDescription: "Chest",
    PerformedProcedureStepStatus: "IN PROGRESS",
  });
  const duplicate = await createMpps(s.assoc, mppsCreateAttributes(), { sopInstanceUid: uid });
  assert.equal(duplicate.status, Status.DUPLICATE_SOP_INSTANCE);
});

Deno.test("MPPS: N-GET on the MPPS SOP class itself and N-DELETE are unrecognized operations (0211)", async () => {
  await using s = await setup();
  const uid = "1.2.3";
  const get = await s.assoc.nGet({
    requestedSopClassUid: MPPS_SOP_CLASS,
    requestedSopInstanceUid: uid,
  });
  assert.equal(get.status, Status.UNRECOGNIZED_OPERATION);
  const del = await s.assoc.nDelete({
    requestedSopClassUid: MPPS_SOP_CLASS,
    requestedSopInstanceUid: uid,
  });
  assert.equal(del.status, Status.UNRECOGNIZED_OPERATION);
});
