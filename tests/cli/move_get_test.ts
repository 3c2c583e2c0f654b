// `dimse move` and `dimse get` against DCMTK's dcmqrscp over a generated archive, moving to a
// DCMTK storescp. NEEDS DCMTK (dcmqrscp, dcmqridx, storescp): skipped with a loud banner when
// missing, a failure under CI=true. Argument checks run without DCMTK.
import assert from "node:assert/strict";
import { main as move } from "../../cli/commands/move.ts";
import { main as get } from "../../cli/commands/get.ts";
import { type RecordingIo, recordingIo } from "./_io.ts";
import { freePort, requireDcmtk, withStorescp } from "../interop/_dcmtk.ts";
import { type Dcmqrscp, QR_ARCHIVE, withDcmqrscp } from "../interop/_dcmqrscp.ts";
import { withTempDir } from "../_helpers/temp_dir.ts";

const STUDY1 = QR_ARCHIVE[0].study;
const STUDY1_COUNT = QR_ARCHIVE.filter((i) => i.study === STUDY1).length;

async function files(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
  return names.sort();
}

/** The first arguments of a command to the archive: its address and AE title. */
function archiveArgs(server: Dcmqrscp): string[] {
  return [`127.0.0.1:${server.port}`, "--aec", "QRSCP"];
}

/** `dimse move` of study 1 from the archive to `destination`. */
function moveStudy1(server: Dcmqrscp, destination: string, io: RecordingIo): Promise<number> {
  return move([
    ...archiveArgs(server),
    "--dest",
    destination,
    "--level",
    "STUDY",
    "-k",
    `StudyInstanceUID=${STUDY1}`,
  ], io);
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
    await withStorescp("DEST", async (storescp, received) => {
      await withDcmqrscp([{ aeTitle: "DEST", port: storescp.port }], async (server) => {
        const io = recordingIo();
        const code = await moveStudy1(server, "DEST", io);
        assert.equal(code, 0, io.stderr.join("\n") + io.stdout.join("\n"));
        assert.match(
          io.stdout.join("\n"),
          new RegExp(
            `move from QRSCP@127\\.0\\.0\\.1:\\d+ to DEST: completed ${STUDY1_COUNT}, failed 0, warning 0; status 0x0000`,
          ),
        );
        assert.equal((await files(received)).length, STUDY1_COUNT);
      });
    });
  });

  Deno.test("DCMTK: move to a destination that is down reports it and exits 1", async () => {
    await withDcmqrscp([{ aeTitle: "DOWN", port: freePort() }], async (server) => {
      const io = recordingIo();
      const code = await moveStudy1(server, "DOWN", io);
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
    await withDcmqrscp([], async (server) => {
      const io = recordingIo();
      const code = await moveStudy1(server, "NOWHERE", io);
      assert.equal(code, 1);
      assert.match(io.stdout.join("\n"), /status 0xA801/);
    });
  });

  Deno.test("DCMTK: move interrupted at once (io.signal already aborted) sends C-CANCEL, releases, and the exit code follows the outcome", async () => {
    await withStorescp("DEST", async (storescp) => {
      await withDcmqrscp([{ aeTitle: "DEST", port: storescp.port }], async (server) => {
        const controller = new AbortController();
        controller.abort();
        const io = recordingIo(controller.signal);
        const code = await move([
          ...archiveArgs(server),
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
    });
  });

  Deno.test("DCMTK: get --dir of one series writes its instances as <SOP Instance UID>.dcm and exits 0", async () => {
    await withDcmqrscp([], async (server) => {
      await withTempDir(async (out) => {
        const series = QR_ARCHIVE[3].series;
        const io = recordingIo();
        const code = await get([
          ...archiveArgs(server),
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
      });
    });
  });

  Deno.test("DCMTK: get proposing only MR Image Storage (--sop-class) fails the CT instances of a study and exits 1", async () => {
    await withDcmqrscp([], async (server) => {
      await withTempDir(async (out) => {
        const io = recordingIo();
        const code = await get([
          ...archiveArgs(server),
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
      });
    });
  });
}
