import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import { Scp } from "../../src/scp.ts";
import { CommandField } from "../../src/dimse/command.ts";
import { fromKeywords } from "../../src/dataset/dataset.ts";
import { writePart10 } from "../../src/dataset/part10.ts";
import { writeDataSet } from "../../src/dataset/writer.ts";
import type { Service } from "../../src/services/service.ts";
import { nEventReport } from "../../src/services/normalized_scu.ts";
import {
  encodeActionInformation,
  encodeEventInformation,
  FailureReason,
  STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS,
  STORAGE_COMMITMENT_PUSH_MODEL_SOP_INSTANCE,
} from "../../src/services/storage_commitment.ts";
import {
  requestStorageCommitment,
  storageCommitmentReceiver,
  StorageCommitmentRequestError,
  StorageCommitmentTimeoutError,
} from "../../src/services/storage_commitment_scu.ts";
import { CommitmentStore } from "../../src/store/commitment_store.ts";
import { TransferSyntax } from "../../src/ul/uids.ts";
import { requireDcmtk, runDcmtk } from "../interop/_dcmtk.ts";
import { withTempDir } from "../_helpers/temp_dir.ts";
import { type CommitmentScp, startCommitmentScp, storeAll } from "../_helpers/commitment_scp.ts";

const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";
const SECONDARY_CAPTURE_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.7";
const UID_ROOT = "1.2.826.0.1.3680043.10.1.77";

const COMMITMENT_CONTEXT = {
  abstractSyntax: STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS,
  transferSyntaxes: [TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN],
};

/** A small Part 10 instance of a SOP class, written to `folder`. */
async function writeInstance(folder: string, sopClassUid: string, n: number): Promise<string> {
  const path = `${folder}/${n}.dcm`;
  await Deno.writeFile(
    path,
    await writePart10(fromKeywords({
      SOPClassUID: sopClassUid,
      SOPInstanceUID: `${UID_ROOT}.${n}`,
      PatientName: "Commit^Test",
      PatientID: "SC1",
      StudyInstanceUID: `${UID_ROOT}.100`,
      SeriesInstanceUID: `${UID_ROOT}.100.1`,
      Modality: "OT",
    })),
  );
  return path;
}

/** Runs `fn` with a new commitment SCP; closes it and removes its store folder after. */
async function withCommitmentScp(
  fn: (archive: CommitmentScp) => Promise<void>,
  options: Parameters<typeof startCommitmentScp>[0] = {},
): Promise<void> {
  const archive = await startCommitmentScp(options);
  try {
    await fn(archive);
  } finally {
    await archive.close();
    await Deno.remove(archive.dir, { recursive: true });
  }
}

/** An association from MODALITY to the commitment SCP, proposing Storage Commitment. */
function connectAsModality(archive: CommitmentScp, services?: Service[]): Promise<Association> {
  return Association.connect({
    host: "127.0.0.1",
    port: archive.scp.port,
    callingAeTitle: "MODALITY",
    presentationContexts: [COMMITMENT_CONTEXT],
    services,
  });
}

/** MODALITY's SCP taking results reported on new associations; not listening yet. */
function modalityListener(port = 0) {
  const receiver = storageCommitmentReceiver();
  const listener = new Scp({
    aeTitle: "MODALITY",
    port,
    hostname: "127.0.0.1",
    services: [receiver],
  });
  return { receiver, listener };
}

Deno.test("Storage commitment of stored instances is answered 0000 and reported as event 1 on the same association", async () => {
  await withTempDir(async (files) => {
    await withCommitmentScp(async (archive) => {
      const references = await storeAll(archive.scp.port, [
        await writeInstance(files, CT_IMAGE_STORAGE, 1),
        await writeInstance(files, SECONDARY_CAPTURE_IMAGE_STORAGE, 2),
      ]);
      const receiver = storageCommitmentReceiver();
      const association = await connectAsModality(archive, [receiver]);
      try {
        const accepted = await requestStorageCommitment(association, { instances: references });
        assert.equal(accepted.status, 0);
        const result = await receiver.wait(accepted.transactionUid, { timeoutMs: 10_000 });
        assert.equal(result.eventTypeId, 1);
        assert.equal(result.transactionUid, accepted.transactionUid);
        assert.deepEqual(result.committed, references);
        assert.deepEqual(result.failed, []);
        assert.equal(result.association.requestedByScp, false);
        assert.equal(result.association.id, association.id);
      } finally {
        await association.release();
      }
      await archive.commitment.idle();
      assert.equal(archive.reports.length, 1);
      assert.equal(archive.reports[0].via, "same-association");
      assert.deepEqual(await archive.commitment.store.list(), []);
    });
  });
});

