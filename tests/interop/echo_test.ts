// DCMTK interop for associations and Verification: echoscu against our SCP, our `echo` against
// DCMTK's storescp. NEEDS DCMTK (echoscu, storescp) on PATH: skipped loudly without it, and a
// failure when CI=true.
import assert from "node:assert/strict";
import { run } from "../../cli/main.ts";
import { Association } from "../../src/client.ts";
import { Scp } from "../../src/scp.ts";
import type { ScpEventMap, ScpOptions } from "../../src/scp.ts";
import { verification } from "../../src/services/verification.ts";
import { recordingIo, spawnCliScp } from "../cli/_io.ts";
import { interopTest, requireDcmtk, runDcmtk, SCU_TIMEOUTS, startDcmtkServer } from "./_dcmtk.ts";

const haveDcmtk = await requireDcmtk(["echoscu", "storescp"], "tests/interop/echo_test.ts");

interface Recorded {
  accepted: ScpEventMap["association-accepted"][];
  rejected: ScpEventMap["association-rejected"][];
  released: ScpEventMap["association-released"][];
  aborted: ScpEventMap["association-aborted"][];
  received: number;
}

async function withScp(
  options: Partial<ScpOptions>,
  fn: (scp: Scp, seen: Recorded) => Promise<void>,
): Promise<void> {
  const scp = new Scp({
    aeTitle: "DIMSE",
    port: 0,
    hostname: "127.0.0.1",
    services: [verification()],
    ...options,
  });
  const seen: Recorded = { accepted: [], rejected: [], released: [], aborted: [], received: 0 };
  scp.on("association-accepted", (e) => seen.accepted.push(e));
  scp.on("association-rejected", (e) => seen.rejected.push(e));
  scp.on("association-released", (e) => seen.released.push(e));
  scp.on("association-aborted", (e) => seen.aborted.push(e));
  scp.on("message-received", () => seen.received++);
  await scp.listen();
  try {
    await fn(scp, seen);
  } finally {
    await scp.close({ timeoutMs: 2000 });
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function echoscu(port: number, args: string[]) {
  const result = await runDcmtk("echoscu", [
    ...SCU_TIMEOUTS,
    ...args,
    "127.0.0.1",
    String(port),
  ]);
  assert.equal(result.timedOut, false, "echoscu finished in time");
  return result;
}

const interop = interopTest(haveDcmtk);

interop("echoscu with defaults gets Success from our SCP and releases", async () => {
  await withScp({}, async (scp, seen) => {
    const result = await echoscu(scp.port, ["-aet", "ECHOSCU", "-aec", "DIMSE"]);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    await until("the release", () => seen.released.length === 1);
    assert.equal(seen.accepted.length, 1);
    assert.equal(seen.accepted[0].association.callingAeTitle, "ECHOSCU");
    assert.equal(seen.received, 1);
    assert.deepEqual(scp.totals.services, { verification: { "0000": 1 } });
  });
});

interop("echoscu --max-pdu 4096 gets Success from our SCP", async () => {
  await withScp({}, async (scp, seen) => {
    const result = await echoscu(scp.port, ["--max-pdu", "4096"]);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.equal(seen.accepted[0].negotiated.peerMaxPduLength, 4096);
    await until("the release", () => seen.released.length === 1);
  });
});

// A large A-ASSOCIATE-RQ (128 contexts of 38 transfer syntaxes, about 110 KB): the SCP runs as
// a `dimse scp` process so that, should it stall, the test fails on a timeout instead of hanging.
interop("echoscu proposing 38 transfer syntaxes in 128 contexts has all 128 accepted", async () => {
  const store = await Deno.makeTempDir();
  const child = spawnCliScp(store);
  let output = "";
  const decoder = new TextDecoder();
  const pumps = [child.stdout, child.stderr].map(async (stream) => {
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  });
  try {
    await until(
      "the SCP to listen and serve its status",
      () => /listening on 127\.0\.0\.1:\d+/.test(output) && /status on \S+\n/.test(output),
    );
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(output)![1]);
    const url = /status on (\S+)\n/.exec(output)?.[1];
    const result = await echoscu(port, ["--propose-ts", "38", "--propose-pc", "128"]);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    await until("the log lines", () => /association released/.test(output));
    assert.match(
      output,
      /association accepted: ECHOSCU@127\.0\.0\.1:\d+ -> ANY-SCP, 128 context\(s\)/,
    );
    assert.ok(url, "the status endpoint is served");
    const status = await (await fetch(`${url}status`)).json();
    assert.deepEqual(status.totals.messages, [{
      service: "verification",
      status: "0000",
      count: 1,
    }]);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await Promise.all(pumps);
    await Deno.remove(store, { recursive: true });
  }
});

interop("echoscu --repeat 5 gets five Successes on one association", async () => {
  await withScp({}, async (scp, seen) => {
    const result = await echoscu(scp.port, ["--repeat", "5"]);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    await until("the release", () => seen.released.length === 1);
    assert.equal(seen.accepted.length, 1);
    assert.equal(seen.received, 5);
    assert.deepEqual(scp.totals.services, { verification: { "0000": 5 } });
  });
});

interop("echoscu --abort ends the association with A-ABORT from the service user", async () => {
  await withScp({}, async (scp, seen) => {
    const result = await echoscu(scp.port, ["--abort"]);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    await until("the abort", () => seen.aborted.length === 1);
    assert.equal(seen.released.length, 0);
    assert.equal(seen.aborted[0].source, 0);
    assert.equal(seen.received, 1);
    assert.equal(scp.totals.associationsAborted, 1);
    assert.equal(scp.associations.length, 0);
  });
});

interop(
  "echoscu calling a wrong AE title is rejected: Called AE Title Not Recognized",
  async () => {
    await withScp({ requireCalledAeTitle: true }, async (scp, seen) => {
      const result = await echoscu(scp.port, ["-aec", "NOT-DIMSE"]);
      assert.notEqual(result.code, 0);
      assert.match(result.stdout + result.stderr, /Rejected Permanent/);
      assert.match(result.stdout + result.stderr, /Called AE Title Not Recognized/);
      await until("the rejection", () => seen.rejected.length === 1);
      assert.deepEqual(
        [seen.rejected[0].result, seen.rejected[0].source, seen.rejected[0].reason],
        [1, 1, 7],
      );
    });
  },
);

interop(
  "echoscu with a calling AE title not allowed is rejected: Calling AE Title Not Recognized",
  async () => {
    await withScp({ allowedCallingAeTitles: ["FRIEND"] }, async (scp, seen) => {
      const result = await echoscu(scp.port, ["-aet", "STRANGER"]);
      assert.notEqual(result.code, 0);
      assert.match(result.stdout + result.stderr, /Calling AE Title Not Recognized/);
      const friend = await echoscu(scp.port, ["-aet", "FRIEND"]);
      assert.equal(friend.code, 0, friend.stderr + friend.stdout);
      await until("both answers", () => seen.rejected.length === 1 && seen.released.length === 1);
      assert.deepEqual(
        [seen.rejected[0].result, seen.rejected[0].source, seen.rejected[0].reason],
        [1, 1, 3],
      );
    });
  },
);

interop(
  "echoscu beyond --max-associations is rejected transiently: Local Limit Exceeded",
  async () => {
    await withScp({ maxAssociations: 1 }, async (scp, seen) => {
      const held = await Association.connect({
        host: "127.0.0.1",
        port: scp.port,
        callingAeTitle: "HOLDER",
        calledAeTitle: "DIMSE",
      });
      try {
        const result = await echoscu(scp.port, []);
        assert.notEqual(result.code, 0);
        assert.match(result.stdout + result.stderr, /Rejected Transient/);
        assert.match(result.stdout + result.stderr, /Local Limit Exceeded/);
        assert.equal(seen.rejected.length, 1);
      } finally {
        await held.release();
      }
      await until("the held association to end", () => scp.associations.length === 0);
      const after = await echoscu(scp.port, []);
      assert.equal(after.code, 0, "a slot is free again once the held association is released");
    });
  },
);

interop("our echo command gets Success from DCMTK storescp, also with --max-pdu 4096", async () => {
  const storescp = await startDcmtkServer("storescp", [
    "-aet",
    "STORESCP",
    "-ta",
    "10",
    "-td",
    "10",
  ]);
  try {
    const io = recordingIo();
    const code = await run(
      [
        "echo",
        `127.0.0.1:${storescp.port}`,
        "--aec",
        "STORESCP",
        "--repeat",
        "3",
        "--timeout",
        "10",
      ],
      io,
    );
    assert.equal(code, 0, io.stderr.join("\n") + storescp.output());
    assert.equal(io.stdout.length, 3);
    assert.match(io.stdout[2], /^C-ECHO 3\/3 to STORESCP@127\.0\.0\.1:\d+: success \(0x0000\)/);
    const small = recordingIo();
    assert.equal(
      await run(
        ["echo", `127.0.0.1:${storescp.port}`, "--aec", "STORESCP", "--max-pdu", "4096"],
        small,
      ),
      0,
      small.stderr.join("\n"),
    );
  } finally {
    await storescp.stop();
  }
});
