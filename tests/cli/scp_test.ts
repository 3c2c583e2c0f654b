import assert from "node:assert/strict";
import { run } from "../../cli/main.ts";
import { Association } from "../../src/client.ts";
import { writePart10 } from "../../src/dataset/part10.ts";
import { openSqliteIndex } from "../../src/store/sqlite_index.ts";
import {
  cliScpArgs,
  recordingIo,
  recordStdout,
  spawnCliScp,
  waitForLine,
  withCliScp,
} from "./_io.ts";
import { A_RELEASE_RQ, aAssociateRqBytes, RawPeer } from "../peers/raw_peer.ts";

Deno.test("scp --help prints usage on stdout and exits 0", async () => {
  const io = recordingIo();
  assert.equal(await run(["scp", "--help"], io), 0);
  const text = io.stdout.join("\n");
  assert.match(text, /Usage: dimse scp/);
  for (const option of ["--port", "--aet", "--dir", "--http", "--max-pdu", "--allow", "--config"]) {
    assert.ok(text.includes(option), `help mentions ${option}`);
  }
});

for (
  const [args, pattern] of [
    [["--port", "eleven"], /--port must be a whole number/],
    [["--port", "70000"], /--port must be between 0 and 65535/],
    [["--aet", "A\\B"], /--aet may hold only printable ASCII without backslash/],
    [["--max-associations", "0"], /--max-associations must be between 1/],
    [["--dest", "NOPE"], /--dest must read AE=HOST:PORT/],
    [["--config", "/nonexistent/dimse.json"], /Cannot read config file/],
    [["--frobnicate"], /Unknown option '--frobnicate'/],
    [["stray"], /Unexpected argument "stray"/],
  ] as [string[], RegExp][]
) {
  Deno.test(`scp ${args.join(" ")} exits 2 with one line`, async () => {
    const io = recordingIo();
    assert.equal(await run(["scp", ...args], io), 2);
    assert.equal(io.stderr.length, 1, io.stderr.join("\n"));
    assert.match(io.stderr[0], pattern);
  });
}

