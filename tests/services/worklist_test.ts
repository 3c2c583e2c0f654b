// The Modality Worklist SCP over a folder of items, queried by our find and (NEEDS DCMTK:
// findscu; those tests are skipped with a loud banner when it is missing, a failure under
// CI=true) by DCMTK's findscu -W.
import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import {
  type DataSet,
  fromKeywords,
  type KeywordDataSet,
  toJson,
  toKeywords,
} from "../../src/dataset/dataset.ts";
import { readWholePart10, writePart10 } from "../../src/dataset/part10.ts";
import { Scp } from "../../src/scp.ts";
import { QueryFailedError } from "../../src/services/query_retrieve_scu.ts";
import { MODALITY_WORKLIST_FIND, modalityWorklist } from "../../src/services/worklist.ts";
import { TransferSyntax } from "../../src/ul/uids.ts";
import { requireDcmtk, runDcmtk } from "../interop/_dcmtk.ts";
import { drainAbortingAfter } from "../_helpers/abort_after.ts";
import { withTempDir } from "../_helpers/temp_dir.ts";

const TS = [TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN, TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN];

function item(
  n: number,
  modality: string,
  date: string,
  time: string,
  station = "CT1",
): KeywordDataSet {
  return {
    SpecificCharacterSet: "ISO_IR 100",
    AccessionNumber: `ACC${n}`,
    PatientName: `Worklist^Patient${n}`,
    PatientID: `WLPID${n}`,
    PatientBirthDate: "19800101",
    PatientSex: "F",
    StudyInstanceUID: `1.2.826.0.1.3680043.10.999.${n}`,
    RequestedProcedureID: `RP${n}`,
    RequestedProcedureDescription: `Procedure ${n}`,
    ScheduledProcedureStepSequence: [{
      Modality: modality,
      ScheduledStationAETitle: station,
      ScheduledProcedureStepStartDate: date,
      ScheduledProcedureStepStartTime: time,
      ScheduledProcedureStepID: `SPS${n}`,
      ScheduledProcedureStepDescription: `Step ${n}`,
    }],
  };
}

/** Four items: 1 MR on 2024-03-01 09:00 (.json), 2 CT on 03-01 14:30 (.dcm), 3 MR on 03-02 08:00 (.json), 4 MR on 03-05 10:00 (.dcm). */
const ITEMS: KeywordDataSet[] = [
  item(1, "MR", "20240301", "090000"),
  item(2, "CT", "20240301", "143000"),
  item(3, "MR", "20240302", "080000", "MR1"),
  item(4, "MR", "20240305", "100000", "MR1"),
];

async function writeItems(dir: string, items: KeywordDataSet[]): Promise<void> {
  for (const [i, it] of items.entries()) {
    const ds = fromKeywords(it);
    if (i % 2 === 0) {
      await Deno.writeTextFile(`${dir}/item${i + 1}.json`, toJson(ds));
    } else {
      const withUids = {
        ...ds,
        ...fromKeywords({
          SOPClassUID: "1.2.840.10008.5.1.4.31",
          SOPInstanceUID: `1.2.826.0.1.3680043.10.998.${i + 1}`,
        }),
      };
      await Deno.writeFile(`${dir}/item${i + 1}.wl`, await writePart10(withUids));
    }
  }
}

