import assert from "node:assert/strict";
import { main } from "../../cli/commands/commit.ts";
import { run } from "../../cli/main.ts";
import { Association } from "../../src/client.ts";
import { Scp } from "../../src/scp.ts";
import { fromKeywords } from "../../src/dataset/dataset.ts";
import { writePart10 } from "../../src/dataset/part10.ts";
import { storage } from "../../src/services/storage.ts";
import { verification } from "../../src/services/verification.ts";
import { inspectFile, storageContexts, storeFile } from "../../src/services/storage_scu.ts";
import { type AeAddress, storageCommitment } from "../../src/services/storage_commitment.ts";
import { openSqliteIndex } from "../../src/store/sqlite_index.ts";
import { recordingIo } from "./_io.ts";
import type { RecordingIo } from "./_io.ts";

const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";
const UID_ROOT = "1.2.826.0.1.3680043.10.1.78";

/** An SCP with Storage and Storage Commitment over a temp folder, holding two stored files. */
async function startArchive(destinations: Record<string, AeAddress> = {}) {
  const dir = await Deno.makeTempDir();
  const files = await Deno.makeTempDir();
  const index = await openSqliteIndex(dir);
  const log: string[] = [];
  const commitment = storageCommitment({
    aeTitle: "ARCHIVE",
    dir,
    index,
    destinations,
    retryDelaysMs: [],
    log: (line) => log.push(line),
  });
  const scp = new Scp({
    aeTitle: "ARCHIVE",
    port: 0,
    hostname: "127.0.0.1",
    services: [storage({ dir, index, log: (line) => log.push(line) }), commitment],
  });
  await scp.listen();
  const paths: string[] = [];
  for (const n of [1, 2]) {
    const path = `${files}/${n}.dcm`;
    await Deno.writeFile(
      path,
      await writePart10(fromKeywords({
        SOPClassUID: CT_IMAGE_STORAGE,
        SOPInstanceUID: `${UID_ROOT}.${n}`,
        PatientID: "CLI1",
        StudyInstanceUID: `${UID_ROOT}.100`,
        SeriesInstanceUID: `${UID_ROOT}.100.1`,
        Modality: "CT",
      })),
    );
    paths.push(path);
  }
  const stored = [];
  for (const path of paths) stored.push((await inspectFile(path))!);
  const association = await Association.connect({
    host: "127.0.0.1",
    port: scp.port,
    presentationContexts: storageContexts(stored),
  });
  for (const file of stored) assert.equal(await storeFile(association, file), 0);
  await association.release();
  return {
    scp,
    files,
    paths,
    log,
    address: `127.0.0.1:${scp.port}`,
    async close() {
      await scp.close({ timeoutMs: 1000 });
      await commitment.close();
      await index.close();
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(files, { recursive: true });
    },
  };
}

/** A port nothing listens on right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("commit of a folder and a --uid gets every instance committed on the same association and exits 0", async () => {
  const archive = await startArchive();
  try {
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
  } finally {
    await archive.close();
  }
});

Deno.test("commit with an instance the SCP does not have prints it failed with the reason and exits 1", async () => {
  const archive = await startArchive();
  try {
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
  } finally {
    await archive.close();
  }
});

Deno.test("commit --listen releases after the N-ACTION response and takes the result on a new association", async () => {
  const port = freePort();
  const archive = await startArchive({ COMMITTER: { host: "127.0.0.1", port } });
  try {
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
  } finally {
    await archive.close();
  }
});

Deno.test("commit exits 1 naming the transaction when no result comes in time", async () => {
  // The archive does not know where NOBODY listens, so its report never arrives.
  const archive = await startArchive();
  try {
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
  } finally {
    await archive.close();
  }
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

async function waitForLine(io: RecordingIo, pattern: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + 10_000;
  while (true) {
    for (const line of [...io.stdout, ...io.stderr]) {
      const match = pattern.exec(line);
      if (match) return match;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `No line matching ${pattern}; got:\n${[...io.stdout, ...io.stderr].join("\n")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("dimse store then dimse commit --listen against dimse scp: the stored instances are committed and an unknown one failed, reported on a new association", async () => {
  const dir = await Deno.makeTempDir();
  const files = await Deno.makeTempDir();
  const listenPort = freePort();
  const stop = new AbortController();
  const scpIo = recordingIo(stop.signal);
  const running = run([
    "scp",
    "--port",
    "0",
    "--host",
    "127.0.0.1",
    "--http",
    "off",
    "--aet",
    "ARCHIVE",
    "--dir",
    dir,
    "--dest",
    `COMMITTER=127.0.0.1:${listenPort}`,
  ], scpIo);
  try {
    const [, port] = await waitForLine(scpIo, /^listening on 127\.0\.0\.1:(\d+) as ARCHIVE$/);
    for (const n of [21, 22]) {
      await Deno.writeFile(
        `${files}/${n}.dcm`,
        await writePart10(fromKeywords({
          SOPClassUID: CT_IMAGE_STORAGE,
          SOPInstanceUID: `${UID_ROOT}.${n}`,
          PatientID: "CLI2",
          StudyInstanceUID: `${UID_ROOT}.200`,
          SeriesInstanceUID: `${UID_ROOT}.200.1`,
          Modality: "CT",
        })),
      );
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
  } finally {
    stop.abort();
    assert.equal(await running, 0);
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(files, { recursive: true });
  }
});
