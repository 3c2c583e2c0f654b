// Crash consistency of the Storage SCP and the index: a child process runs a Storage SCP whose
// index stops the process (the test hook) exactly between the file step and the index step;
// on restart the start check brings the row back, so the file and the row agree.
import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import { fromKeywords } from "../../src/dataset/dataset.ts";
import { ExplicitVrLittleEndian } from "../../src/dataset/transfer_syntax.ts";
import { reindex } from "../../src/store/reindex.ts";
import { openSqliteIndex } from "../../src/store/sqlite_index.ts";
import { SC } from "./_archive.ts";
import { withTempDir } from "../_helpers/temp_dir.ts";

const ROOT = new URL("../..", import.meta.url);

/** The child: a Storage SCP over `dir` whose index.add ends the process with code 70. */
const CHILD = `
import { Scp } from "${new URL("src/scp.ts", ROOT)}";
import { storage } from "${new URL("src/services/storage.ts", ROOT)}";
import { openSqliteIndex } from "${new URL("src/store/sqlite_index.ts", ROOT)}";
const dir = Deno.args[0];
const index = openSqliteIndex(dir);
const hook = {
  add: () => Deno.exit(70),
  remove: (uid) => index.remove(uid),
  get: (uid) => index.get(uid),
  find: (q) => index.find(q),
  instances: (q) => index.instances(q),
  counts: () => index.counts(),
  close: () => index.close(),
};
const scp = new Scp({
  aeTitle: "DIMSE",
  port: 0,
  hostname: "127.0.0.1",
  services: [storage({ dir, index: hook })],
});
await scp.listen();
console.log("PORT " + scp.port);
`;

async function readPort(stdout: ReadableStream<Uint8Array>): Promise<number> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stdout) {
    text += decoder.decode(chunk, { stream: true });
    const m = /PORT (\d+)/.exec(text);
    if (m) return Number(m[1]);
  }
  throw new Error(`Child ended before listening: ${text}`);
}

Deno.test("A crash after the file is in place and before it is indexed is repaired by the start check", async () => {
  await withTempDir(async (dir) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", CHILD, dir],
      cwd: ROOT.pathname,
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const port = await readPort(child.stdout);
    const uid = "1.2.826.0.1.3680043.10.543.77.1";
    const association = await Association.connect({
      host: "127.0.0.1",
      port,
      calledAeTitle: "DIMSE",
      presentationContexts: [{ abstractSyntax: SC, transferSyntaxes: [ExplicitVrLittleEndian] }],
    });
    const stored = association.store(fromKeywords({
      SOPClassUID: SC,
      SOPInstanceUID: uid,
      PatientID: "CRASH",
      StudyInstanceUID: "1.2.826.0.1.3680043.10.543.77",
      SeriesInstanceUID: "1.2.826.0.1.3680043.10.543.77.0",
      Modality: "OT",
    }));
    await assert.rejects(stored, "the SCP died before answering: no acknowledgement");
    await association.abort().catch(() => {});
    assert.equal((await child.status).code, 70, "the hook stopped the process");

    const files = [];
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.startsWith(".")) files.push(entry.name);
    }
    assert.deepEqual(files, [`${uid}.dcm`], "the file step completed");

    const index = openSqliteIndex(dir);
    try {
      assert.equal(await index.get(uid), undefined, "the index step did not happen");
      const result = await reindex(index, dir);
      assert.equal(result.added, 1);
      const row = await index.get(uid);
      assert.ok(row, "the start check brought the row back");
      assert.equal(row.path, `${uid}.dcm`);
      assert.equal(row.size, (await Deno.stat(`${dir}/${uid}.dcm`)).size);
    } finally {
      await index.close();
    }
  }, { prefix: "dimse-crash-" });
});
