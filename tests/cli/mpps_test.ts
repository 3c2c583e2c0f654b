import assert from "node:assert/strict";
import { run } from "../../cli/main.ts";
import { fromJson } from "../../src/dataset/dataset.ts";
import { recordingIo, withCliScp } from "./_io.ts";
import { withTempDir } from "../_helpers/temp_dir.ts";

/** Runs `dimse scp` in-process on a free port with a fresh store; stops it afterwards. */
async function withScp(fn: (target: string, dir: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const code = await withCliScp(["--dir", dir], (port) => fn(`127.0.0.1:${port}`, dir));
    assert.equal(code, 0);
  }, { prefix: "dimse-cli-mpps-" });
}

Deno.test("mpps --help prints usage on stdout and exits 0", async () => {
  const io = recordingIo();
  assert.equal(await run(["mpps", "--help"], io), 0);
  assert.match(io.stdout.join("\n"), /Usage: dimse mpps create HOST:PORT/);
});

for (
  const [args, pattern] of [
    [[], /Missing action create, set or get/],
    [["delete", "h:104"], /Unknown action "delete"/],
    [["create"], /Missing HOST:PORT/],
    [["set", "h:104"], /Missing the UID of the step to set/],
    [["set", "h:104", "1.2.3"], /Nothing to set/],
    [["set", "h:104", "1.2.3", "--status", "DONE"], /--status must be one of/],
    [["set", "h:104", "1.02"], /not a valid UID/],
    [["create", "h:104", "-k", "NoSuchKeyword=1"], /Unknown keyword NoSuchKeyword/],
    [["create", "h:104", "-k", "PatientID"], /Expected -k Keyword=Value/],
  ] as [string[], RegExp][]
) {
  Deno.test(`mpps ${args.join(" ") || "(no arguments)"} is a usage error (exit 2): ${pattern.source}`, async () => {
    const io = recordingIo();
    assert.equal(await run(["mpps", ...args], io), 2);
    assert.match(io.stderr[0], pattern);
  });
}

Deno.test("mpps create, set COMPLETED and get against `dimse scp`; a second set is refused with exit 1", async () => {
  await withScp(async (target, dir) => {
    const create = recordingIo();
    assert.equal(
      await run(
        [
          "mpps",
          "create",
          target,
          "-k",
          "PatientID=P7",
          "-k",
          "AccessionNumber=ACC1",
          "--aet",
          "CT1",
        ],
        create,
      ),
      0,
      create.stderr.join("\n"),
    );
    assert.equal(create.stdout.length, 1);
    const uid = create.stdout[0];
    assert.match(uid, /^2\.25\.\d+$/);
    const stored = fromJson(await Deno.readTextFile(`${dir}/mpps/${uid}.json`));
    assert.deepEqual(stored["00100020"], { vr: "LO", Value: ["P7"] });
    assert.deepEqual(stored["00400241"], { vr: "AE", Value: ["CT1"] });
    const item = stored["00400270"].Value![0] as Record<string, { Value?: unknown[] }>;
    assert.deepEqual(item["00080050"].Value, ["ACC1"]);

    const set = recordingIo();
    assert.equal(
      await run(["mpps", "set", target, uid, "--status", "COMPLETED"], set),
      0,
      set.stderr.join("\n"),
    );

    const get = recordingIo();
    assert.equal(
      await run(["mpps", "get", target, uid, "-k", "PerformedProcedureStepStatus"], get),
      0,
    );
    assert.deepEqual(JSON.parse(get.stdout[0]), {
      "00400252": { vr: "CS", Value: ["COMPLETED"] },
    });

    const again = recordingIo();
    assert.equal(await run(["mpps", "set", target, uid, "--status", "DISCONTINUED"], again), 1);
    assert.match(
      again.stderr[0],
      /status 0x0110 \(Performed Procedure Step Object may no longer be updated\)/,
    );
  });
});

Deno.test("mpps create with --uid uses that UID; a second create with it fails with exit 1", async () => {
  await withScp(async (target) => {
    const uid = "1.2.826.0.1.3680043.10.77.1";
    const first = recordingIo();
    assert.equal(await run(["mpps", "create", target, "--uid", uid], first), 0);
    assert.deepEqual(first.stdout, [uid]);
    const second = recordingIo();
    assert.equal(await run(["mpps", "create", target, "--uid", uid], second), 1);
    assert.match(second.stderr[0], /status 0x0111/);
  });
});

Deno.test("mpps against a closed port fails with one line and exit 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const io = recordingIo();
  assert.equal(await run(["mpps", "create", `127.0.0.1:${port}`, "--timeout", "2"], io), 1);
  assert.equal(io.stderr.length, 1);
  assert.match(io.stderr[0], /^dimse mpps: cannot associate with ANY-SCP@127\.0\.0\.1:\d+/);
});
