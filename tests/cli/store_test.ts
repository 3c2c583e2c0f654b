import assert from "node:assert/strict";
import { main } from "../../cli/commands/store.ts";
import { startStorageScp } from "../services/_storage_scp.ts";
import { readPart10Header } from "../../src/dataset/part10.ts";
import { recordingIo } from "./_io.ts";
import { requireDcmtk, runDcmtk, startDcmtkServer } from "../interop/_dcmtk.ts";

const FIXTURES = new URL("../fixtures/dcmtk/", import.meta.url).pathname;
const FIXTURE = `${FIXTURES}ct_explicit_le.dcm`;

async function dataSetBytes(path: string): Promise<Uint8Array> {
  const bytes = await Deno.readFile(path);
  const header = await readPart10Header([bytes]);
  return bytes.subarray(header.dataSetOffset);
}

Deno.test("store sends a folder to our SCP, skips what is not DICOM, and the data set arrives unchanged", async () => {
  const { scp, dir, close } = await startStorageScp();
  try {
    const io = recordingIo();
    const code = await main([`127.0.0.1:${scp.port}`, FIXTURES], io);
    assert.equal(code, 0, io.stderr.join("\n"));
    assert.match(io.stdout.join("\n"), /stored 1 instance\(s\).*; 0 failed/);
    assert.ok(io.stderr.some((l) => /skipping .*README\.md: not a DICOM Part 10 file/.test(l)));
    const stored = `${dir}/1.2.826.0.1.3680043.10.1.1.1.dcm`;
    assert.deepEqual(await dataSetBytes(stored), await dataSetBytes(FIXTURE));
  } finally {
    await close();
  }
});

Deno.test("store exits 1 when nothing could be stored and 2 on bad arguments", async () => {
  const empty = await Deno.makeTempDir();
  try {
    const io = recordingIo();
    assert.equal(await main(["127.0.0.1:1", empty], io), 1);
    assert.equal(await main(["127.0.0.1:1"], recordingIo()), 2);
    assert.equal(await main(["nonsense", FIXTURE], recordingIo()), 2);
  } finally {
    await Deno.remove(empty);
  }
});

Deno.test("store to a closed port exits 1 naming the failure", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const io = recordingIo();
  assert.equal(await main([`127.0.0.1:${port}`, FIXTURE], io), 1);
  assert.ok(io.stderr.some((l) => l.includes("cannot associate")));
});

if (await requireDcmtk(["storescp", "dcmdump"], "tests/cli/store_test.ts")) {
  Deno.test("DCMTK: store sends to storescp and dcmdump shows the same data set", async () => {
    const out = await Deno.makeTempDir();
    const server = await startDcmtkServer("storescp", ["-aet", "STORESCP", "-od", out]);
    try {
      const io = recordingIo();
      const code = await main([`127.0.0.1:${server.port}`, "--aec", "STORESCP", FIXTURE], io);
      assert.equal(code, 0, io.stderr.join("\n"));
      const files = [...Deno.readDirSync(out)].map((e) => e.name);
      assert.equal(files.length, 1);
      const dump = async (path: string) =>
        (await runDcmtk("dcmdump", ["+L", path])).stdout.split("\n")
          .filter((l) => l.startsWith("(") && !l.startsWith("(0002")).join("\n");
      assert.equal(await dump(`${out}/${files[0]}`), await dump(FIXTURE));
    } finally {
      await server.stop();
      await Deno.remove(out, { recursive: true });
    }
  });
}
