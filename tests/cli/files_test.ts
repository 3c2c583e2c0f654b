import assert from "node:assert/strict";
import { collectFiles } from "../../cli/_files.ts";
import type { FileToInspect } from "../../src/services/storage_scu.ts";

Deno.test("collectFiles lists the files under a folder in name order, following links to files and folders", async () => {
  const dir = await Deno.makeTempDir();
  const other = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/b/inner`, { recursive: true });
    await Deno.writeTextFile(`${dir}/a.dcm`, "a");
    await Deno.writeTextFile(`${dir}/b/inner/c.dcm`, "cc");
    await Deno.writeTextFile(`${dir}/b/B.dcm`, "b");
    await Deno.writeTextFile(`${other}/target.dcm`, "ttt");
    await Deno.mkdir(`${other}/linked`);
    await Deno.writeTextFile(`${other}/linked/d.dcm`, "dddd");
    await Deno.symlink(`${other}/target.dcm`, `${dir}/c-link.dcm`);
    await Deno.symlink(`${other}/linked`, `${dir}/d-folder`);
    await Deno.symlink(`${other}/missing.dcm`, `${dir}/e-broken.dcm`);
    const found: FileToInspect[] = [];
    assert.throws(() => collectFiles(dir, found), Deno.errors.NotFound);
    // Everything before the broken link was found, in name order (upper case first, as bytes).
    assert.deepEqual(found.map((f) => f.path.slice(dir.length + 1)), [
      "a.dcm",
      "b/B.dcm",
      "b/inner/c.dcm",
      "c-link.dcm",
      "d-folder/d.dcm",
    ]);
    // A file named on its own comes with its size; the link's size is its target's.
    const single: FileToInspect[] = [];
    collectFiles(`${dir}/c-link.dcm`, single);
    assert.deepEqual(single, [{ path: `${dir}/c-link.dcm`, size: 3 }]);
    await Deno.remove(`${dir}/e-broken.dcm`);
    const again: FileToInspect[] = [];
    collectFiles(`${dir}/`, again);
    assert.equal(again.length, 5);
    assert.equal(again[0].path, `${dir}/a.dcm`);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(other, { recursive: true });
  }
});
