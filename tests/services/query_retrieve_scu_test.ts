// The Q/R SCU against a scripted Q/R SCP on our own Scp (real sockets): what reaches the SCP
// (identifier, Move Destination, C-CANCEL-RQ), and what the SCU makes of the responses
// (matches, progress counts, Failed SOP Instance UID List, C-STORE sub-operations of C-GET).
// The SCU against DCMTK's dcmqrscp is in tests/interop/dcmqrscp_test.ts.
import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import { CommandField } from "../../src/dimse/command.ts";
import { type DataSet, fromKeywords, toKeywords } from "../../src/dataset/dataset.ts";
import { readWholePart10 } from "../../src/dataset/part10.ts";
import { readWholeDataSet } from "../../src/dataset/reader.ts";
import { writeDataSet } from "../../src/dataset/writer.ts";
import { Scp } from "../../src/scp.ts";
import {
  DEFAULT_GET_SOP_CLASSES,
  getConnectOptions,
  identifierOf,
  QueryContextError,
  QueryFailedError,
  QueryRetrieveSopClass,
  type SubOperationProgress,
} from "../../src/services/query_retrieve_scu.ts";
import type { Service, ServiceRequest, ServiceResponse } from "../../src/services/service.ts";
import { TransferSyntax } from "../../src/ul/uids.ts";
import { drainAbortingAfter } from "../_helpers/abort_after.ts";
import { withTempDir } from "../_helpers/temp_dir.ts";

const TS = [TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN, TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN];
const CT = "1.2.840.10008.5.1.4.1.1.2";

