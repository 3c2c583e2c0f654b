// DCMTK interop for the C-MOVE SCP: movescu asks our SCP to move instances of a generated
// archive to DCMTK's storescp, to a destination that is down, and cancels a move midway.
// NEEDS DCMTK (movescu, storescp, dcmdump) on PATH: skipped loudly without it, and a failure
// when CI=true.
import assert from "node:assert/strict";
import { Scp } from "../../src/scp.ts";
import { type MoveDestination, queryRetrieveMove } from "../../src/services/qr_move.ts";
import { verification } from "../../src/services/verification.ts";
import {
  type Archive,
  closedPort,
  makeArchive,
  startDestination,
  studyUid,
  uidsWhere,
} from "../services/_retrieve_archive.ts";
import { requireDcmtk, runDcmtk, startDcmtkServer } from "./_dcmtk.ts";

const haveDcmtk = await requireDcmtk(
  ["movescu", "storescp", "dcmdump"],
  "tests/interop/movescu_test.ts",
);

const TIMEOUTS = ["-to", "10", "-ta", "10", "-td", "10"];

function interop(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `DCMTK: ${name}`, ignore: !haveDcmtk, fn });
}

async function withMoveScp(
  destinations: Record<string, MoveDestination>,
  fn: (port: number, archive: Archive, log: string[]) => Promise<void>,
): Promise<void> {
  const archive = await makeArchive();
  const log: string[] = [];
  const scp = new Scp({
    aeTitle: "QRSCP",
    port: 0,
    hostname: "127.0.0.1",
    services: [
      verification(),
      queryRetrieveMove({
        index: archive.index,
        dir: archive.dir,
        destinations,
        aeTitle: "QRSCP",
        log: (line) => log.push(line),
      }),
    ],
  });
  await scp.listen();
  try {
    await fn(scp.port, archive, log);
  } finally {
    await scp.close({ timeoutMs: 1000 });
    await archive.close();
  }
}

function movescu(port: number, destination: string, args: string[]) {
  return runDcmtk("movescu", [
    ...TIMEOUTS,
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

interop(
  "movescu moves a study from our SCP to DCMTK's storescp; the files match ours",
  async () => {
    const out = await Deno.makeTempDir({ prefix: "dimse-storescp-" });
    const storescp = await startDcmtkServer("storescp", ["-aet", "STORESCP", "-od", out]);
    try {
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
          assert.equal(result.timedOut, false);
          assert.equal(result.code, 0, result.stderr + result.stdout);
          const text = result.stdout + result.stderr;
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
    } finally {
      await storescp.stop();
      await Deno.remove(out, { recursive: true });
    }
  },
);

interop("movescu to a known destination that is down gets A702 and our log names it", async () => {
  const down = closedPort();
  await withMoveScp({ DOWN: { host: "127.0.0.1", port: down } }, async (port, _archive, log) => {
    const result = await movescu(port, "DOWN", [
      "-P",
      "-k",
      "QueryRetrieveLevel=PATIENT",
      "-k",
      "PatientID=PID2",
    ]);
    assert.equal(result.timedOut, false);
    const text = result.stdout + result.stderr;
    assert.match(text, /Final Move Response \(Refused: OutOfResourcesSubOperations\)/i, text);
    assert.ok(log.some((l) => l.includes(`DOWN at 127.0.0.1:${down} unreachable`)), log.join("\n"));
  });
});

interop("movescu to an unknown destination gets A801", async () => {
  await withMoveScp({}, async (port) => {
    const result = await movescu(port, "NOBODY", [
      "-P",
      "-k",
      "QueryRetrieveLevel=PATIENT",
      "-k",
      "PatientID=PID2",
    ]);
    assert.equal(result.timedOut, false);
    const text = result.stdout + result.stderr;
    assert.match(text, /Final Move Response \(Refused: MoveDestinationUnknown\)/i, text);
  });
});

interop("movescu --cancel 1 stops a move midway: final response Cancel", async () => {
  const dest = await startDestination("SLOW", { delayMs: 200 });
  try {
    await withMoveScp({ SLOW: { host: "127.0.0.1", port: dest.scp.port } }, async (port) => {
      const result = await movescu(port, "SLOW", [
        "--cancel",
        "1",
        "-P",
        "-k",
        "QueryRetrieveLevel=PATIENT",
        "-k",
        "PatientID=PID1",
      ]);
      assert.equal(result.timedOut, false);
      const text = result.stdout + result.stderr;
      assert.match(text, /Final Move Response \(Cancel/i, text);
      assert.ok(dest.received.length >= 1 && dest.received.length < 4, text);
    });
  } finally {
    await dest.close();
  }
});
