// DCMTK interop for the C-GET SCP: getscu retrieves instances of a generated archive from our
// SCP into its output folder; the files match ours element by element (dcmdump).
// NEEDS DCMTK (getscu, dcmdump) on PATH: skipped loudly without it, and a failure when CI=true.
import assert from "node:assert/strict";
import { studyUid, uidsWhere, withGetScp } from "../services/_retrieve_archive.ts";
import { dumpDataSet, interopTest, requireDcmtk, runDcmtk, SCU_TIMEOUTS } from "./_dcmtk.ts";
import { withTempDir } from "../_helpers/temp_dir.ts";

const haveDcmtk = await requireDcmtk(["getscu", "dcmdump"], "tests/interop/getscu_test.ts");

const interop = interopTest(haveDcmtk);

async function getscu(port: number, out: string, args: string[]) {
  const result = await runDcmtk("getscu", [
    ...SCU_TIMEOUTS,
    "-v",
    "-aet",
    "GETSCU",
    "-aec",
    "QRSCP",
    "-od",
    out,
    ...args,
    "127.0.0.1",
    String(port),
  ]);
  assert.equal(result.timedOut, false);
  return { ...result, text: result.stdout + result.stderr };
}

interop("getscu retrieves a study from our SCP; the files in its folder match ours", async () => {
  await withTempDir(async (out) => {
    await withGetScp(async (port, archive) => {
      const result = await getscu(port, out, [
        "-S",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        `StudyInstanceUID=${studyUid(1)}`,
      ]);
      assert.equal(result.code, 0, result.text);
      assert.match(result.text, /Final Get Response \(Success\)|Success/, result.text);
      const files = [...Deno.readDirSync(out)].map((e) => e.name).sort();
      const expected = uidsWhere((i) => i.study === studyUid(1));
      assert.equal(files.length, expected.length, files.join(", ") + "\n" + result.text);
      for (const uid of expected) {
        const name = files.find((f) => f.endsWith(uid));
        assert.ok(name, `getscu wrote ${uid}`);
        assert.deepEqual(
          await dumpDataSet(`${out}/${name}`),
          await dumpDataSet(`${archive.dir}/${uid}.dcm`),
        );
      }
    });
  }, { prefix: "dimse-getscu-" });
});

interop(
  "getscu at PATIENT level in the patient root model gets every instance of the patient, an implicit VR file included",
  async () => {
    await withTempDir(async (out) => {
      await withGetScp(async (port, archive) => {
        const result = await getscu(port, out, [
          "-P",
          "-k",
          "QueryRetrieveLevel=PATIENT",
          "-k",
          "PatientID=PID1",
        ]);
        assert.equal(result.code, 0, result.text);
        const files = [...Deno.readDirSync(out)].map((e) => e.name);
        const expected = uidsWhere((i) => i.patientId === "PID1");
        assert.equal(files.length, expected.length, files.join(", ") + "\n" + result.text);
        for (const uid of expected) {
          const name = files.find((f) => f.endsWith(uid))!;
          assert.deepEqual(
            await dumpDataSet(`${out}/${name}`),
            await dumpDataSet(`${archive.dir}/${uid}.dcm`),
          );
        }
      });
    }, { prefix: "dimse-getscu-" });
  },
);

interop(
  "getscu with a STUDY level identifier lacking Patient ID in the patient root model gets A900",
  async () => {
    await withTempDir(async (out) => {
      await withGetScp(async (port) => {
        const result = await getscu(port, out, [
          "-P",
          "-k",
          "QueryRetrieveLevel=STUDY",
          "-k",
          `StudyInstanceUID=${studyUid(1)}`,
        ]);
        assert.match(
          result.text,
          /Received C-GET Response \(Error: DataSetDoesNotMatchSOPClass\)/,
          result.text,
        );
        assert.equal([...Deno.readDirSync(out)].length, 0);
      });
    }, { prefix: "dimse-getscu-" });
  },
);
