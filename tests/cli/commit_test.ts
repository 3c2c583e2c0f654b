import assert from "node:assert/strict";
import { main } from "../../cli/commands/commit.ts";
import { run } from "../../cli/main.ts";
import { Scp } from "../../src/scp.ts";
import { fromKeywords } from "../../src/dataset/dataset.ts";
import { writePart10 } from "../../src/dataset/part10.ts";
import { verification } from "../../src/services/verification.ts";
import type { AeAddress } from "../../src/services/storage_commitment.ts";
import { recordingIo, withCliScp } from "./_io.ts";
import { freePort } from "../interop/_dcmtk.ts";
import { startCommitmentScp, storeAll } from "../_helpers/commitment_scp.ts";

const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";
const UID_ROOT = "1.2.826.0.1.3680043.10.1.78";

/** Writes CT instance `UID_ROOT.n` (series 1 of study `UID_ROOT.study`) as a Part 10 file. */
async function writeCtInstance(
  path: string,
  n: number,
  options: { patientId: string; study: number },
): Promise<void> {
  await Deno.writeFile(
    path,
    await writePart10(fromKeywords({
      SOPClassUID: CT_IMAGE_STORAGE,
      SOPInstanceUID: `${UID_ROOT}.${n}`,
      PatientID: options.patientId,
      StudyInstanceUID: `${UID_ROOT}.${options.study}`,
      SeriesInstanceUID: `${UID_ROOT}.${options.study}.1`,
      Modality: "CT",
    })),
  );
}

/** What {@linkcode startArchive} returns. */
type Archive = Awaited<ReturnType<typeof startArchive>>;

/** An SCP with Storage and Storage Commitment over a temp folder, holding two stored files. */
async function startArchive(destinations: Record<string, AeAddress> = {}) {
  const files = await Deno.makeTempDir();
  const archive = await startCommitmentScp({ destinations });
  const paths: string[] = [];
  for (const n of [1, 2]) {
    const path = `${files}/${n}.dcm`;
    await writeCtInstance(path, n, { patientId: "CLI1", study: 100 });
    paths.push(path);
  }
  await storeAll(archive.scp.port, paths);
  return {
    scp: archive.scp,
    files,
    paths,
    log: archive.log,
    address: `127.0.0.1:${archive.scp.port}`,
    async close() {
      await archive.close();
      await Deno.remove(archive.dir, { recursive: true });
      await Deno.remove(files, { recursive: true });
    },
  };
}

/** Runs `fn` with a new archive SCP (see startArchive); closes it after. */
async function withArchive(
  fn: (archive: Archive) => Promise<void>,
  destinations: Record<string, AeAddress> = {},
): Promise<void> {
  const archive = await startArchive(destinations);
  try {
    await fn(archive);
  } finally {
    await archive.close();
  }
}

Deno.test("commit of a folder and a --uid gets every instance committed on the same association and exits 0", async () => {
  await withArchive(async (archive) => {
    const io = recordingIo();
    // The folder holds both files; the --uid names the second again and is not doubled.
    const code = await main([
      archive.address,
      archive.files,
      "--uid",
      `${CT_IMAGE_STORAGE}:${UID_ROOT}.2`,
      "--aet",
      "MODALITY",
      "--transaction",
      `${UID_ROOT}.900`,
    ], io);
    assert.equal(code, 0, io.stderr.join("\n"));
    assert.deepEqual(io.stdout, [
      `committed ${archive.paths[0]}`,
      `committed ${archive.paths[1]}`,
      `transaction ${UID_ROOT}.900: 2 committed, 0 failed (event type 1, on the same association)`,
    ]);
  });
});

Deno.test("commit with an instance the SCP does not have prints it failed with the reason and exits 1", async () => {
  await withArchive(async (archive) => {
    const io = recordingIo();
    const code = await main([
      archive.address,
      archive.paths[0],
      "--uid",
      `${CT_IMAGE_STORAGE}:${UID_ROOT}.3`,
    ], io);
    assert.equal(code, 1, io.stderr.join("\n"));
    assert.equal(io.stdout[0], `committed ${archive.paths[0]}`);
    assert.equal(io.stdout[1], `failed ${UID_ROOT}.3: no such object instance (0x0112)`);
    assert.match(
      io.stdout[2],
      /: 1 committed, 1 failed \(event type 2, on the same association\)$/,
    );
  });
});