Deno.test("scp answers C-ECHO, logs the association, serves /health, and exits 0 when stopped", async () => {
  const store = await Deno.makeTempDir();
  const stop = new AbortController();
  const io = recordingIo(stop.signal);
  const running = run([...cliScpArgs("0"), "--aet", "CLI-SCP", "--dir", store], io);
  try {
    const [, port] = await waitForLine(io, /^listening on 127\.0\.0\.1:(\d+) as CLI-SCP$/);
    const [, url] = await waitForLine(io, /^status on (http:\/\/127\.0\.0\.1:\d+\/)$/);
    const echoIo = recordingIo();
    assert.equal(
      await run(["echo", `127.0.0.1:${port}`, "--aet", "LOGGED", "--aec", "CLI-SCP"], echoIo),
      0,
      echoIo.stderr.join("\n"),
    );
    await waitForLine(
      io,
      /^association accepted: LOGGED@127\.0\.0\.1:\d+ -> CLI-SCP, 1 context\(s\)$/,
    );
    await waitForLine(io, /^association released: LOGGED@127\.0\.0\.1:\d+ -> CLI-SCP, 1 message/);
    const health = await fetch(`${url}health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" });
    const status = await (await fetch(`${url}status`)).json();
    assert.equal(status.aeTitle, "CLI-SCP");
    assert.equal(status.totals.associations.released, 1);
  } finally {
    stop.abort();
  }
  assert.equal(await running, 0);
  assert.equal(io.stdout.at(-1), "closed");
  await Deno.remove(store, { recursive: true });
});

Deno.test("scp warms up before it listens: its instances go to a scratch folder it removes, not to the store, its index or its totals", async () => {
  const store = await Deno.makeTempDir();
  const scratch = await Deno.makeTempDir();
  const child = spawnCliScp(store, { args: ["--warm-up", "40"], env: { TMPDIR: scratch } });
  const io = recordingIo();
  const pump = recordStdout(child, io);
  const errText = new Response(child.stderr).text();
  try {
    const [, port] = await waitForLine(io, /^listening on 127\.0\.0\.1:(\d+) as DIMSE$/);
    const [, url] = await waitForLine(io, /^status on (http:\/\/127\.0\.0\.1:\d+\/)$/);
    const warm = io.stdout.findIndex((line) => /^warm-up: 40 instance\(s\) in \d+ ms$/.test(line));
    assert.ok(warm >= 0, io.stdout.join("\n"));
    assert.ok(warm < io.stdout.findIndex((line) => line.startsWith("listening on")));
    assert.deepEqual([...Deno.readDirSync(scratch)], [], "the scratch folder is removed");
    const status = await (await fetch(`${url}status`)).json();
    assert.equal(status.totals.associations.requested, 0);
    assert.equal(status.totals.associations.accepted, 0);
    assert.equal(await run(["echo", `127.0.0.1:${port}`], recordingIo()), 0);
  } finally {
    child.kill("SIGTERM");
  }
  assert.equal((await child.status).code, 0, await errText);
  await pump;
  assert.deepEqual(
    [...Deno.readDirSync(store)].map((e) => e.name).filter((n) => !n.startsWith(".dimse-index")),
    [],
  );
  const index = openSqliteIndex(store);
  try {
    assert.deepEqual([...index.entries()], []);
  } finally {
    await index.close();
  }
  await Deno.remove(store, { recursive: true });
  await Deno.remove(scratch, { recursive: true });
});

for (
  const [transferSyntax, outcome] of [["1.2.840.10008.1.2", "warm-up: 4 instance"], [
    "1.2.840.10008.1.2.4.50",
    "warm-up failed",
  ]] as const
) {
  Deno.test(`scp --transfer-syntax ${transferSyntax} warms up in it when it can write it, else serves without the warm-up`, async () => {
    const store = await Deno.makeTempDir();
    const stop = new AbortController();
    const io = recordingIo(stop.signal);
    const args = ["--dir", store, "--transfer-syntax", transferSyntax, "--warm-up", "4"];
    const running = run([...cliScpArgs("off"), ...args], io);
    try {
      await waitForLine(io, /^listening on /);
      const lines = [...io.stdout, ...io.stderr].join("\n");
      assert.ok(lines.includes(outcome), lines);
      assert.doesNotMatch(lines, /^storage: /m, "no instance refused");
    } finally {
      stop.abort();
    }
    assert.equal(await running, 0);
    await Deno.remove(store, { recursive: true });
  });
}

Deno.test("scp with --allow rejects other calling AE titles and logs the reason", async () => {
  const code = await withCliScp(["--allow", "FRIEND"], async (port, io) => {
    assert.ok(!io.stdout.some((l) => l.startsWith("status on")), "--http off serves nothing");
    const stranger = recordingIo();
    assert.equal(await run(["echo", `127.0.0.1:${port}`, "--aet", "STRANGER"], stranger), 1);
    assert.match(stranger.stderr[0], /calling AE title not recognized/i);
    await waitForLine(
      io,
      /^association rejected: STRANGER@127\.0\.0\.1:\d+ -> ANY-SCP, calling AE title not recognized \(permanent\)$/,
    );
    const friend = recordingIo();
    assert.equal(await run(["echo", `127.0.0.1:${port}`, "--aet", "FRIEND"], friend), 0);
  });
  assert.equal(code, 0);
});

Deno.test("scp writes control characters of a peer's AE titles escaped, each log line one line", async () => {
  const code = await withCliScp([], async (port, io) => {
    const peer = await RawPeer.connect(Number(port));
    await peer.send(aAssociateRqBytes({ callingAeTitle: "EV\nIL", calledAeTitle: "ANY\u001b[2J" }));
    assert.equal((await peer.readPdu())?.[0], 0x02);
    await peer.send(A_RELEASE_RQ);
    assert.equal((await peer.readPdu())?.[0], 0x06);
    peer.close();
    await waitForLine(
      io,
      /^association accepted: EV\\x0aIL@127\.0\.0\.1:\d+ -> ANY\\x1b\[2J, 1 context\(s\)$/,
    );
    assert.ok(!io.stderr.some((l) => l.startsWith("IL")), io.stderr.join("\n"));
  });
  assert.equal(code, 0);
});

Deno.test("scp reads --config and the command line wins over it", async () => {
  const dir = await Deno.makeTempDir();
  const config = `${dir}/scp.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({ aet: "FROM-FILE", port: 1, host: "127.0.0.1", http: "off", allow: ["X"] }),
  );
  const stop = new AbortController();
  const io = recordingIo(stop.signal);
  const running = run(
    ["scp", "--config", config, "--port", "0", "--allow", "Y", "--dir", `${dir}/store`],
    io,
  );
  try {
    const [, port] = await waitForLine(io, /^listening on 127\.0\.0\.1:(\d+) as FROM-FILE$/);
    assert.notEqual(port, "1");
    const y = recordingIo();
    assert.equal(await run(["echo", `127.0.0.1:${port}`, "--aet", "Y"], y), 0);
    const x = recordingIo();
    assert.equal(await run(["echo", `127.0.0.1:${port}`, "--aet", "X"], x), 1);
  } finally {
    stop.abort();
    await running;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scp --transfer-syntax accepts only the listed transfer syntaxes, in its own order of preference", async () => {
  const CT = "1.2.840.10008.5.1.4.1.1.2";
  const MR = "1.2.840.10008.5.1.4.1.1.4";
  const IMPLICIT = "1.2.840.10008.1.2";
  const EXPLICIT = "1.2.840.10008.1.2.1";
  const RLE = "1.2.840.10008.1.2.5";
  const dir = await Deno.makeTempDir();
  try {
    const code = await withCliScp(
      ["--dir", dir, "--transfer-syntax", RLE, "--transfer-syntax", IMPLICIT],
      async (port) => {
        const assoc = await Association.connect({
          host: "127.0.0.1",
          port: Number(port),
          callingAeTitle: "TS-TEST",
          presentationContexts: [
            { abstractSyntax: CT, transferSyntaxes: [EXPLICIT, IMPLICIT, RLE] },
            { abstractSyntax: MR, transferSyntaxes: [EXPLICIT] },
          ],
        });
        try {
          const { accepted, rejected } = assoc.negotiated;
          assert.deepEqual(
            accepted.map((c) => [c.abstractSyntax, c.transferSyntax]),
            [[CT, RLE]],
          );
          // PS3.8 Table 9-18: 4, transfer syntaxes not supported.
          assert.deepEqual(rejected.map((c) => [c.abstractSyntax, c.result]), [[MR, 4]]);
        } finally {
          await assoc.release();
        }
      },
    );
    assert.equal(code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scp --transfer-syntax with something other than a UID exits 2 with one line", async () => {
  const io = recordingIo();
  assert.equal(await run(["scp", "--transfer-syntax", "JPEG"], io), 2);
  assert.equal(io.stderr.length, 1, io.stderr.join("\n"));
  assert.match(io.stderr[0], /--transfer-syntax must be a UID, got "JPEG"/);
});

/** Two small CT instances (1.2.3.71, 1.2.3.72) as Part 10 files in `dir`. */
async function ctFiles(dir: string): Promise<string[]> {
  const paths: string[] = [];
  for (const uid of ["1.2.3.71", "1.2.3.72"]) {
    const path = `${dir}/${uid}.dcm`;
    await Deno.writeFile(
      path,
      await writePart10({
        "00080016": { vr: "UI", Value: ["1.2.840.10008.5.1.4.1.1.2"] },
        "00080018": { vr: "UI", Value: [uid] },
        "00100010": { vr: "PN", Value: [{ Alphabetic: "Doe^John" }] },
      }),
    );
    paths.push(path);
  }
  return paths;
}

Deno.test("scp as a process closes gracefully on SIGTERM, exits 0 and leaves no temp file in the store", async () => {
  const store = await Deno.makeTempDir();
  const sources = await Deno.makeTempDir();
  const child = spawnCliScp(store);
  const io = recordingIo();
  const pump = recordStdout(child, io);
  const errText = new Response(child.stderr).text();
  try {
    const [, port] = await waitForLine(io, /^listening on 127\.0\.0\.1:(\d+) as DIMSE$/);
    const echoIo = recordingIo();
    assert.equal(await run(["echo", `127.0.0.1:${port}`], echoIo), 0);
    // Two instances: the second is written into the temp file made ahead after the first.
    const storeIo = recordingIo();
    assert.equal(await run(["store", `127.0.0.1:${port}`, ...await ctFiles(sources)], storeIo), 0);
  } finally {
    child.kill("SIGTERM");
  }
  const status = await child.status;
  await pump;
  const stderr = await errText;
  assert.equal(status.code, 0, stderr);
  assert.equal(io.stdout.at(-1), "closed");
  assert.match(stderr, /association released: DIMSE-SCU@127\.0\.0\.1:\d+ -> ANY-SCP/);
  const names = [...Deno.readDirSync(store)].map((e) => e.name).sort();
  assert.deepEqual(names.filter((name) => name.endsWith(".dcm")), ["1.2.3.71.dcm", "1.2.3.72.dcm"]);
  assert.deepEqual(names.filter((name) => name.endsWith(".tmp")), []);
  await Deno.remove(store, { recursive: true });
  await Deno.remove(sources, { recursive: true });
});

for (const [args, performed] of [[[], 16], [["--window", "3"], 3]] as const) {
  Deno.test(`scp ${args.join(" ") || "(default)"} performs up to ${performed} operations at once when the requestor proposes a window`, async () => {
    const code = await withCliScp([...args], async (port) => {
      const proposing = await Association.connect({
        host: "127.0.0.1",
        port: Number(port),
        asyncOpsWindow: { maxOperationsInvoked: 64, maxOperationsPerformed: 64 },
      });
      // PS3.7 D.3.3.3: the A-ASSOCIATE-AC holds the requestor's side: it invokes up to our
      // performed limit and performs up to what we invoke (one).
      assert.equal(proposing.negotiated.maxOperationsInvoked, performed);
      assert.equal(proposing.negotiated.maxOperationsPerformed, 1);
      await proposing.release();
      const plain = await Association.connect({ host: "127.0.0.1", port: Number(port) });
      assert.equal(plain.negotiated.maxOperationsInvoked, 1);
      await plain.release();
    });
    assert.equal(code, 0);
  });
}

for (const [args, length] of [[[], 131072], [["--max-pdu", "16384"], 16384]] as const) {
  Deno.test(`scp ${args.join(" ") || "(default)"} tells the requestor it receives PDUs of up to ${length} bytes`, async () => {
    const code = await withCliScp([...args], async (port) => {
      const assoc = await Association.connect({ host: "127.0.0.1", port: Number(port) });
      // PS3.8 D.1: the A-ASSOCIATE-AC's Maximum Length is what we receive.
      assert.equal(assoc.negotiated.peerMaxPduLength, length);
      await assoc.release();
    });
    assert.equal(code, 0);
  });
}
