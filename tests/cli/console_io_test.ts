import assert from "node:assert/strict";
import { consoleIo } from "../../cli/_args.ts";

Deno.test("consoleIo writes control characters as \\xHH and keeps the line feeds of multi-line text", () => {
  const printed: [string, string][] = [];
  const { log, error } = console;
  console.log = (line: string) => printed.push(["out", line]);
  console.error = (line: string) => printed.push(["err", line]);
  try {
    consoleIo.out("Usage: dimse\n\nCommands:\n  scp");
    consoleIo.out("PatientName Doe\u001b[2J^J\u009b");
    consoleIo.err("a\tb\r\nc");
  } finally {
    console.log = log;
    console.error = error;
  }
  assert.deepEqual(printed, [
    ["out", "Usage: dimse\n\nCommands:\n  scp"],
    ["out", "PatientName Doe\\x1b[2J^J\\x9b"],
    ["err", "a\\x09b\\x0d\nc"],
  ]);
});