/** What the scripted SCP saw. */
interface Seen {
  identifiers: DataSet[];
  moveDestinations: string[];
  cancelled: boolean;
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/**
 * A scripted SCP. C-FIND: PatientID "FAIL" fails with C001; otherwise `count` (from
 * NumberOfStudyRelatedInstances, default 3) matches, 20 ms apart, until cancelled. C-MOVE:
 * three pending responses, then B000 with one failed UID. C-GET: two C-STORE sub-operations.
 */
function scriptedQr(seen: Seen): Service {
  return {
    name: "scripted-qr",
    sopClasses: [
      ...Object.values(QueryRetrieveSopClass).map((abstractSyntax) => ({
        abstractSyntax,
        transferSyntaxes: TS,
      })),
      { abstractSyntax: CT, transferSyntaxes: TS, scpRole: false, scuRole: true },
    ],
    async handle(request: ServiceRequest): Promise<ServiceResponse> {
      const { dataSet: identifier } = await readWholeDataSet(request.dataSet!, {
        transferSyntax: request.transferSyntax,
      });
      seen.identifiers.push(identifier);
      const ts = request.transferSyntax;
      const command = request.command;
      if (command.commandField === CommandField.C_FIND_RQ) {
        const keys = toKeywords(identifier);
        if (keys.PatientID === "FAIL") {
          return { status: 0xc001, command: { errorComment: "Scripted failure" } };
        }
        const count = Number(keys.NumberOfStudyRelatedInstances ?? 3);
        for (let i = 1; i <= count; i++) {
          if (request.signal.aborted) break;
          const match = fromKeywords({ QueryRetrieveLevel: "STUDY", StudyID: String(i) });
          await request.sendPending({
            status: 0xff00,
            dataSet: await writeDataSet(match, { transferSyntax: ts }),
          });
          await wait(20, request.signal);
        }
        if (request.signal.aborted) {
          seen.cancelled = true;
          return { status: 0xfe00 };
        }
        return { status: 0x0000 };
      }
      if (command.commandField === CommandField.C_MOVE_RQ) {
        seen.moveDestinations.push(command.moveDestination ?? "");
        for (let done = 0; done < 3; done++) {
          await request.sendPending({
            status: 0xff00,
            command: {
              numberOfRemainingSuboperations: 3 - done,
              numberOfCompletedSuboperations: done,
              numberOfFailedSuboperations: 0,
              numberOfWarningSuboperations: 0,
            },
          });
        }
        const failed = fromKeywords({ FailedSOPInstanceUIDList: "1.2.3.4.5" });
        return {
          status: 0xb000,
          command: {
            numberOfCompletedSuboperations: 2,
            numberOfFailedSuboperations: 1,
            numberOfWarningSuboperations: 0,
          },
          dataSet: await writeDataSet(failed, { transferSyntax: ts }),
        };
      }
      if (command.commandField === CommandField.C_GET_RQ) {
        let completed = 0;
        for (const n of [1, 2]) {
          const instance = fromKeywords({
            SOPClassUID: CT,
            SOPInstanceUID: `1.2.826.0.1.3680043.10.777.${n}`,
            PatientID: "GETPID",
            Modality: "CT",
          });
          const pc = request.association.negotiated.accepted.find((c) => c.abstractSyntax === CT)!;
          const rsp = await request.invoke(CT, {
            commandField: CommandField.C_STORE_RQ,
            affectedSopClassUid: CT,
            affectedSopInstanceUid: `1.2.826.0.1.3680043.10.777.${n}`,
            priority: 0,
            commandDataSetType: 0,
          }, { dataSet: await writeDataSet(instance, { transferSyntax: pc.transferSyntax }) });
          if (rsp.command.status === 0) completed++;
          await request.sendPending({
            status: 0xff00,
            command: {
              numberOfRemainingSuboperations: 2 - n,
              numberOfCompletedSuboperations: completed,
              numberOfFailedSuboperations: n - completed,
              numberOfWarningSuboperations: 0,
            },
          });
        }
        return {
          status: completed === 2 ? 0x0000 : 0xb000,
          command: {
            numberOfCompletedSuboperations: completed,
            numberOfFailedSuboperations: 2 - completed,
            numberOfWarningSuboperations: 0,
          },
        };
      }
      return { status: 0x0211 };
    },
  };
}

async function withScp(body: (port: number, seen: Seen) => Promise<void>): Promise<void> {
  const seen: Seen = { identifiers: [], moveDestinations: [], cancelled: false };
  const scp = new Scp({
    aeTitle: "QR",
    port: 0,
    hostname: "127.0.0.1",
    services: [scriptedQr(seen)],
  });
  await scp.listen();
  try {
    await body(scp.port, seen);
  } finally {
    await scp.close({ timeoutMs: 1000 });
  }
}

function connect(port: number, abstractSyntax: string): Promise<Association> {
  return Association.connect({
    host: "127.0.0.1",
    port,
    presentationContexts: [{ abstractSyntax, transferSyntaxes: TS }],
  });
}

Deno.test("find yields each pending identifier in order, and the SCP receives the keyword query with the level set", async () => {
  await withScp(async (port, seen) => {
    const assoc = await connect(port, QueryRetrieveSopClass.STUDY_ROOT_FIND);
    const ids: string[] = [];
    for await (
      const m of assoc.find("study", { PatientName: "Doe^*", StudyID: "" }, { level: "STUDY" })
    ) {
      ids.push(String(toKeywords(m).StudyID));
    }
    await assoc.release();
    assert.deepEqual(ids, ["1", "2", "3"]);
    assert.deepEqual(toKeywords(seen.identifiers[0]), {
      PatientName: "Doe^*",
      QueryRetrieveLevel: "STUDY",
      StudyID: null,
    });
  });
});

Deno.test("find whose signal aborts sends C-CANCEL-RQ: the SCP sees it, the final status is Cancel (FE00)", async () => {
  await withScp(async (port, seen) => {
    const assoc = await connect(port, QueryRetrieveSopClass.PATIENT_ROOT_FIND);
    const controller = new AbortController();
    const iterator = assoc.find("patient", { NumberOfStudyRelatedInstances: "100" }, {
      level: "PATIENT",
      signal: controller.signal,
    });
    const { count, result } = await drainAbortingAfter(iterator, controller, 2);
    await assoc.release();
    assert.equal(result.status, 0xfe00);
    assert.ok(seen.cancelled);
    assert.ok(count >= 2 && count < 100);
  });
});

Deno.test("find answered with a failure status throws QueryFailedError with the status and Error Comment", async () => {
  await withScp(async (port) => {
    const assoc = await connect(port, QueryRetrieveSopClass.STUDY_ROOT_FIND);
    await assert.rejects(
      async () => {
        for await (const _ of assoc.find("study", { PatientID: "FAIL" }, { level: "STUDY" })) {
          // none
        }
      },
      (error: unknown) => {
        assert.ok(error instanceof QueryFailedError);
        assert.equal(error.status, 0xc001);
        assert.equal(error.errorComment, "Scripted failure");
        assert.match(error.message, /C001: Scripted failure/);
        return true;
      },
    );
    await assoc.release();
  });
});

Deno.test("find on a model whose context was not accepted throws QueryContextError before sending anything", async () => {
  await withScp(async (port, seen) => {
    const assoc = await connect(port, QueryRetrieveSopClass.STUDY_ROOT_FIND);
    await assert.rejects(async () => {
      for await (const _ of assoc.find("worklist", {})) {
        // none
      }
    }, QueryContextError);
    await assoc.release();
    assert.equal(seen.identifiers.length, 0);
  });
});

Deno.test("move sends the Move Destination, reports the counts of each pending response, and returns the final counts and Failed SOP Instance UID List", async () => {
  await withScp(async (port, seen) => {
    const assoc = await connect(port, QueryRetrieveSopClass.STUDY_ROOT_MOVE);
    const progress: SubOperationProgress[] = [];
    const result = await assoc.move("study", { StudyInstanceUID: "1.2.3" }, {
      level: "STUDY",
      destination: "FARAWAY",
      onProgress: (p) => progress.push(p),
    });
    await assoc.release();
    assert.deepEqual(seen.moveDestinations, ["FARAWAY"]);
    assert.deepEqual(progress.map((p) => [p.remaining, p.completed]), [[3, 0], [2, 1], [1, 2]]);
    assert.equal(result.status, 0xb000);
    assert.equal(result.completed, 2);
    assert.equal(result.failed, 1);
    assert.deepEqual(result.failedSopInstanceUids, ["1.2.3.4.5"]);
    assert.equal(result.cancelRequested, false);
  });
});

Deno.test("get takes the C-STORE sub-operations on the same association (SCP role) and writes them under dir", async () => {
  await withScp(async (port) => {
    await withTempDir(async (dir) => {
      const assoc = await Association.connect({
        host: "127.0.0.1",
        port,
        ...getConnectOptions(["study"], [CT]),
      });
      const role = assoc.negotiated.accepted.find((c) => c.abstractSyntax === CT);
      assert.ok(role, "CT context accepted");
      const result = await assoc.get("study", { StudyInstanceUID: "1.2.3" }, {
        level: "STUDY",
        dir,
      });
      await assoc.release();
      assert.equal(result.status, 0x0000);
      assert.equal(result.completed, 2);
      const file = await readWholePart10([
        await Deno.readFile(`${dir}/1.2.826.0.1.3680043.10.777.2.dcm`),
      ]);
      assert.equal(toKeywords(file.dataSet).PatientID, "GETPID");
    });
  });
});

Deno.test("getConnectOptions proposes at most 128 contexts, the GET ones first, and SCP role for every Storage SOP class", () => {
  const options = getConnectOptions(["patient", "study"]);
  assert.ok(options.presentationContexts.length <= 128);
  assert.deepEqual(options.presentationContexts.slice(0, 2).map((c) => c.abstractSyntax), [
    QueryRetrieveSopClass.PATIENT_ROOT_GET,
    QueryRetrieveSopClass.STUDY_ROOT_GET,
  ]);
  assert.equal(options.roleSelections.length, DEFAULT_GET_SOP_CLASSES.length);
  assert.ok(options.roleSelections.every((r) => r.scpRole && !r.scuRole));
  assert.ok(DEFAULT_GET_SOP_CLASSES.includes(CT));
  assert.ok(DEFAULT_GET_SOP_CLASSES.length >= 40);
});

Deno.test("identifierOf keeps a DICOM JSON query as is, converts keyword form, and sets the level when asked", () => {
  const json: DataSet = { "00100020": { vr: "LO", Value: ["X"] } };
  assert.deepEqual(identifierOf(json), json);
  assert.deepEqual(identifierOf({ PatientID: "X" }, "PATIENT"), {
    "00100020": { vr: "LO", Value: ["X"] },
    "00080052": { vr: "CS", Value: ["PATIENT"] },
  });
});
