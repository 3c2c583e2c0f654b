// Faults on the Storage SCP's path: peers that die or abort mid-instance, a full disk, and
// SOP Instance UIDs that try to leave the store folder. Nothing half-written may remain.
import assert from "node:assert/strict";
import { ctBytes, startStorageScp } from "./_storage_scp.ts";
import { Association } from "../../src/client.ts";
import { CommandField, type CommandSet } from "../../src/dimse/command.ts";

const CT = "1.2.840.10008.5.1.4.1.1.2";
const EXPLICIT_LE = "1.2.840.10008.1.2.1";
const CLIENT = new URL("../../src/client.ts", import.meta.url).href;
const COMMAND = new URL("../../src/dimse/command.ts", import.meta.url).href;

function connect(port: number): Promise<Association> {
  return Association.connect({
    host: "127.0.0.1",
    port,
    presentationContexts: [{ abstractSyntax: CT, transferSyntaxes: [EXPLICIT_LE] }],
  });
}

function cStoreCommand(sopInstanceUid: string): CommandSet {
  return {
    commandField: CommandField.C_STORE_RQ,
    affectedSopClassUid: CT,
    affectedSopInstanceUid: sopInstanceUid,
    priority: 0,
    commandDataSetType: 0,
  };
}

/** Entries of a folder, recursively, relative. */
function listAll(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    out.push(prefix + entry.name);
    if (entry.isDirectory) out.push(...listAll(`${dir}/${entry.name}`, `${prefix}${entry.name}/`));
  }
  return out.sort();
}

