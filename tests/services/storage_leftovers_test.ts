// Removal of the hidden temp files and backups an ended Storage SCP left in its store folder.
import assert from "node:assert/strict";
import { leftoverRemover, removeLeftovers } from "../../src/services/storage_layout.ts";
import { openSqliteIndex } from "../../src/store/sqlite_index.ts";
import { reindex } from "../../src/store/reindex.ts";

const UUID = "0f8fad5b-d9cb-469f-a165-70867728950e";

Deno.test("removeLeftovers removes hidden temp files (of an instance, or made ahead of one) and backups in every folder once they are old enough, and nothing else", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/1.2/1.2.3`, { recursive: true });
    const leftovers = [
      `.1.2.3.4.${UUID}.tmp`,
      `1.2/1.2.3/.1.2.3.5.${UUID}.bak`,
      `.${UUID}.tmp`,
    ];
    const kept = [
      "1.2.3.4.dcm",
      ".dimse-index.sqlite",
      `.notes.${UUID}.tmp`,
      `1.2/1.2.3/1.2.3.5.dcm`,
      `.1.2.3.6.${UUID}.tmp.other`,
      `.${UUID}.bak.x`,
      `.x${UUID}.tmp`,
    ];
    for (const name of [...leftovers, ...kept]) await Deno.writeTextFile(`${dir}/${name}`, "x");

    // Just written: they may belong to an instance another process is receiving.
    assert.deepEqual(await removeLeftovers(dir), []);
    for (const name of [...leftovers, ...kept]) {
      assert.ok((await Deno.stat(`${dir}/${name}`)).isFile);
    }

    await new Promise((resolve) => setTimeout(resolve, 20));
    const removed = await removeLeftovers(dir, { olderThanMs: 10 });
    assert.deepEqual(removed.sort(), [...leftovers].sort());
    for (const name of leftovers) {
      await assert.rejects(Deno.stat(`${dir}/${name}`), Deno.errors.NotFound);
    }
    for (const name of kept) assert.ok((await Deno.stat(`${dir}/${name}`)).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the start check's walk removes leftovers through leftoverRemover, in the same pass", async () => {
  const dir = await Deno.makeTempDir();
  const index = openSqliteIndex(dir);
  try {
    const leftover = `.1.2.3.8.${UUID}.tmp`;
    await Deno.writeTextFile(`${dir}/${leftover}`, "x");
    await Deno.writeTextFile(`${dir}/notes.txt`, "not an instance");
    await new Promise((resolve) => setTimeout(resolve, 20));
    const remover = leftoverRemover(dir, { olderThanMs: 10 });
    const result = await reindex(index, dir, { onHiddenFile: remover.visit });
    assert.deepEqual(remover.removed, [leftover]);
    await assert.rejects(Deno.stat(`${dir}/${leftover}`), Deno.errors.NotFound);
    assert.deepEqual(result.failed, ["notes.txt"], "visible files are still walked");
    assert.ok((await Deno.stat(`${dir}/.dimse-index.sqlite`)).isFile);
  } finally {
    await index.close();
    await Deno.remove(dir, { recursive: true });
  }
});
