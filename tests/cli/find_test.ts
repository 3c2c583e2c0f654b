// `dimse find`: -k parsing, output forms, Ctrl-C, exit codes. Against our worklist SCP and
// (NEEDS DCMTK: dcmqrscp, dcmqridx; skipped with a loud banner when missing, a failure under
// CI=true) against DCMTK's dcmqrscp.
import assert from "node:assert/strict";
import { main } from "../../cli/commands/find.ts";
import { run } from "../../cli/main.ts";
import { addQueryKey, formatMatch } from "../../cli/_query_args.ts";
import { type DataSet, fromKeywords, toJson } from "../../src/dataset/dataset.ts";
import { Scp } from "../../src/scp.ts";
import { MODALITY_WORKLIST_FIND, modalityWorklist } from "../../src/services/worklist.ts";
import type { Service, ServiceRequest, ServiceResponse } from "../../src/services/service.ts";
import { writeDataSet } from "../../src/dataset/writer.ts";
import { TransferSyntax } from "../../src/ul/uids.ts";

const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;
import { recordingIo, withCliScp } from "./_io.ts";
import { freePort, requireDcmtk } from "../interop/_dcmtk.ts";
import { QR_ARCHIVE, startDcmqrscp } from "../interop/_dcmqrscp.ts";

async function withWorklistScp(
  count: number,
  body: (port: number) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  for (let n = 1; n <= count; n++) {
    const item = fromKeywords({
      AccessionNumber: `A${n}`,
      PatientName: `Cli^Patient${n}`,
      PatientID: `P${n}`,
      ScheduledProcedureStepSequence: [{
        Modality: n % 2 === 0 ? "CT" : "MR",
        ScheduledProcedureStepStartDate: `202403${String(n).padStart(2, "0")}`,
      }],
    });
    await Deno.writeTextFile(`${dir}/${String(n).padStart(4, "0")}.json`, toJson(item));
  }
  const scp = new Scp({
    aeTitle: "WL",
    port: 0,
    hostname: "127.0.0.1",
    services: [modalityWorklist({ dir })],
  });
  await scp.listen();
  try {
    await body(scp.port);
  } finally {
    await scp.close({ timeoutMs: 1000 });
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("find -k builds nested sequence keys, ggggeeee tags and return keys", () => {
  const identifier: DataSet = {};
  addQueryKey(identifier, "ScheduledProcedureStepSequence[0].Modality=MR");
  addQueryKey(identifier, "ScheduledProcedureStepSequence.ScheduledStationAETitle");
  addQueryKey(identifier, "00100020=PID*");
  addQueryKey(identifier, "(0010,0010)=");
  addQueryKey(identifier, "StudyDate=20240101-20240131");
  assert.deepEqual(identifier, {
    "00400100": {
      vr: "SQ",
      Value: [{ "00080060": { vr: "CS", Value: ["MR"] }, "00400001": { vr: "AE" } }],
    },
    "00100020": { vr: "LO", Value: ["PID*"] },
    "00100010": { vr: "PN" },
    "00080020": { vr: "DA", Value: ["20240101-20240131"] },
  });
});

Deno.test("find prints a match as Keyword=value pairs in the -k syntax, quoting values with spaces", () => {
  const line = formatMatch(fromKeywords({
    PatientName: "Doe^Jane",
    StudyDescription: "Head scan",
    ScheduledProcedureStepSequence: [{ Modality: "MR" }],
  }));
  assert.equal(
    line,
    'StudyDescription="Head scan" PatientName=Doe^Jane ScheduledProcedureStepSequence[0].Modality=MR',
  );
});

Deno.test("find without --level, with an unknown keyword, or --level with --model worklist exits 2 with one line", async () => {
  for (
    const args of [
      ["127.0.0.1:104", "-k", "PatientID=1"],
      ["127.0.0.1:104", "--level", "STUDY", "-k", "NoSuchKeyword=1"],
      ["127.0.0.1:104", "--model", "worklist", "--level", "STUDY"],
      ["127.0.0.1:104", "--level", "PATIENT", "--model", "study"],
      ["--level", "STUDY"],
    ]
  ) {
    const io = recordingIo();
    assert.equal(await main(args, io), 2, args.join(" "));
    assert.equal(io.stderr.length, 1);
    assert.match(io.stderr[0], /^dimse find: /);
  }
});

Deno.test("find against a port where nothing listens exits 1 with a cannot-associate line", async () => {
  const io = recordingIo();
  const code = await main([`127.0.0.1:${freePort()}`, "--level", "STUDY", "--timeout", "5"], io);
  assert.equal(code, 1);
  assert.match(io.stderr.join("\n"), /cannot associate with ANY-SCP@127\.0\.0\.1/);
});

Deno.test("find --model worklist with a nested sequence key prints the MR items and a summary", async () => {
  await withWorklistScp(6, async (port) => {
    const io = recordingIo();
    const code = await run([
      "find",
      `127.0.0.1:${port}`,
      "--model",
      "worklist",
      "-k",
      "AccessionNumber=",
      "-k",
      "ScheduledProcedureStepSequence[0].Modality=MR",
    ], io);
    assert.equal(code, 0, io.stderr.join("\n"));
    assert.deepEqual(io.stdout, [
      "AccessionNumber=A1 ScheduledProcedureStepSequence[0].Modality=MR",
      "AccessionNumber=A3 ScheduledProcedureStepSequence[0].Modality=MR",
      "AccessionNumber=A5 ScheduledProcedureStepSequence[0].Modality=MR",
    ]);
    assert.match(io.stderr.join("\n"), /3 match\(es\) from ANY-SCP@/);
  });
});

Deno.test("find stopped by Ctrl-C (io.signal) sends C-CANCEL, releases, says cancelled and exits 1", async () => {
  await withWorklistScp(300, async (port) => {
    const controller = new AbortController();
    const io = recordingIo(controller.signal);
    const out = io.out;
    io.out = (line: string) => {
      out(line);
      controller.abort();
    };
    const code = await main([`127.0.0.1:${port}`, "--model", "worklist", "-k", "PatientID"], io);
    assert.equal(code, 1);
    assert.ok(io.stdout.length >= 1 && io.stdout.length < 300, `${io.stdout.length} lines`);
    assert.match(io.stderr.join("\n"), /cancelled after \d+ match\(es\)/);
  });
});

if (await requireDcmtk(["dcmqrscp", "dcmqridx"], "tests/cli/find_test.ts")) {
  Deno.test("DCMTK: find --level STUDY --json against dcmqrscp prints one DICOM JSON object per study", async () => {
    const server = await startDcmqrscp();
    try {
      const io = recordingIo();
      const code = await main([
        `127.0.0.1:${server.port}`,
        "--aec",
        server.aeTitle,
        "--level",
        "STUDY",
        "-k",
        "StudyInstanceUID=",
        "-k",
        "PatientID=QRPID1",
        "--json",
      ], io);
      assert.equal(code, 0, io.stderr.join("\n"));
      const studies = io.stdout.map((line) => JSON.parse(line)["0020000D"].Value[0]).sort();
      assert.deepEqual(
        studies,
        [...new Set(QR_ARCHIVE.filter((i) => i.patientId === "QRPID1").map((i) => i.study))].sort(),
      );
      assert.match(io.stderr.join("\n"), /2 match\(es\) from QRSCP@/);
    } finally {
      await server.stop();
    }
  });

  Deno.test("DCMTK: find --level PATIENT (patient root by default) prints each patient as Keyword=value", async () => {
    const server = await startDcmqrscp();
    try {
      const io = recordingIo();
      const code = await main([
        `127.0.0.1:${server.port}`,
        "--aec",
        server.aeTitle,
        "--level",
        "PATIENT",
        "-k",
        "PatientID",
        "-k",
        "PatientName=Patient^Number2",
      ], io);
      assert.equal(code, 0, io.stderr.join("\n"));
      assert.equal(io.stdout.length, 1);
      assert.match(io.stdout[0], /PatientName=Patient\^Number2 PatientID=QRPID2/);
    } finally {
      await server.stop();
    }
  });
}

for (const explicit of [true, false]) {
  Deno.test(`scp ${explicit ? "--worklist DIR" : "with the default <dir>/worklist"} answers find --model worklist from the items there`, async () => {
    const dir = await Deno.makeTempDir();
    const worklist = explicit ? `${dir}/items` : `${dir}/store/worklist`;
    await Deno.mkdir(worklist, { recursive: true });
    await Deno.writeTextFile(
      `${worklist}/one.json`,
      toJson(fromKeywords({
        AccessionNumber: "SCPACC",
        ScheduledProcedureStepSequence: [{ Modality: "US" }],
      })),
    );
    try {
      await withCliScp([
        "--dir",
        `${dir}/store`,
        ...(explicit ? ["--worklist", worklist] : []),
      ], async (port) => {
        const io = recordingIo();
        const code = await run([
          "find",
          `127.0.0.1:${port}`,
          "--model",
          "worklist",
          "-k",
          "AccessionNumber",
          "-k",
          "ScheduledProcedureStepSequence[0].Modality=US",
        ], io);
        assert.equal(code, 0, io.stderr.join("\n"));
        assert.deepEqual(io.stdout, [
          "AccessionNumber=SCPACC ScheduledProcedureStepSequence[0].Modality=US",
        ]);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("find as a process stopped with SIGINT sends C-CANCEL, releases, says cancelled and exits 1", async () => {
  let cancelled = false;
  let released = false;
  const slow: Service = {
    name: "slow-worklist",
    sopClasses: [{
      abstractSyntax: MODALITY_WORKLIST_FIND,
      transferSyntaxes: [TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN],
    }],
    async handle(request: ServiceRequest): Promise<ServiceResponse> {
      await request.dataSet?.cancel();
      for (let n = 1; n <= 1000 && !request.signal.aborted; n++) {
        const match = await writeDataSet(fromKeywords({ AccessionNumber: `S${n}` }), {
          transferSyntax: request.transferSyntax,
        });
        await request.sendPending({ status: 0xff00, dataSet: match });
        await new Promise((r) => setTimeout(r, 50));
      }
      cancelled = request.signal.aborted;
      return { status: cancelled ? 0xfe00 : 0x0000 };
    },
  };
  const scp = new Scp({ aeTitle: "SLOW", port: 0, hostname: "127.0.0.1", services: [slow] });
  scp.on("association-released", () => (released = true));
  await scp.listen();
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "find",
        `127.0.0.1:${scp.port}`,
        "--model",
        "worklist",
        "-k",
        "AccessionNumber",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("AccessionNumber=S2")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    child.kill("SIGINT");
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    const status = await child.status;
    const stderr = new TextDecoder().decode(
      new Uint8Array(await new Response(child.stderr).arrayBuffer()),
    );
    assert.equal(status.code, 1, stderr);
    assert.match(stderr, /cancelled after \d+ match\(es\)/);
    assert.ok(cancelled, "the SCP saw the C-CANCEL-RQ");
    assert.ok(seen.split("\n").filter((l) => l.startsWith("AccessionNumber=")).length < 1000);
    const deadline = Date.now() + 5000;
    while (!released && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(released, "the association was released");
  } finally {
    await scp.close({ timeoutMs: 1000 });
  }
});
