// `dimse move` and `dimse get` against DCMTK's dcmqrscp over a generated archive, moving to a
// DCMTK storescp. NEEDS DCMTK (dcmqrscp, dcmqridx, storescp): skipped with a loud banner when
// missing, a failure under CI=true. Argument checks run without DCMTK.
import assert from "node:assert/strict";
import { main as move } from "../../cli/commands/move.ts";
import { main as get } from "../../cli/commands/get.ts";
import { recordingIo } from "./_io.ts";
import { freePort, requireDcmtk, startDcmtkServer } from "../interop/_dcmtk.ts";
import {
  type Dcmqrscp,
  QR_ARCHIVE,
  type QrDestination,
  startDcmqrscp,
} from "../interop/_dcmqrscp.ts";

const STUDY1 = QR_ARCHIVE[0].study;
const STUDY1_COUNT = QR_ARCHIVE.filter((i) => i.study === STUDY1).length;

async function files(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
  return names.sort();
}

async function withArchive(
  destinations: QrDestination[],
  body: (server: Dcmqrscp) => Promise<void>,
): Promise<void> {
  const server = await startDcmqrscp(destinations);
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

Deno.test("move without --dest and get without --dir exit 2 with one line", async () => {
  const io1 = recordingIo();
  assert.equal(
    await move(["127.0.0.1:104", "--level", "STUDY", "-k", "StudyInstanceUID=1"], io1),
    2,
  );
  assert.deepEqual(io1.stderr, ["dimse move: Option --dest is required"]);
  const io2 = recordingIo();
  assert.equal(
    await get(["127.0.0.1:104", "--level", "STUDY", "-k", "StudyInstanceUID=1"], io2),
    2,
  );
  assert.deepEqual(io2.stderr, ["dimse get: Option --dir is required"]);
  const io3 = recordingIo();
  assert.equal(await move(["127.0.0.1:104", "--dest", "X", "--model", "worklist"], io3), 2);
  assert.equal(io3.stderr.length, 1);
});

if (await requireDcmtk(["dcmqrscp", "dcmqridx", "storescp"], "tests/cli/move_get_test.ts")) {
  Deno.test("DCMTK: move --dest of a study to a storescp exits 0 with a summary of 5 completed, and storescp has the files", async () => {
    const received = await Deno.makeTempDir();
    const storescp = await startDcmtkServer("storescp", ["-aet", "DEST", "-od", received]);
    try {
      await withArchive([{ aeTitle: "DEST", port: storescp.port }], async (server) => {
        const io = recordingIo();
        const code = await move([
          `127.0.0.1:${server.port}`,
          "--aec",
          "QRSCP",
          "--dest",
          "DEST",
          "--level",
          "STUDY",
          "-k",
          `StudyInstanceUID=${STUDY1}`,
        ], io);
        assert.equal(code, 0, io.stderr.join("\n") + io.stdout.join("\n"));
        assert.match(
          io.stdout.join("\n"),
          new RegExp(
            `move from QRSCP@127\\.0\\.0\\.1:\\d+ to DEST: completed ${STUDY1_COUNT}, failed 0, warning 0; status 0x0000`,
          ),
        );
        assert.equal((await files(received)).length, STUDY1_COUNT);
      });
    } finally {
      await storescp.stop();
      await Deno.remove(received, { recursive: true });
    }
  });

  Deno.test("DCMTK: move to a destination that is down reports it and exits 1", async () => {
    await withArchive([{ aeTitle: "DOWN", port: freePort() }], async (server) => {
      const io = recordingIo();
      const code = await move([
        `127.0.0.1:${server.port}`,
        "--aec",
        "QRSCP",
        "--dest",
        "DOWN",
        "--level",
        "STUDY",
        "-k",
        `StudyInstanceUID=${STUDY1}`,
      ], io);
      assert.equal(code, 1);
      assert.match(io.stdout.join("\n"), /move from .* to DOWN: .*completed 0/);
      const failedLines = io.stderr.filter((l) =>
        l.startsWith("dimse move: failed SOP Instance UID ")
      );
      assert.ok(failedLines.length <= STUDY1_COUNT);
      assert.match(io.stdout.join("\n"), new RegExp(`failed ${failedLines.length}|status 0x[AC]`));
    });
  });

  Deno.test("DCMTK: move to an unknown AE title exits 1 with status 0xA801 in the summary", async () => {
    await withArchive([], async (server) => {
      const io = recordingIo();
      const code = await move([
        `127.0.0.1:${server.port}`,
        "--aec",
        "QRSCP",
        "--dest",
        "NOWHERE",
        "--level",
        "STUDY",
        "-k",
        `StudyInstanceUID=${STUDY1}`,
      ], io);
      assert.equal(code, 1);
      assert.match(io.stdout.join("\n"), /status 0xA801/);
    });
  });

  Deno.test("DCMTK: move interrupted at once (io.signal already aborted) sends C-CANCEL, releases, and the exit code follows the outcome", async () => {
    const received = await Deno.makeTempDir();
    const storescp = await startDcmtkServer("storescp", ["-aet", "DEST", "-od", received]);
    try {
      await withArchive([{ aeTitle: "DEST", port: storescp.port }], async (server) => {
        const controller = new AbortController();
        controller.abort();
        const io = recordingIo(controller.signal);
        const code = await move([
          `127.0.0.1:${server.port}`,
          "--aec",
          "QRSCP",
          "--dest",
          "DEST",
          "--level",
          "PATIENT",
          "-k",
          "PatientID=QRPID1",
        ], io);
        const summary = io.stdout.join("\n");
        if (/cancelled/.test(summary)) {
          assert.equal(code, 1);
          assert.match(summary, /status 0xFE00/);
        } else {
          assert.equal(code, 0, summary);
          assert.match(summary, /completed 6, failed 0/);
        }
      });
    } finally {
      await storescp.stop();
      await Deno.remove(received, { recursive: true });
    }
  });

  Deno.test("DCMTK: get --dir of one series writes its instances as <SOP Instance UID>.dcm and exits 0", async () => {
    await withArchive([], async (server) => {
      const out = await Deno.makeTempDir();
      try {
        const series = QR_ARCHIVE[3].series;
        const io = recordingIo();
        const code = await get([
          `127.0.0.1:${server.port}`,
          "--aec",
          "QRSCP",
          "--dir",
          `${out}/new`,
          "--level",
          "SERIES",
          "-k",
          `StudyInstanceUID=${STUDY1}`,
          "-k",
          `SeriesInstanceUID=${series}`,
        ], io);
        assert.equal(code, 0, io.stderr.join("\n") + io.stdout.join("\n"));
        assert.deepEqual(
          await files(`${out}/new`),
          QR_ARCHIVE.filter((i) => i.series === series).map((i) => `${i.sop}.dcm`).sort(),
        );
        assert.match(
          io.stdout.join("\n"),
          /get from QRSCP@.* completed 2, failed 0, warning 0; status 0x0000/,
        );
      } finally {
        await Deno.remove(out, { recursive: true });
      }
    });
  });

  Deno.test("DCMTK: get proposing only MR Image Storage (--sop-class) fails the CT instances of a study and exits 1", async () => {
    await withArchive([], async (server) => {
      const out = await Deno.makeTempDir();
      try {
        const io = recordingIo();
        const code = await get([
          `127.0.0.1:${server.port}`,
          "--aec",
          "QRSCP",
          "--dir",
          out,
          "--sop-class",
          "1.2.840.10008.5.1.4.1.1.4",
          "--level",
          "STUDY",
          "-k",
          `StudyInstanceUID=${STUDY1}`,
        ], io);
        assert.equal(code, 1);
        assert.equal((await files(out)).length, 2);
        assert.match(io.stdout.join("\n"), /completed 2, failed 3/);
      } finally {
        await Deno.remove(out, { recursive: true });
      }
    });
  });
}
