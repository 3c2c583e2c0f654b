import assert from "node:assert/strict";
import { run } from "../../cli/main.ts";
import { recordingIo } from "./_io.ts";

Deno.test("dimse --help lists the scp and echo commands and exits 0", async () => {
  const io = recordingIo();
  assert.equal(await run(["--help"], io), 0);
  const text = io.stdout.join("\n");
  assert.match(text, /^\s+scp\s/m);
  assert.match(text, /^\s+echo\s/m);
  assert.deepEqual(io.stderr, []);
});

Deno.test("an unknown command exits 2 with one line naming it", async () => {
  const io = recordingIo();
  assert.equal(await run(["frobnicate"], io), 2);
  assert.equal(io.stderr.length, 1);
  assert.match(io.stderr[0], /Unknown command "frobnicate"/);
});

Deno.test("no command at all exits 2 and prints the usage", async () => {
  const io = recordingIo();
  assert.equal(await run([], io), 2);
  assert.match(io.stderr.join("\n"), /Usage: dimse <command>/);
});

Deno.test("deno run cli/main.ts with an unknown command exits 2 as a process", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../cli/main.ts", import.meta.url).pathname, "nope"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  const stderr = new TextDecoder().decode(out.stderr).trim().split("\n");
  assert.equal(stderr.length, 1);
  assert.match(stderr[0], /Unknown command "nope"/);
});
