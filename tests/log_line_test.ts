import assert from "node:assert/strict";
import { logLines, printable } from "../src/log_line.ts";

Deno.test("printable leaves printable text, non-ASCII letters included, as it is", () => {
  for (const text of ["", "DIMSE@127.0.0.1:104 -> ANY-SCP", "1.2.840.10008.1.2.1", "Müller^Zoë"]) {
    assert.equal(printable(text), text);
  }
});

Deno.test("printable writes C0 controls, DEL and C1 controls as \\xHH", () => {
  assert.equal(printable("EV\nIL"), "EV\\x0aIL");
  assert.equal(printable("a\r\n\tb\u0000"), "a\\x0d\\x0a\\x09b\\x00");
  assert.equal(printable("\u001b[2Jx\u007f"), "\\x1b[2Jx\\x7f");
  assert.equal(printable("\u0085\u009b\u00a0"), "\\x85\\x9b\u00a0");
  // Two lines in, one out, each time it is asked.
  for (let i = 0; i < 3; i++) assert.equal(printable("x\ny").split("\n").length, 1);
});

Deno.test("logLines hands each line to the sink made printable", () => {
  const lines: string[] = [];
  const log = logLines((line) => lines.push(line));
  log("storage: 1.2\n3 from EV\u001bIL@127.0.0.1:5 not stored");
  log("plain");
  assert.deepEqual(lines, ["storage: 1.2\\x0a3 from EV\\x1bIL@127.0.0.1:5 not stored", "plain"]);
});