Deno.test("commit --listen releases after the N-ACTION response and takes the result on a new association", async () => {
  const port = freePort();
  await withArchive(async (archive) => {
    const io = recordingIo();
    const code = await main([
      archive.address,
      archive.files,
      "--aet",
      "COMMITTER",
      "--listen",
      String(port),
      "--listen-host",
      "127.0.0.1",
      "--timeout",
      "10",
    ], io);
    assert.equal(code, 0, io.stderr.join("\n"));
    assert.match(
      io.stdout.at(-1)!,
      /: 2 committed, 0 failed \(event type 1, on a new association\)$/,
    );
    assert.ok(io.stderr.some((l) => l.includes(`listening on 127.0.0.1:${port} as COMMITTER`)));
  }, { COMMITTER: { host: "127.0.0.1", port } });
});

Deno.test("commit exits 1 naming the transaction when no result comes in time", async () => {
  // The archive does not know where NOBODY listens, so its report never arrives.
  await withArchive(async (archive) => {
    const io = recordingIo();
    const code = await main([
      archive.address,
      archive.paths[0],
      "--aet",
      "NOBODY",
      "--listen",
      "0",
      "--listen-host",
      "127.0.0.1",
      "--timeout",
      "1",
      "--transaction",
      `${UID_ROOT}.901`,
    ], io);
    assert.equal(code, 1);
    assert.ok(
      io.stderr.some((l) =>
        l === `dimse commit: no result for transaction ${UID_ROOT}.901 within 1 s`
      ),
      io.stderr.join("\n"),
    );
    assert.deepEqual(io.stdout, []);
  });
});

Deno.test("commit to an SCP without Storage Commitment exits 1 with one line", async () => {
  const scp = new Scp({
    aeTitle: "ECHO",
    port: 0,
    hostname: "127.0.0.1",
    services: [verification()],
  });
  await scp.listen();
  try {
    const io = recordingIo();
    const code = await main(
      [`127.0.0.1:${scp.port}`, "--uid", `${CT_IMAGE_STORAGE}:${UID_ROOT}.1`],
      io,
    );
    assert.equal(code, 1);
    assert.equal(io.stderr.length, 1, io.stderr.join("\n"));
    assert.match(io.stderr[0], /No accepted presentation context for 1\.2\.840\.10008\.1\.20\.1/);
  } finally {
    await scp.close({ timeoutMs: 1000 });
  }
});

Deno.test("commit exits 2 on bad arguments and 0 with --help", async () => {
  const help = recordingIo();
  assert.equal(await main(["--help"], help), 0);
  assert.match(help.stdout[0], /^Usage: dimse commit HOST:PORT/);
  for (
    const args of [
      [],
      ["127.0.0.1:104"],
      ["127.0.0.1:104", "--uid", "1.2.3"],
      ["127.0.0.1:104", "--uid", "1.2.3:abc"],
      ["nonsense", "--uid", "1.2:1.3"],
      ["127.0.0.1:104", "--uid", "1.2:1.3", "--transaction", "x"],
      ["127.0.0.1:104", "--uid", "1.2:1.3", "--listen", "70000"],
    ]
  ) {
    const io = recordingIo();
    assert.equal(await main(args, io), 2, args.join(" "));
    assert.equal(io.stderr.length, 1);
    assert.match(io.stderr[0], /^dimse commit: /);
  }
});

Deno.test("dimse store then dimse commit --listen against dimse scp: the stored instances are committed and an unknown one failed, reported on a new association", async () => {
  const dir = await Deno.makeTempDir();
  const files = await Deno.makeTempDir();
  const listenPort = freePort();
  try {
    const scpCode = await withCliScp([
      "--aet",
      "ARCHIVE",
      "--dir",
      dir,
      "--dest",
      `COMMITTER=127.0.0.1:${listenPort}`,
    ], async (port) => {
      for (const n of [21, 22]) {
        await writeCtInstance(`${files}/${n}.dcm`, n, { patientId: "CLI2", study: 200 });
      }
      const storeIo = recordingIo();
      assert.equal(
        await run(["store", `127.0.0.1:${port}`, files], storeIo),
        0,
        storeIo.stderr.join("\n"),
      );
      const commitIo = recordingIo();
      const code = await run([
        "commit",
        `127.0.0.1:${port}`,
        files,
        "--uid",
        `${CT_IMAGE_STORAGE}:${UID_ROOT}.23`,
        "--aet",
        "COMMITTER",
        "--aec",
        "ARCHIVE",
        "--listen",
        String(listenPort),
        "--listen-host",
        "127.0.0.1",
        "--timeout",
        "10",
      ], commitIo);
      assert.equal(code, 1, commitIo.stderr.join("\n"));
      assert.deepEqual(commitIo.stdout.slice(0, 3), [
        `committed ${files}/21.dcm`,
        `committed ${files}/22.dcm`,
        `failed ${UID_ROOT}.23: no such object instance (0x0112)`,
      ]);
      assert.match(
        commitIo.stdout[3],
        /: 2 committed, 1 failed \(event type 2, on a new association\)$/,
      );
    });
    assert.equal(scpCode, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(files, { recursive: true });
  }
});