async function waitUntil(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("a peer process killed with SIGKILL mid-instance leaves neither a file nor a temp file", async () => {
  const { scp, dir, close } = await startStorageScp();
  try {
    // The peer sends the command and 1 MiB of a data set it never finishes, then waits.
    const script = `
      import { Association } from "${CLIENT}";
      import { CommandField } from "${COMMAND}";
      const assoc = await Association.connect({
        host: "127.0.0.1", port: ${scp.port},
        presentationContexts: [{ abstractSyntax: "${CT}", transferSyntaxes: ["${EXPLICIT_LE}"] }],
      });
      async function* half() {
        for (let i = 0; i < 16; i++) yield new Uint8Array(65536);
        console.log("sent");
        await new Promise(() => {});
      }
      await assoc.request({
        commandField: CommandField.C_STORE_RQ, affectedSopClassUid: "${CT}",
        affectedSopInstanceUid: "1.2.3.4.100", priority: 0, commandDataSetType: 0,
      }, { dataSet: half() });
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /sent/);
    await waitUntil(() => listAll(dir).length === 1, "the temp file");
    assert.match(listAll(dir)[0], /^\.1\.2\.3\.4\.100\..*\.tmp$/, "a temp file while receiving");
    child.kill("SIGKILL");
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL");
    reader.releaseLock();
    await child.stdout.cancel();
    await waitUntil(() => listAll(dir).length === 0, "the temp file to go");
    assert.deepEqual(listAll(dir), []);
  } finally {
    await close();
  }
});

Deno.test("an association aborted mid-instance leaves neither a file nor a temp file", async () => {
  const { scp, dir, close } = await startStorageScp();
  try {
    const assoc = await connect(scp.port);
    let sent = 0;
    const halfADataSet = async function* (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 16; i++) {
        sent += 65536;
        yield new Uint8Array(65536);
      }
      await new Promise(() => {}); // the rest never comes
    };
    const pending = assoc.request(cStoreCommand("1.2.3.4.5"), { dataSet: halfADataSet() })
      .catch((e) => e);
    await waitUntil(() => listAll(dir).length === 1, "the temp file");
    assert.ok(sent > 0);
    await assoc.abort();
    await pending;
    await waitUntil(() => listAll(dir).length === 0, "the temp file to go");
    assert.deepEqual(listAll(dir), []);
  } finally {
    await close();
  }
});

Deno.test("an instance aborted mid-way while written into the temp file made ahead leaves neither that file nor another", async () => {
  for (const fsync of [false, true]) {
    const { scp, dir, close } = await startStorageScp([], { fsync, spareTempFile: true });
    try {
      const assoc = await connect(scp.port);
      const first = await ctBytes("1.2.3.4.6", 64);
      assert.equal(
        (await assoc.request(cStoreCommand("1.2.3.4.6"), { dataSet: first }))
          .command.status,
        0,
      );
      // The spare made after the first response: the next instance takes it.
      await waitUntil(() => listAll(dir).length === 2, "the temp file made ahead");
      const [spare] = listAll(dir).filter((name) => name.startsWith("."));
      assert.match(spare, /^\.[0-9a-f-]{36}\.tmp$/);
      const halfADataSet = async function* (): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < 16; i++) yield new Uint8Array(65536);
        await new Promise(() => {}); // the rest never comes
      };
      const pending = assoc.request(cStoreCommand("1.2.3.4.7"), { dataSet: halfADataSet() })
        .catch((e) => e);
      await waitUntil(() => {
        try {
          return Deno.statSync(`${dir}/${spare}`).size > 65536;
        } catch {
          return false;
        }
      }, "the instance written into the spare");
      await assoc.abort();
      await pending;
      await waitUntil(() => listAll(dir).length === 1, "the temp file to go");
      assert.deepEqual(listAll(dir), ["1.2.3.4.6.dcm"], `fsync ${fsync}`);
    } finally {
      await close();
    }
  }
});

Deno.test("a SOP Instance UID that is a path is answered 0117 and nothing is written anywhere", async () => {
  const parent = await Deno.makeTempDir();
  const dir = `${parent}/store`;
  const { scp, close } = await startStorageScp([], { dir });
  try {
    const assoc = await connect(scp.port);
    const answers: CommandSet[] = [];
    for (const uid of ["../escaped", "../../../../tmp/escaped", "/tmp/escaped", "1.2/../../x"]) {
      const bytes = await ctBytes(uid, 8);
      answers.push((await assoc.request(cStoreCommand(uid), { dataSet: bytes })).command);
    }
    await assoc.release();
    for (const rsp of answers) {
      assert.equal(rsp.status, 0x0117);
      assert.match(rsp.errorComment ?? "", /not a valid UID/);
    }
    assert.deepEqual(listAll(parent).filter((p) => p !== "store"), []);
    await Deno.stat("/tmp/escaped").then(
      () => assert.fail("/tmp/escaped was written"),
      (e) => assert.ok(e instanceof Deno.errors.NotFound),
    );
  } finally {
    await close();
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("control characters a peer puts in a SOP Instance UID reach the log escaped, one line per line", async () => {
  const { scp, log, close } = await startStorageScp();
  try {
    const assoc = await connect(scp.port);
    const uid = "1.2\n3.4\u001b[2J";
    const bytes = await ctBytes("1.2.3.4", 8);
    const rsp = (await assoc.request(cStoreCommand(uid), { dataSet: bytes })).command;
    await assoc.release();
    assert.equal(rsp.status, 0x0117);
    const line = log.find((l) => l.includes("not stored"));
    assert.ok(line, log.join("\n"));
    assert.ok(line.includes("1.2\\x0a3.4\\x1b[2J"), line);
    // deno-lint-ignore no-control-regex -- no control character may reach the log
    for (const l of log) assert.doesNotMatch(l, /[\u0000-\u001f\u007f-\u009f]/);
  } finally {
    await close();
  }
});

/** Mounts a 256 KiB tmpfs; undefined (after a loud message) when mounting is not allowed. */
async function smallTmpfs(): Promise<string | undefined> {
  const dir = await Deno.makeTempDir();
  const out = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir],
    stdout: "null",
    stderr: "piped",
  }).output().catch((e) => ({ success: false, stderr: new TextEncoder().encode(String(e)) }));
  if (out.success) return dir;
  await Deno.remove(dir);
  const why = new TextDecoder().decode(out.stderr).trim();
  if (Deno.env.get("CI") === "true") {
    throw new Error(`Cannot mount a tmpfs for the disk-full test under CI=true: ${why}`);
  }
  const line = "!".repeat(78);
  console.error(
    `\n${line}\n!! CANNOT MOUNT A TMPFS (${why}).\n` +
      `!! SKIPPING the disk-full test of tests/services/storage_faults_test.ts (needs root).\n` +
      `${line}\n`,
  );
  return undefined;
}

Deno.test("a full disk is answered A700 with nothing half-written, and the next instance that fits is stored", async () => {
  const mount = await smallTmpfs();
  if (mount === undefined) return;
  try {
    const { scp, log, close } = await startStorageScp([], { dir: mount });
    try {
      const assoc = await connect(scp.port);
      const big = await assoc.request(cStoreCommand("1.2.3.4.200"), {
        dataSet: await ctBytes("1.2.3.4.200", 1024 * 1024),
      });
      assert.equal(big.command.status, 0xa700);
      assert.match(big.command.errorComment ?? "", /Out of disk space/);
      assert.deepEqual(listAll(mount), [], "no file and no temp file");
      const small = await assoc.request(cStoreCommand("1.2.3.4.201"), {
        dataSet: await ctBytes("1.2.3.4.201", 16 * 1024),
      });
      await assoc.release();
      assert.equal(small.command.status, 0x0000);
      assert.deepEqual(listAll(mount), ["1.2.3.4.201.dcm"]);
      assert.match(log.join("\n"), /1\.2\.3\.4\.200 .* not stored, status A700: Out of disk space/);
    } finally {
      await close();
    }
  } finally {
    await new Deno.Command("umount", { args: [mount] }).output();
    await Deno.remove(mount, { recursive: true });
  }
});

Deno.test("with fsync off, a disk full before an instance starts or in its middle is answered A700 with nothing left, and the next instance that fits is stored", async () => {
  // With fsync off the file meta is written as the temp file is created, before the data set.
  const mount = await smallTmpfs();
  if (mount === undefined) return;
  try {
    const { scp, log, close } = await startStorageScp([], { dir: mount, fsync: false });
    try {
      const assoc = await connect(scp.port);
      const big = await assoc.request(cStoreCommand("1.2.3.4.210"), {
        dataSet: await ctBytes("1.2.3.4.210", 1024 * 1024),
      });
      assert.equal(big.command.status, 0xa700);
      assert.deepEqual(
        listAll(mount),
        [],
        "no file and no temp file after a full disk mid-instance",
      );
      // Fill the disk to its last byte: the next temp file cannot take even its meta.
      const filler = Deno.openSync(`${mount}/filler`, { write: true, create: true });
      const block = new Uint8Array(4096);
      try {
        while (true) filler.writeSync(block);
      } catch (error) {
        assert.match(String(error), /No space left|ENOSPC/);
      } finally {
        filler.close();
      }
      const none = await assoc.request(cStoreCommand("1.2.3.4.211"), {
        dataSet: await ctBytes("1.2.3.4.211", 16 * 1024),
      });
      assert.equal(none.command.status, 0xa700);
      assert.match(none.command.errorComment ?? "", /Out of disk space/);
      assert.deepEqual(listAll(mount), ["filler"], "no file and no temp file on a full disk");
      Deno.removeSync(`${mount}/filler`);
      const small = await assoc.request(cStoreCommand("1.2.3.4.212"), {
        dataSet: await ctBytes("1.2.3.4.212", 16 * 1024),
      });
      await assoc.release();
      assert.equal(small.command.status, 0x0000);
      assert.deepEqual(listAll(mount), ["1.2.3.4.212.dcm"]);
      const lines = log.join("\n");
      assert.match(lines, /1\.2\.3\.4\.210 .* not stored, status A700: Out of disk space/);
      assert.match(lines, /1\.2\.3\.4\.211 .* not stored, status A700: Out of disk space/);
    } finally {
      await close();
    }
  } finally {
    await new Deno.Command("umount", { args: [mount] }).output();
    await Deno.remove(mount, { recursive: true });
  }
});
