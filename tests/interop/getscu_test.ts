// DCMTK interop for the C-GET SCP: getscu retrieves instances of a generated archive from our
// SCP into its output folder; the files match ours element by element (dcmdump).
// NEEDS DCMTK (getscu, dcmdump) on PATH: skipped loudly without it, and a failure when CI=true.
import assert from "node:assert/strict";
import { Scp } from "../../src/scp.ts";
import { queryRetrieveGet } from "../../src/services/qr_get.ts";
import { storage } from "../../src/services/storage.ts";
import { verification } from "../../src/services/verification.ts";
import { type Archive, makeArchive, studyUid, uidsWhere } from "../services/_retrieve_archive.ts";
import { requireDcmtk, runDcmtk } from "./_dcmtk.ts";

const haveDcmtk = await requireDcmtk(["getscu", "dcmdump"], "tests/interop/getscu_test.ts");

const TIMEOUTS = ["-to", "10", "-ta", "10", "-td", "10"];

function interop(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `DCMTK: ${name}`, ignore: !haveDcmtk, fn });
}

async function withGetScp(
  fn: (port: number, archive: Archive, log: string[]) => Promise<void>,
): Promise<void> {
  const archive = await makeArchive();
  const incoming = await Deno.makeTempDir({ prefix: "dimse-get-in-" });
  const log: string[] = [];
  const scp = new Scp({
    aeTitle: "QRSCP",
    port: 0,
    hostname: "127.0.0.1",
    services: [
      verification(),
      storage({ dir: incoming }),
      queryRetrieveGet({ index: archive.index, dir: archive.dir, log: (l) => log.push(l) }),
    ],
  });
  await scp.listen();
  try {
    await fn(scp.port, archive, log);
  } finally {
    await scp.close({ timeoutMs: 1000 });
    await archive.close();
    await Deno.remove(incoming, { recursive: true });
  }
}

/** dcmdump of the data set (no file meta group), one line per element, for comparison. */
async function dumpDataSet(path: string): Promise<string[]> {
  const result = await runDcmtk("dcmdump", ["-q", "+L", path]);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.split("\n")
    .filter((l) => /^\s*\(/.test(l) && !/^\s*\(0002,/.test(l))
    .map((l) => l.replace(/\s+#.*$/, ""));
  assert.ok(lines.some((l) => l.startsWith("(0008,0018)")), `dcmdump of ${path}`);
  return lines;
}

async function getscu(port: number, out: string, args: string[]) {
  const result = await runDcmtk("getscu", [
    ...TIMEOUTS,
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
  const out = await Deno.makeTempDir({ prefix: "dimse-getscu-" });
  try {
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
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

interop(
  "getscu at PATIENT level in the patient root model gets every instance of the patient, an implicit VR file included",
  async () => {
    const out = await Deno.makeTempDir({ prefix: "dimse-getscu-" });
    try {
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
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);

interop(
  "getscu with a STUDY level identifier lacking Patient ID in the patient root model gets A900",
  async () => {
    const out = await Deno.makeTempDir({ prefix: "dimse-getscu-" });
    try {
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
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);