Deno.test("Missing, mismatched and vanished instances are reported as event 2 with Failure Reasons 0112 and 0119, the committed one listed too", async () => {
  await withTempDir(async (files) => {
    await withCommitmentScp(async (archive) => {
      const [stored, mismatched, removed] = await storeAll(archive.scp.port, [
        await writeInstance(files, CT_IMAGE_STORAGE, 11),
        await writeInstance(files, CT_IMAGE_STORAGE, 12),
        await writeInstance(files, CT_IMAGE_STORAGE, 14),
      ]);
      // Indexed, but its file has gone from the store since.
      await Deno.remove(`${archive.dir}/${removed.sopInstanceUid}.dcm`);
      const missing = { sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: `${UID_ROOT}.13` };
      const conflicting = { ...mismatched, sopClassUid: SECONDARY_CAPTURE_IMAGE_STORAGE };
      const receiver = storageCommitmentReceiver();
      const association = await connectAsModality(archive, [receiver]);
      try {
        const transactionUid = `${UID_ROOT}.900.1`;
        const accepted = await requestStorageCommitment(association, {
          transactionUid,
          instances: [stored, missing, conflicting, removed],
        });
        assert.equal(accepted.transactionUid, transactionUid);
        const result = await receiver.wait(transactionUid, { timeoutMs: 10_000 });
        assert.equal(result.eventTypeId, 2);
        assert.deepEqual(result.committed, [stored]);
        assert.deepEqual(result.failed, [
          { ...missing, failureReason: FailureReason.NO_SUCH_OBJECT_INSTANCE },
          { ...conflicting, failureReason: FailureReason.CLASS_INSTANCE_CONFLICT },
          { ...removed, failureReason: FailureReason.NO_SUCH_OBJECT_INSTANCE },
        ]);
      } finally {
        await association.release();
      }
    });
  });
});

Deno.test("After the requestor releases, the report comes on a new association to its AE table address with the SCP role proposed and accepted", async () => {
  await withTempDir(async (files) => {
    const { receiver, listener } = modalityListener();
    const roles: { requestorIsScp: boolean; requestorIsScu: boolean }[] = [];
    listener.on("association-accepted", (e) => {
      for (const c of e.negotiated.accepted) {
        roles.push({ requestorIsScp: c.requestorIsScp, requestorIsScu: c.requestorIsScu });
      }
    });
    await listener.listen();
    const archive = await startCommitmentScp({
      destinations: { MODALITY: { host: "127.0.0.1", port: listener.port } },
    });
    try {
      const references = await storeAll(archive.scp.port, [
        await writeInstance(files, CT_IMAGE_STORAGE, 21),
      ]);
      const association = await connectAsModality(archive);
      const accepted = await requestStorageCommitment(association, { instances: references });
      await association.release();
      const result = await receiver.wait(accepted.transactionUid, { timeoutMs: 10_000 });
      assert.equal(result.eventTypeId, 1);
      assert.deepEqual(result.committed, references);
      assert.equal(result.association.requestedByScp, true);
      assert.equal(result.association.callingAeTitle, "ARCHIVE");
      assert.equal(result.association.calledAeTitle, "MODALITY");
      assert.deepEqual(roles, [{ requestorIsScp: true, requestorIsScu: false }]);
      await archive.commitment.idle();
      assert.equal(archive.reports[0].via, "new-association");
    } finally {
      await archive.close();
      await listener.close({ timeoutMs: 1000 });
      await Deno.remove(archive.dir, { recursive: true });
    }
  });
});

