import assert from "node:assert/strict";
import { run } from "../../cli/main.ts";
import { Scp } from "../../src/scp.ts";
import { verification } from "../../src/services/verification.ts";
import { recordingIo } from "./_io.ts";

async function withScp(
  options: { aeTitle?: string; requireCalledAeTitle?: boolean },
  fn: (scp: Scp) => Promise<void>,
): Promise<void> {
  const scp = new Scp({
    aeTitle: options.aeTitle ?? "ECHO-SCP",
    port: 0,
    hostname: "127.0.0.1",
    services: [verification()],
    requireCalledAeTitle: options.requireCalledAeTitle,
  });
  await scp.listen();
  try {
    await fn(scp);
  } finally {
    await scp.close({ timeoutMs: 1000 });
  }
}

Deno.test("echo --help prints usage on stdout and exits 0", async () => {
  const io = recordingIo();
  assert.equal(await run(["echo", "--help"], io), 0);
  assert.match(io.stdout.join("\n"), /Usage: dimse echo HOST:PORT/);
  assert.deepEqual(io.stderr, []);
});

for (
  const [args, pattern] of [
    [[], /Missing HOST:PORT/],
    [["localhost"], /Expected HOST:PORT/],
    [["localhost:99999"], /Port must be between 1 and 65535/],
    [["localhost:104", "--repeat", "0"], /--repeat must be between 1/],
    [["localhost:104", "--aet", "THIS-TITLE-IS-TOO-LONG"], /--aet must be at most 16/],
    [["localhost:104", "--max-pdu", "100"], /--max-pdu must be 0 \(unlimited\) or at least 4096/],
    [["localhost:104", "--bogus"], /Unknown option '--bogus'/],
  ] as [string[], RegExp][]
) {
  Deno.test(`echo ${args.join(" ") || "(no arguments)"} exits 2 with one line`, async () => {
    const io = recordingIo();
    assert.equal(await run(["echo", ...args], io), 2);
    assert.equal(io.stderr.length, 1, io.stderr.join("\n"));
    assert.match(io.stderr[0], pattern);
    assert.deepEqual(io.stdout, []);
  });
}

Deno.test("echo against our SCP with --repeat 3 exits 0 and reports three successes", async () => {
  await withScp({}, async (scp) => {
    let received = 0;
    scp.on("message-received", () => received++);
    const io = recordingIo();
    const code = await run(
      ["echo", `127.0.0.1:${scp.port}`, "--aec", "ECHO-SCP", "--repeat", "3"],
      io,
    );
    assert.equal(code, 0, io.stderr.join("\n"));
    assert.equal(io.stdout.length, 3);
    for (const [i, line] of io.stdout.entries()) {
      assert.match(
        line,
        new RegExp(`^C-ECHO ${i + 1}/3 to ECHO-SCP@127\\.0\\.0\\.1:\\d+: success \\(0x0000\\)`),
      );
    }
    assert.equal(received, 3);
  });
});

Deno.test("echo with --max-pdu 4096 and custom AE titles is accepted and exits 0", async () => {
  await withScp({}, async (scp) => {
    const seen: string[] = [];
    scp.on("association-accepted", (e) => seen.push(e.association.callingAeTitle));
    const io = recordingIo();
    const code = await run(
      [
        "echo",
        `127.0.0.1:${scp.port}`,
        "--aet",
        "MY-SCU",
        "--aec",
        "ECHO-SCP",
        "--max-pdu",
        "4096",
      ],
      io,
    );
    assert.equal(code, 0, io.stderr.join("\n"));
    assert.deepEqual(seen, ["MY-SCU"]);
  });
});

Deno.test("echo to a closed port exits 1 with one line", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const io = recordingIo();
  assert.equal(await run(["echo", `127.0.0.1:${port}`, "--timeout", "5"], io), 1);
  assert.equal(io.stderr.length, 1, io.stderr.join("\n"));
  assert.match(io.stderr[0], /^dimse echo: cannot associate with ANY-SCP@127\.0\.0\.1:\d+: /);
});

Deno.test("echo rejected for a wrong called AE title exits 1 naming the reason", async () => {
  await withScp({ requireCalledAeTitle: true }, async (scp) => {
    const io = recordingIo();
    assert.equal(await run(["echo", `127.0.0.1:${scp.port}`, "--aec", "SOMEONE-ELSE"], io), 1);
    assert.equal(io.stderr.length, 1, io.stderr.join("\n"));
    assert.match(io.stderr[0], /rejected/i);
    assert.match(io.stderr[0], /called AE title not recognized/i);
  });
});

Deno.test("deno run cli/main.ts echo against our SCP exits 0 as a process", async () => {
  await withScp({}, async (scp) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../cli/main.ts", import.meta.url).pathname,
        "echo",
        `127.0.0.1:${scp.port}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.match(new TextDecoder().decode(out.stdout), /C-ECHO 1\/1 .*success/);
  });
});
