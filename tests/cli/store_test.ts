import assert from "node:assert/strict";
import { main } from "../../cli/commands/store.ts";
import { startStorageScp } from "../services/_storage_scp.ts";
import { readPart10Header } from "../../src/dataset/part10.ts";
import { type RecordingIo, recordingIo } from "./_io.ts";
import { requireDcmtk, runDcmtk, startDcmtkServer } from "../interop/_dcmtk.ts";
import { formatBytes, ProgressBar } from "../../cli/_progress.ts";
import { Scp } from "../../src/scp.ts";
import { storageHandler } from "../../src/services/storage.ts";
import { writePart10 } from "../../src/dataset/part10.ts";
import { toBase64 } from "../../src/dataset/value.ts";
import type { DataSet } from "../../src/dataset/dataset.ts";
import {
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from "../../src/dataset/transfer_syntax.ts";

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

/** Runs `store FIXTURE` against an SCP that answers A700 with `errorComment`; its exit and io. */
async function storeToFullScp(errorComment: string): Promise<[number, RecordingIo]> {
  const scp = new Scp({
    aeTitle: "DIMSE",
    port: 0,
    hostname: "127.0.0.1",
    services: [
      storageHandler(async (instance) => {
        await instance.dataSet.cancel();
        return { status: 0xa700, command: { errorComment } };
      }),
    ],
  });
  await scp.listen();
  try {
    const io = recordingIo();
    return [await main([`127.0.0.1:${scp.port}`, FIXTURE], io), io];
  } finally {
    await scp.close({ timeoutMs: 1000 });
  }
}

const FAILED = `dimse store: ${FIXTURE} (SOP Instance UID 1.2.826.0.1.3680043.10.1.1.1) failed`;

Deno.test("store reports each failed instance with its file, SOP Instance UID, status and Error Comment, and exits 1", async () => {
  const [code, io] = await storeToFullScp("Out of disk space");
  assert.equal(code, 1);
  assert.deepEqual(io.stderr, [`${FAILED} with status 0xA700: Out of disk space`]);
  assert.match(io.stdout.join("\n"), /stored 0 instance\(s\).*; 1 failed/);
});

Deno.test("store writes control characters of a peer's Error Comment escaped, on one line", async () => {
  const [code, io] = await storeToFullScp("Out of\ndisk \u001b[2Jspace");
  assert.equal(code, 1);
  assert.deepEqual(io.stderr, [
    `${FAILED} with status 0xA700: Out of\\x0adisk \\x1b[2Jspace`,
  ]);
});

Deno.test("store converts a file to the one transfer syntax the SCP accepts, and fails a compressed file whose context is refused", async () => {
  const dir = await Deno.makeTempDir();
  const received: string[] = [];
  const scp = new Scp({
    aeTitle: "DIMSE",
    port: 0,
    hostname: "127.0.0.1",
    services: [
      storageHandler(async (instance) => {
        await instance.dataSet.cancel();
        received.push(`${instance.sopInstanceUid} ${instance.transferSyntax}`);
        return 0;
      }, { transferSyntaxes: [ImplicitVrLittleEndian] }),
    ],
  });
  await scp.listen();
  try {
    const base: DataSet = {
      "00080016": { vr: "UI", Value: ["1.2.840.10008.5.1.4.1.1.7"] },
      "00100010": { vr: "PN", Value: [{ Alphabetic: "Doe^Jane" }] },
    };
    await Deno.writeFile(
      `${dir}/a.dcm`,
      await writePart10({ ...base, "00080018": { vr: "UI", Value: ["1.2.3.1"] } }, {
        transferSyntaxUid: ExplicitVrLittleEndian,
      }),
    );
    await Deno.writeFile(
      `${dir}/b.dcm`,
      await writePart10({
        ...base,
        "00080018": { vr: "UI", Value: ["1.2.3.2"] },
        "7FE00010": { vr: "OB", Fragments: ["", toBase64(new Uint8Array([0xff, 0xd8]))] },
      }, { transferSyntaxUid: "1.2.840.10008.1.2.4.70" }),
    );
    const io = recordingIo();
    assert.equal(await main([`127.0.0.1:${scp.port}`, dir], io), 1);
    assert.deepEqual(received, [`1.2.3.1 ${ImplicitVrLittleEndian}`]);
    assert.equal(io.stderr.length, 1);
    assert.match(
      io.stderr[0],
      /b\.dcm \(SOP Instance UID 1\.2\.3\.2\) failed: Presentation context for SecondaryCaptureImageStorage in JPEG Lossless, .* was not accepted, and compressed data is not transcoded$/,
    );
    assert.match(io.stdout.join("\n"), /stored 1 instance\(s\).*; 1 failed/);
    assert.ok(!io.stdout.join("").includes("\r"), "no progress bar when stdout is not a terminal");
  } finally {
    await scp.close({ timeoutMs: 1000 });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the progress bar redraws one line with \\r at most every 100 ms, with instances, bytes and rate", () => {
  const written: string[] = [];
  let clock = 0;
  const bar = new ProgressBar({
    totalInstances: 4,
    totalBytes: 4 * 1048576,
    write: (text) => written.push(text),
    now: () => clock,
    barWidth: 8,
  });
  clock = 1000;
  bar.addBytes(1048576);
  assert.deepEqual(written, ["\r[##------] 0/4 instances  1.0 MiB / 4.0 MiB  1.0 MiB/s\x1b[K"]);
  for (let i = 0; i < 50; i++) {
    clock += 1;
    bar.addBytes(1024);
  }
  assert.equal(written.length, 1, "no redraw within 100 ms");
  clock += 60;
  bar.addInstance();
  assert.equal(written.length, 2);
  assert.ok(written[1].startsWith("\r[##------] 1/4 instances  1.0 MiB / 4.0 MiB "), written[1]);
  assert.ok(written[1].endsWith("/s\x1b[K"), written[1]);
  bar.clear();
  assert.equal(written[2], "\r\x1b[K");
  bar.finish();
  assert.equal(written.at(-1), "\n");
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(3 * 1073741824), "3.0 GiB");
});

Deno.test("store --window N keeps up to N C-STOREs outstanding with an SCP that accepts a window, and --window 1 sends one at a time", async () => {
  const dir = await Deno.makeTempDir();
  let active = 0;
  let mostActive = 0;
  const received = new Set<string>();
  const scp = new Scp({
    aeTitle: "DIMSE",
    port: 0,
    hostname: "127.0.0.1",
    asyncOpsWindow: { maxOperationsInvoked: 1, maxOperationsPerformed: 8 },
    services: [
      storageHandler(async (instance) => {
        active++;
        mostActive = Math.max(mostActive, active);
        await new Promise((resolve) => setTimeout(resolve, 15));
        for await (const _ of instance.dataSet) { /* drained */ }
        received.add(instance.sopInstanceUid);
        active--;
        return 0;
      }),
    ],
  });
  await scp.listen();
  try {
    const base = await Deno.readFile(FIXTURE);
    const header = await readPart10Header([base]);
    for (let i = 0; i < 10; i++) {
      const dataSet: DataSet = {
        "00080016": { vr: "UI", Value: [String(header.meta["00020002"].Value![0])] },
        "00080018": { vr: "UI", Value: [`1.2.826.0.1.3680043.10.1.950.${i}`] },
        "00100010": { vr: "PN", Value: [{ Alphabetic: `Window^${i}` }] },
      };
      await Deno.writeFile(`${dir}/${i}.dcm`, await writePart10(dataSet));
    }
    for (const [window, expected] of [["4", 4], ["1", 1]] as const) {
      mostActive = 0;
      received.clear();
      const io = recordingIo();
      const code = await main([`127.0.0.1:${scp.port}`, dir, "--window", window], io);
      assert.equal(code, 0, io.stderr.join("\n"));
      assert.match(io.stdout.join("\n"), /stored 10 instance\(s\).*; 0 failed/);
      assert.equal(received.size, 10);
      assert.equal(mostActive, expected, `--window ${window}`);
    }
    assert.equal(await main([`127.0.0.1:${scp.port}`, dir, "--window", "0"], recordingIo()), 2);
  } finally {
    await scp.close({ timeoutMs: 1000 });
    await Deno.remove(dir, { recursive: true });
  }
});