async function withWorklist(
  items: KeywordDataSet[],
  body: (port: number, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dimse-worklist-" });
  await writeItems(dir, items);
  await Deno.writeTextFile(`${dir}/notes.txt`, "not a worklist item");
  const log: string[] = [];
  const scp = new Scp({
    aeTitle: "WLSCP",
    port: 0,
    hostname: "127.0.0.1",
    services: [modalityWorklist({ dir, log: (line) => log.push(line) })],
  });
  await scp.listen();
  try {
    await body(scp.port, dir);
  } finally {
    await scp.close({ timeoutMs: 1000 });
    await Deno.remove(dir, { recursive: true });
  }
}

async function query(port: number, keys: KeywordDataSet | DataSet): Promise<KeywordDataSet[]> {
  const assoc = await Association.connect({
    host: "127.0.0.1",
    port,
    presentationContexts: [{ abstractSyntax: MODALITY_WORKLIST_FIND, transferSyntaxes: TS }],
  });
  try {
    const out: KeywordDataSet[] = [];
    for await (const m of assoc.find("worklist", keys)) out.push(toKeywords(m));
    return out;
  } finally {
    await assoc.release();
  }
}

function accessions(matches: KeywordDataSet[]): string[] {
  return matches.map((m) => String(m.AccessionNumber)).sort();
}

Deno.test("worklist find with Scheduled Procedure Step Sequence Modality=MR returns the 3 MR items from .json and Part 10 files", async () => {
  await withWorklist(ITEMS, async (port) => {
    const matches = await query(port, {
      AccessionNumber: "",
      PatientName: "",
      ScheduledProcedureStepSequence: [{ Modality: "MR", ScheduledProcedureStepStartDate: "" }],
    });
    assert.deepEqual(accessions(matches), ["ACC1", "ACC3", "ACC4"]);
    const first = matches.find((m) => m.AccessionNumber === "ACC1")!;
    assert.equal(first.PatientName, "Worklist^Patient1");
    // Only the keys asked for come back (plus Specific Character Set), inside the item too.
    assert.equal(first.PatientID, undefined);
    const sps = first.ScheduledProcedureStepSequence as KeywordDataSet[];
    assert.deepEqual(sps, [{ Modality: "MR", ScheduledProcedureStepStartDate: "20240301" }]);
  });
});

Deno.test("worklist find with a date range on Scheduled Procedure Step Start Date matches inside the sequence item", async () => {
  await withWorklist(ITEMS, async (port) => {
    const matches = await query(port, {
      AccessionNumber: "",
      ScheduledProcedureStepSequence: [{ ScheduledProcedureStepStartDate: "20240301-20240302" }],
    });
    assert.deepEqual(accessions(matches), ["ACC1", "ACC2", "ACC3"]);
    const open = await query(port, {
      AccessionNumber: "",
      ScheduledProcedureStepSequence: [{ ScheduledProcedureStepStartDate: "20240302-" }],
    });
    assert.deepEqual(accessions(open), ["ACC3", "ACC4"]);
  });
});

Deno.test("worklist find with start date and time ranges matches them as one date-time range (from 03-01 12:00 to 03-02 09:00)", async () => {
  await withWorklist(ITEMS, async (port) => {
    const matches = await query(port, {
      AccessionNumber: "",
      ScheduledProcedureStepSequence: [{
        ScheduledProcedureStepStartDate: "20240301-20240302",
        ScheduledProcedureStepStartTime: "120000-090000",
      }],
    });
    assert.deepEqual(accessions(matches), ["ACC2", "ACC3"]);
  });
});

Deno.test("worklist find with station AE title and patient name wildcard combines the keys; an empty sequence key returns whole items", async () => {
  await withWorklist(ITEMS, async (port) => {
    const matches = await query(port, {
      PatientName: "Worklist^Patient*",
      AccessionNumber: "",
      ScheduledProcedureStepSequence: [{ ScheduledStationAETitle: "MR1" }],
    });
    assert.deepEqual(accessions(matches), ["ACC3", "ACC4"]);
    const whole = await query(port, {
      AccessionNumber: "ACC2",
      ScheduledProcedureStepSequence: [],
    });
    assert.equal(whole.length, 1);
    const sps = whole[0].ScheduledProcedureStepSequence as KeywordDataSet[];
    assert.equal(sps[0].ScheduledProcedureStepID, "SPS2");
    assert.equal(sps[0].Modality, "CT");
  });
});

Deno.test("worklist find with two Scheduled Procedure Step Sequence items is refused with A900", async () => {
  await withWorklist(ITEMS, async (port) => {
    await assert.rejects(
      () =>
        query(port, { ScheduledProcedureStepSequence: [{ Modality: "MR" }, { Modality: "CT" }] }),
      (error: unknown) => {
        assert.ok(error instanceof QueryFailedError);
        assert.equal(error.status, 0xa900);
        return true;
      },
    );
  });
});

Deno.test("worklist find over 300 items stopped after the first match sends C-CANCEL, ends with Cancel, and the association stays usable", async () => {
  const many = Array.from({ length: 300 }, (_, i) => item(i + 1, "MR", "20240301", "090000"));
  await withWorklist(many, async (port) => {
    const assoc = await Association.connect({
      host: "127.0.0.1",
      port,
      presentationContexts: [{ abstractSyntax: MODALITY_WORKLIST_FIND, transferSyntaxes: TS }],
    });
    const controller = new AbortController();
    const iterator = assoc.find("worklist", { AccessionNumber: "" }, { signal: controller.signal });
    const { count, result } = await drainAbortingAfter(iterator, controller, 1);
    assert.equal(result.status, 0xfe00);
    assert.ok(count < 300, `${count} matches before the cancel took effect`);
    let again = 0;
    for await (const _ of assoc.find("worklist", { AccessionNumber: "ACC7" })) again++;
    await assoc.release();
    assert.equal(again, 1);
  });
});

Deno.test("worklist items written by the Part 10 writer read back with their sequence (fixture sanity)", async () => {
  const bytes = await writePart10(fromKeywords({
    ...item(9, "US", "20240101", "080000"),
    SOPClassUID: "1.2.840.10008.5.1.4.31",
    SOPInstanceUID: "1.2.3.9",
  }));
  const { dataSet } = await readWholePart10([bytes]);
  const sps = toKeywords(dataSet).ScheduledProcedureStepSequence as KeywordDataSet[];
  assert.equal(sps[0].Modality, "US");
});

if (await requireDcmtk(["findscu"], "tests/services/worklist_test.ts")) {
  Deno.test("DCMTK: findscu -W with a sequence key Modality=MR gets the 3 MR items from our worklist SCP", async () => {
    await withWorklist(ITEMS, async (port) => {
      await withTempDir(async (out) => {
        const result = await runDcmtk("findscu", [
          "-W",
          "-aec",
          "WLSCP",
          "-X",
          "-od",
          out,
          "-k",
          "AccessionNumber",
          "-k",
          "PatientName",
          "-k",
          "ScheduledProcedureStepSequence[0].Modality=MR",
          "-k",
          "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate",
          "127.0.0.1",
          String(port),
        ]);
        assert.equal(result.code, 0, result.stderr + result.stdout);
        const found: string[] = [];
        for await (const e of Deno.readDir(out)) {
          const bytes = await Deno.readFile(`${out}/${e.name}`);
          const { dataSet } = await readWholePart10([bytes]);
          found.push(String(toKeywords(dataSet).AccessionNumber));
        }
        assert.deepEqual(found.sort(), ["ACC1", "ACC3", "ACC4"]);
      });
    });
  });

  Deno.test("DCMTK: findscu -W with a date range on Scheduled Procedure Step Start Date gets the items of those days", async () => {
    await withWorklist(ITEMS, async (port) => {
      const result = await runDcmtk("findscu", [
        "-W",
        "-v",
        "-k",
        "AccessionNumber",
        "-k",
        "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20240302-20240310",
        "127.0.0.1",
        String(port),
      ]);
      assert.equal(result.code, 0, result.stderr + result.stdout);
      const text = result.stdout + result.stderr;
      const accs = [...text.matchAll(/\(0008,0050\) SH \[(ACC\d+)\]/g)].map((m) => m[1]).sort();
      assert.deepEqual(accs, ["ACC3", "ACC4"]);
    });
  });
}
