// DCMTK's findscu against our C-FIND SCP over a generated archive. NEEDS DCMTK (findscu,
// dcmdump): skipped with a loud banner when missing, a failure when CI=true.
import assert from "node:assert/strict";
import { Scp } from "../../src/scp.ts";
import { queryRetrieveFind, type QueryRetrieveFindOptions } from "../../src/services/qr_find.ts";
import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
} from "../../src/dataset/transfer_syntax.ts";
import {
  instanceUid,
  seriesUid,
  slowIndex,
  studyUid,
  TOTALS,
  withIndexedArchive,
  writeArchive,
} from "../store/_archive.ts";
import { hasTool, requireDcmtk, runDcmtk } from "./_dcmtk.ts";
import { run } from "../../cli/main.ts";
import { recordingIo } from "../cli/_io.ts";
import { fromKeywords } from "../../src/dataset/dataset.ts";
import { writePart10 } from "../../src/dataset/part10.ts";

const haveDcmtk = await requireDcmtk(["findscu", "dcmdump"], "tests/interop/findscu_test.ts");

/** Runs findscu with `args` against our SCP; returns the extracted responses as dcmdump text. */
async function findscu(
  port: number,
  args: string[],
): Promise<{ code: number; responses: string[]; log: string }> {
  const out = await Deno.makeTempDir({ prefix: "dimse-findscu-" });
  try {
    const result = await runDcmtk("findscu", [
      "-v",
      "-aet",
      "FINDSCU",
      "-aec",
      "DIMSE",
      "-X",
      "-od",
      out,
      ...args,
      "127.0.0.1",
      String(port),
    ]);
    const files = [];
    for await (const entry of Deno.readDir(out)) files.push(entry.name);
    files.sort();
    const responses = [];
    for (const name of files) {
      const dump = await runDcmtk("dcmdump", [`${out}/${name}`]);
      responses.push(dump.stdout);
    }
    return { code: result.code, responses, log: result.stdout + result.stderr };
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

/** Runs `fn` with a listening SCP "DIMSE" that has the C-FIND service with `options`. */
async function withFindScp(
  options: QueryRetrieveFindOptions,
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const scp = new Scp({
    aeTitle: "DIMSE",
    port: 0,
    hostname: "127.0.0.1",
    services: [queryRetrieveFind(options)],
  });
  await scp.listen();
  try {
    await fn(scp.port);
  } finally {
    await scp.close({ timeoutMs: 1000 });
  }
}

function keys(...pairs: string[]): string[] {
  return pairs.flatMap((p) => ["-k", p]);
}

Deno.test({
  name: "DCMTK: findscu gets the expected matches from our C-FIND SCP (study and patient root)",
  ignore: !haveDcmtk,
  async fn() {
    await withIndexedArchive("dimse-findscu-store-", async (index) => {
      await withFindScp({ index, retrieveAeTitle: "DIMSE" }, async (port) => {
        const cases: [string, string[], number, string[]][] = [
          [
            "all studies",
            ["-S", ...keys("QueryRetrieveLevel=STUDY", "StudyInstanceUID")],
            TOTALS
              .studies,
            [],
          ],
          [
            "wildcard name",
            ["-S", ...keys("QueryRetrieveLevel=STUDY", "PatientName=Doe*", "StudyInstanceUID")],
            3,
            ["Doe^"],
          ],
          [
            "date range",
            ["-S", ...keys("QueryRetrieveLevel=STUDY", "StudyDate=20230201-20231231")],
            2,
            ["20230220", "20230301"],
          ],
          [
            "open date range",
            ["-S", ...keys("QueryRetrieveLevel=STUDY", "StudyDate=20240101-")],
            1,
            ["20240115"],
          ],
          [
            "UID list",
            [
              "-S",
              ...keys(
                "QueryRetrieveLevel=STUDY",
                `StudyInstanceUID=${studyUid(0)}\\${studyUid(2)}`,
              ),
            ],
            2,
            [studyUid(0), studyUid(2)],
          ],
          [
            "modalities in study with counts",
            [
              "-S",
              ...keys(
                "QueryRetrieveLevel=STUDY",
                "ModalitiesInStudy=MR",
                "NumberOfStudyRelatedInstances",
              ),
            ],
            1,
            ["(0020,1208) IS [4]"],
          ],
          [
            "series of a study",
            [
              "-S",
              ...keys("QueryRetrieveLevel=SERIES", `StudyInstanceUID=${studyUid(0)}`, "Modality"),
            ],
            2,
            ["[CT]", "[PR]"],
          ],
          [
            "images of a series",
            [
              "-S",
              ...keys(
                "QueryRetrieveLevel=IMAGE",
                `StudyInstanceUID=${studyUid(1)}`,
                `SeriesInstanceUID=${seriesUid(1, 1)}`,
                "SOPInstanceUID",
              ),
            ],
            2,
            [],
          ],
          [
            "patients, patient root",
            ["-P", ...keys("QueryRetrieveLevel=PATIENT", "PatientName", "PatientID=PID00?")],
            3,
            ["Smith^Anna"],
          ],
          [
            "studies of a patient, patient root",
            ["-P", ...keys("QueryRetrieveLevel=STUDY", "PatientID=PID001", "StudyDescription")],
            2,
            ["CT Chest", "MR Brain"],
          ],
          [
            "retrieve AE title and availability",
            [
              "-S",
              ...keys(
                "QueryRetrieveLevel=STUDY",
                "AccessionNumber=ACC1",
                "RetrieveAETitle",
                "InstanceAvailability",
              ),
            ],
            1,
            ["(0008,0054) AE [DIMSE]", "(0008,0056) CS [ONLINE]"],
          ],
          [
            "implicit VR little endian only",
            ["-S", "-xi", ...keys("QueryRetrieveLevel=STUDY", "AccessionNumber=ACC3")],
            1,
            ["ACC3"],
          ],
        ];
        for (const [why, args, expected, texts] of cases) {
          const { code, responses, log } = await findscu(port, args);
          assert.equal(code, 0, `${why}: findscu failed\n${log}`);
          assert.equal(responses.length, expected, `${why}\n${log}`);
          const all = responses.join("\n");
          for (const text of texts) {
            assert.ok(all.includes(text), `${why}: no "${text}" in\n${all}`);
          }
          for (const r of responses) {
            assert.match(r, /\(0008,0052\) CS \[(STUDY|SERIES|IMAGE|PATIENT)/);
          }
        }
      });
    });
  },
});

Deno.test({
  name: "DCMTK: findscu --cancel after one response gets the final Cancel status",
  ignore: !haveDcmtk,
  async fn() {
    await withIndexedArchive("dimse-findscu-store-", async (index) => {
      await withFindScp({ index: slowIndex(index, 100) }, async (port) => {
        const { code, log, responses } = await findscu(port, [
          "-S",
          "--cancel",
          "1",
          ...keys("QueryRetrieveLevel=STUDY", "StudyInstanceUID"),
        ]);
        assert.equal(code, 0, log);
        assert.match(log, /Final Find Response \(Cancel/, log);
        assert.ok(responses.length < TOTALS.studies, log);
      });
    });
  },
});

async function waitForLine(lines: () => string[], pattern: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + 15_000;
  while (true) {
    for (const line of lines()) {
      const match = pattern.exec(line);
      if (match) return match;
    }
    if (Date.now() > deadline) {
      throw new Error(`No line matching ${pattern}:\n${lines().join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs `dimse scp` in-process over `dir` until `stop` is called. */
async function startCliScp(dir: string, extra: string[] = []) {
  const controller = new AbortController();
  const io = recordingIo(controller.signal);
  const exited = run(["scp", "--port", "0", "--http", "off", "--dir", dir, ...extra], io);
  const lines = () => [...io.stdout, ...io.stderr];
  const [, port] = await Promise.race([
    waitForLine(lines, /listening on .*:(\d+) as/),
    exited.then((code) => {
      throw new Error(`scp exited with ${code}:\n${lines().join("\n")}`);
    }),
  ]);
  return {
    port: Number(port),
    lines,
    async stop(): Promise<number> {
      controller.abort();
      return await exited;
    },
  };
}

Deno.test({
  name:
    "DCMTK: dimse scp --reindex makes a folder of Part 10 files queryable, and a stored instance is findable once acknowledged",
  ignore: !haveDcmtk || !(await hasTool("storescu")),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "dimse-cli-index-" });
    const incoming = await Deno.makeTempDir({ prefix: "dimse-cli-incoming-" });
    try {
      await writeArchive(dir);
      const first = await startCliScp(dir, ["--reindex"]);
      try {
        assert.ok(first.lines().some((l) => /index: 11 instance\(s\); 11 added/.test(l)));
        const studies = await findscu(first.port, [
          "-S",
          ...keys("QueryRetrieveLevel=STUDY", "StudyInstanceUID"),
        ]);
        assert.equal(studies.responses.length, TOTALS.studies, studies.log);
        const uid = "1.2.826.0.1.3680043.10.543.99.1.1";
        const file = `${incoming}/new.dcm`;
        await Deno.writeFile(
          file,
          await writePart10(fromKeywords({
            SOPClassUID: "1.2.840.10008.5.1.4.1.1.7",
            SOPInstanceUID: uid,
            PatientID: "PID009",
            PatientName: "New^Patient",
            StudyInstanceUID: "1.2.826.0.1.3680043.10.543.99",
            SeriesInstanceUID: "1.2.826.0.1.3680043.10.543.99.1",
            Modality: "OT",
          })),
        );
        const stored = await runDcmtk("storescu", [
          "-aec",
          "DIMSE",
          "127.0.0.1",
          String(first.port),
          file,
        ]);
        assert.equal(stored.code, 0, stored.stdout + stored.stderr);
        const found = await findscu(first.port, [
          "-P",
          ...keys("QueryRetrieveLevel=PATIENT", "PatientID=PID009", "PatientName"),
        ]);
        assert.equal(found.responses.length, 1, found.log);
        assert.ok(found.responses[0].includes("New^Patient"));
      } finally {
        assert.equal(await first.stop(), 0);
      }
      // Restart without --reindex: the start check keeps the rows, drops the one whose file went.
      await Deno.remove(`${dir}/${instanceUid(3, 0, 0)}.dcm`);
      const second = await startCliScp(dir);
      try {
        assert.ok(
          second.lines().some((l) => /index: 11 instance\(s\); 0 added, 1 dropped/.test(l)),
          second.lines().join("\n"),
        );
        const studies = await findscu(second.port, [
          "-S",
          ...keys("QueryRetrieveLevel=STUDY", "StudyInstanceUID"),
        ]);
        assert.equal(studies.responses.length, TOTALS.studies, "one study gone, one added");
        const gone = await findscu(second.port, [
          "-S",
          ...keys("QueryRetrieveLevel=STUDY", `StudyInstanceUID=${studyUid(3)}`),
        ]);
        assert.equal(gone.responses.length, 0);
      } finally {
        assert.equal(await second.stop(), 0);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(incoming, { recursive: true });
    }
  },
});

Deno.test({
  name: "DCMTK: findscu gets matches over deflated explicit VR LE and explicit VR BE contexts",
  ignore: !haveDcmtk,
  async fn() {
    await withIndexedArchive("dimse-findscu-store-", async (index) => {
      for (
        const [ts, option, name] of [
          [DeflatedExplicitVrLittleEndian, "-xd", "DeflatedLittleEndianExplicit"],
          [ExplicitVrBigEndian, "-xb", "BigEndianExplicit"],
        ]
      ) {
        await withFindScp({ index, transferSyntaxes: [ts] }, async (port) => {
          const { code, responses, log } = await findscu(port, [
            "-d",
            "-S",
            option,
            ...keys("QueryRetrieveLevel=STUDY", "AccessionNumber=ACC2", "PatientName"),
          ]);
          assert.equal(code, 0, log);
          assert.match(log, new RegExp(`Accepted Transfer Syntax: =${name}`), log);
          assert.equal(responses.length, 1, log);
          assert.ok(responses[0].includes("Doe^John"), responses[0]);
        });
      }
    });
  },
});