Deno.test("A transaction pending when the SCP stops is kept on disk and reported on a new association after restart", async () => {
  await withTempDir(async (files) => {
    const dir = await Deno.makeTempDir();
    const { receiver, listener } = modalityListener();
    await listener.listen();
    try {
      // First run: the requestor is not in the AE table, so the report cannot be delivered.
      const first = await startCommitmentScp({ dir });
      let transactionUid: string;
      let references;
      try {
        references = await storeAll(first.scp.port, [
          await writeInstance(files, CT_IMAGE_STORAGE, 31),
          await writeInstance(files, CT_IMAGE_STORAGE, 32),
        ]);
        const association = await connectAsModality(first);
        transactionUid = (await requestStorageCommitment(association, { instances: references }))
          .transactionUid;
        await association.release();
        await first.commitment.idle();
        assert.equal(first.reports.length, 0);
        assert.ok(
          first.log.some((l) => l.includes("no AE table entry for MODALITY")),
          first.log.join("\n"),
        );
      } finally {
        await first.close();
      }
      const saved = JSON.parse(await Deno.readTextFile(`${dir}/commitment/${transactionUid}.json`));
      assert.equal(saved.transactionUid, transactionUid);
      assert.equal(saved.requestorAeTitle, "MODALITY");
      assert.deepEqual(saved.references, references);

      // Second run over the same folder, now knowing where MODALITY listens.
      const second = await startCommitmentScp({
        dir,
        destinations: { MODALITY: { host: "127.0.0.1", port: listener.port } },
      });
      try {
        const result = await receiver.wait(transactionUid, { timeoutMs: 10_000 });
        assert.equal(result.eventTypeId, 1);
        assert.deepEqual(result.committed, references);
        assert.equal(result.association.requestedByScp, true);
        await second.commitment.idle();
        await assert.rejects(
          Deno.stat(`${dir}/commitment/${transactionUid}.json`),
          Deno.errors.NotFound,
        );
      } finally {
        await second.close();
      }
    } finally {
      await listener.close({ timeoutMs: 1000 });
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("A report the requestor could not take is sent again after the retry delay", async () => {
  await withTempDir(async (files) => {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const archive = await startCommitmentScp({
      destinations: { MODALITY: { host: "127.0.0.1", port } },
      retryDelaysMs: [300],
    });
    const { receiver, listener } = modalityListener(port);
    try {
      const references = await storeAll(archive.scp.port, [
        await writeInstance(files, CT_IMAGE_STORAGE, 71),
      ]);
      const association = await connectAsModality(archive);
      const { transactionUid } = await requestStorageCommitment(association, {
        instances: references,
      });
      await association.release();
      // The first attempt finds nobody listening; then the requestor comes up.
      await archive.commitment.idle();
      assert.ok(archive.log.some((l) => l.includes("cannot associate")), archive.log.join("\n"));
      assert.equal(archive.reports.length, 0);
      await listener.listen();
      const result = await receiver.wait(transactionUid, { timeoutMs: 10_000 });
      assert.equal(result.eventTypeId, 1);
      await archive.commitment.idle();
      assert.equal(archive.reports.length, 1);
      assert.deepEqual(await archive.commitment.store.list(), []);
    } finally {
      await archive.close();
      await listener.close({ timeoutMs: 1000 });
      await Deno.remove(archive.dir, { recursive: true });
    }
  });
});

Deno.test("A Transaction UID pending for another request is refused with 0115; the same request again is taken and stays one pending transaction", async () => {
  await withCommitmentScp(async (archive) => {
    const association = await connectAsModality(archive);
    const transactionUid = `${UID_ROOT}.905`;
    const first = { sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: `${UID_ROOT}.81` };
    try {
      // No AE table entry and no receiver here: the transaction stays pending.
      await requestStorageCommitment(association, { transactionUid, instances: [first] });
      await archive.commitment.idle();
      await assert.rejects(
        requestStorageCommitment(association, {
          transactionUid,
          instances: [{ ...first, sopInstanceUid: `${UID_ROOT}.82` }],
        }),
        (e) => e instanceof StorageCommitmentRequestError && e.status === 0x0115,
      );
      const again = await requestStorageCommitment(association, {
        transactionUid,
        instances: [first],
      });
      assert.equal(again.status, 0);
      await archive.commitment.idle();
    } finally {
      await association.release();
    }
    const pending = await archive.commitment.store.list();
    assert.deepEqual(pending.map((p) => p.references), [[first]]);
  });
});

Deno.test("N-ACTION without Transaction UID is refused with 0120, an unknown Action Type ID with 0123, another instance with 0112", async () => {
  await withCommitmentScp(async (archive) => {
    const association = await connectAsModality(archive);
    try {
      const reference = {
        ReferencedSOPClassUID: CT_IMAGE_STORAGE,
        ReferencedSOPInstanceUID: `${UID_ROOT}.41`,
      };
      const send = async (
        actionTypeId: number,
        dataSet: Record<string, unknown>,
        instance = STORAGE_COMMITMENT_PUSH_MODEL_SOP_INSTANCE,
      ) =>
        (await association.invoke(STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS, {
          commandField: CommandField.N_ACTION_RQ,
          requestedSopClassUid: STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS,
          requestedSopInstanceUid: instance,
          actionTypeId,
          commandDataSetType: 0,
        }, {
          dataSet: await writeDataSet(fromKeywords(dataSet as never), {
            transferSyntax: TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN,
          }),
        })).command;

      const noTransaction = await send(1, { ReferencedSOPSequence: [reference] });
      assert.equal(noTransaction.status, 0x0120);
      assert.match(noTransaction.errorComment ?? "", /Transaction UID is missing/);
      assert.deepEqual(noTransaction.offendingElement, [0x00081195]);

      const emptyTransaction = await send(1, {
        TransactionUID: "",
        ReferencedSOPSequence: [reference],
      });
      assert.equal(emptyTransaction.status, 0x0121);

      const noReferences = await send(1, { TransactionUID: `${UID_ROOT}.901` });
      assert.equal(noReferences.status, 0x0120);
      assert.match(noReferences.errorComment ?? "", /Referenced SOP Sequence/);

      const unknownAction = await send(2, {
        TransactionUID: `${UID_ROOT}.902`,
        ReferencedSOPSequence: [reference],
      });
      assert.equal(unknownAction.status, 0x0123);

      const otherInstance = await send(1, {
        TransactionUID: `${UID_ROOT}.903`,
        ReferencedSOPSequence: [reference],
      }, `${UID_ROOT}.5`);
      assert.equal(otherInstance.status, 0x0112);

      await assert.rejects(
        requestStorageCommitment(association, {
          transactionUid: `${UID_ROOT}.904`,
          instances: [{ sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: "" }],
        }),
        (e) => e instanceof StorageCommitmentRequestError && e.status === 0x0121,
      );
    } finally {
      await association.release();
    }
    assert.deepEqual(await archive.commitment.store.list(), []);
  });
});

Deno.test("The result receiver answers 0113 to an unknown Event Type ID and 0000 to a result nobody waits for yet, which wait() then returns", async () => {
  const { receiver, listener } = modalityListener();
  await listener.listen();
  try {
    const association = await Association.connect({
      host: "127.0.0.1",
      port: listener.port,
      callingAeTitle: "ARCHIVE",
      calledAeTitle: "MODALITY",
      presentationContexts: [COMMITMENT_CONTEXT],
      roleSelections: [{
        sopClassUid: STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS,
        scuRole: false,
        scpRole: true,
      }],
    });
    try {
      const report = (eventTypeId: number) =>
        nEventReport(association, {
          affectedSopClassUid: STORAGE_COMMITMENT_PUSH_MODEL_SOP_CLASS,
          affectedSopInstanceUid: STORAGE_COMMITMENT_PUSH_MODEL_SOP_INSTANCE,
          eventTypeId,
          eventInformation: {
            TransactionUID: `${UID_ROOT}.950`,
            FailedSOPSequence: [{
              ReferencedSOPClassUID: CT_IMAGE_STORAGE,
              ReferencedSOPInstanceUID: `${UID_ROOT}.51`,
              FailureReason: 0x0110,
            }],
          },
        });
      assert.equal((await report(3)).status, 0x0113);
      assert.equal((await report(2)).status, 0);
    } finally {
      await association.release();
    }
    const result = await receiver.wait(`${UID_ROOT}.950`, { timeoutMs: 1000 });
    assert.equal(result.eventTypeId, 2);
    assert.deepEqual(result.committed, []);
    assert.deepEqual(result.failed, [{
      sopClassUid: CT_IMAGE_STORAGE,
      sopInstanceUid: `${UID_ROOT}.51`,
      failureReason: 0x0110,
    }]);
    await assert.rejects(
      receiver.wait(`${UID_ROOT}.951`, { timeoutMs: 50 }),
      StorageCommitmentTimeoutError,
    );
  } finally {
    await listener.close({ timeoutMs: 1000 });
  }
});

Deno.test("The commitment store writes whole JSON files, lists them oldest first and clears leftover temp files", async () => {
  await withTempDir(async (dir) => {
    const store = new CommitmentStore(`${dir}/commitment`);
    assert.deepEqual(await store.list(), []);
    const base = {
      requestorAeTitle: "MODALITY",
      calledAeTitle: "ARCHIVE",
      references: [{ sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: `${UID_ROOT}.61` }],
    };
    await store.save({
      ...base,
      transactionUid: `${UID_ROOT}.961`,
      receivedAt: "2026-01-02T00:00:00.000Z",
    });
    await store.save({
      ...base,
      transactionUid: `${UID_ROOT}.960`,
      receivedAt: "2026-01-01T00:00:00.000Z",
    });
    await Deno.writeTextFile(`${dir}/commitment/.${UID_ROOT}.962.x.tmp`, "{");
    await Deno.writeTextFile(`${dir}/commitment/${UID_ROOT}.963.json`, "not json");
    const problems: string[] = [];
    const listed = await store.list((e) => problems.push(e.message));
    assert.deepEqual(listed.map((c) => c.transactionUid), [`${UID_ROOT}.960`, `${UID_ROOT}.961`]);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /is not JSON/);
    const names = [...Deno.readDirSync(`${dir}/commitment`)].map((e) => e.name).sort();
    assert.deepEqual(names, [
      `${UID_ROOT}.960.json`,
      `${UID_ROOT}.961.json`,
      `${UID_ROOT}.963.json`,
    ]);
    await store.remove(`${UID_ROOT}.960`);
    await store.remove(`${UID_ROOT}.960`);
    assert.equal(await store.get(`${UID_ROOT}.960`), undefined);
    assert.throws(() => store.pathOf("../../etc/passwd"), /not a valid UID/);
  });
});

if (await requireDcmtk(["dcmdump"], "tests/services/storage_commitment_test.ts")) {
  Deno.test("DCMTK: dcmdump reads our Action and Event Information with the tags and VRs of PS3.6", async () => {
    await withTempDir(async (dir) => {
      const committed = { sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: `${UID_ROOT}.91` };
      const failed = { sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: `${UID_ROOT}.92` };
      const dump = async (dataSet: Parameters<typeof writeDataSet>[0]) => {
        const path = `${dir}/${crypto.randomUUID()}.bin`;
        await Deno.writeFile(
          path,
          await writeDataSet(dataSet, { transferSyntax: TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN }),
        );
        const out = await runDcmtk("dcmdump", ["-f", "-te", path]);
        assert.equal(out.code, 0, out.stderr);
        return out.stdout.split("\n").filter((l) => l.trimStart().startsWith("(0008"))
          .map((l) => l.trim().replace(/\s+#\s*(\d+|u\/l), \d+ \S+$/, "").replace(/\s+/g, " "));
      };
      assert.deepEqual(await dump(encodeActionInformation(`${UID_ROOT}.990`, [committed])), [
        `(0008,1195) UI [${UID_ROOT}.990]`,
        "(0008,1199) SQ (Sequence with undefined length #=1)",
        "(0008,1150) UI =CTImageStorage",
        `(0008,1155) UI [${UID_ROOT}.91]`,
      ]);
      assert.deepEqual(
        await dump(encodeEventInformation({
          transactionUid: `${UID_ROOT}.990`,
          eventTypeId: 2,
          committed: [committed],
          failed: [{ ...failed, failureReason: FailureReason.NO_SUCH_OBJECT_INSTANCE }],
        })),
        [
          `(0008,1195) UI [${UID_ROOT}.990]`,
          "(0008,1198) SQ (Sequence with undefined length #=1)",
          "(0008,1150) UI =CTImageStorage",
          `(0008,1155) UI [${UID_ROOT}.92]`,
          "(0008,1197) US 274",
          "(0008,1199) SQ (Sequence with undefined length #=1)",
          "(0008,1150) UI =CTImageStorage",
          `(0008,1155) UI [${UID_ROOT}.91]`,
        ],
      );
    });
  });
}
