// DCMTK interop for the C-MOVE SCP: movescu asks our SCP to move instances of a generated
// archive to DCMTK's storescp, to a destination that is down, and cancels a move midway.
// NEEDS DCMTK (movescu, storescp, dcmdump) on PATH: skipped loudly without it, and a failure
// when CI=true.
import assert from "node:assert/strict";
import {
  studyUid,
  uidsWhere,
  withMoveScp,
  withMoveToDestination,
} from "../services/_retrieve_archive.ts";
import {
  dumpDataSet,
  freePort,
  interopTest,
  requireDcmtk,
  runDcmtk,
  SCU_TIMEOUTS,
  withStorescp,
} from "./_dcmtk.ts";

const haveDcmtk = await requireDcmtk(
  ["movescu", "storescp", "dcmdump"],
  "tests/interop/movescu_test.ts",
);

const interop = interopTest(haveDcmtk);

/** Runs movescu against our SCP; checks it did not time out and adds its output as `text`. */
async function movescu(port: number, destination: string, args: string[]) {
  const result = await runDcmtk("movescu", [
    ...SCU_TIMEOUTS,
    "-v",
    "-aet",
    "MOVESCU",
    "-aec",
    "QRSCP",
    "-aem",
    destination,
    ...args,
    "127.0.0.1",
    String(port),
  ]);
  assert.equal(result.timedOut, false);
  return { ...result, text: result.stdout + result.stderr };
}

/** movescu's keys for every study of a patient, in the patient root model. */
function patientKeys(patientId: string): string[] {
  return ["-P", "-k", "QueryRetrieveLevel=PATIENT", "-k", `PatientID=${patientId}`];
}

interop(
  "movescu moves a study from our SCP to DCMTK's storescp; the files match ours",
  async () => {
    await withStorescp("STORESCP", async (storescp, out) => {
      await withMoveScp(
        { STORESCP: { host: "127.0.0.1", port: storescp.port } },
        async (port, archive) => {
          const result = await movescu(port, "STORESCP", [
            "-S",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            `StudyInstanceUID=${studyUid(1)}`,
          ]);
          assert.equal(result.code, 0, result.stderr + result.stdout);
          const { text } = result;
          assert.match(text, /Received Final Move Response \(Success\)/, text);
          const files = [...Deno.readDirSync(out)].map((e) => e.name).sort();
          const expected = uidsWhere((i) => i.study === studyUid(1));
          assert.equal(files.length, expected.length, files.join(", "));
          for (const uid of expected) {
            const name = files.find((f) => f.endsWith(uid));
            assert.ok(name, `storescp wrote ${uid}`);
            assert.deepEqual(
              await dumpDataSet(`${out}/${name}`),
              await dumpDataSet(`${archive.dir}/${uid}.dcm`),
            );
          }
        },
      );
    }, { prefix: "dimse-storescp-" });
  },
);

interop("movescu to a known destination that is down gets A702 and our log names it", async () => {
  const down = freePort();
  await withMoveScp({ DOWN: { host: "127.0.0.1", port: down } }, async (port, _archive, log) => {
    const { text } = await movescu(port, "DOWN", patientKeys("PID2"));
    assert.match(text, /Final Move Response \(Refused: OutOfResourcesSubOperations\)/i, text);
    assert.ok(log.some((l) => l.includes(`DOWN at 127.0.0.1:${down} unreachable`)), log.join("\n"));
  });
});

interop("movescu to an unknown destination gets A801", async () => {
  await withMoveScp({}, async (port) => {
    const { text } = await movescu(port, "NOBODY", patientKeys("PID2"));
    assert.match(text, /Final Move Response \(Refused: MoveDestinationUnknown\)/i, text);
  });
});

interop("movescu --cancel 1 stops a move midway: final response Cancel", async () => {
  await withMoveToDestination("SLOW", async (port, dest) => {
    const { text } = await movescu(port, "SLOW", ["--cancel", "1", ...patientKeys("PID1")]);
    assert.match(text, /Final Move Response \(Cancel/i, text);
    assert.ok(dest.received.length >= 1 && dest.received.length < 4, text);
  }, { delayMs: 200 });
});
