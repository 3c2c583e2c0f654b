import assert from "node:assert/strict";
import { fromKeywords, type KeywordDataSet, toKeywords } from "../../src/dataset/dataset.ts";
import type { DataSet } from "../../src/dataset/dataset.ts";
import type { IndexedInstance, InformationModel } from "../../src/store/instance_index.ts";
import { readInstance } from "../../src/store/read_instance.ts";
import { reindex } from "../../src/store/reindex.ts";
import {
  INDEX_FILE_NAME,
  openSqliteIndex,
  type SqliteIndex,
} from "../../src/store/sqlite_index.ts";
import {
  instanceUid,
  PR,
  SC,
  seriesUid,
  studyUid,
  TOTALS,
  withIndexedArchive,
} from "./_archive.ts";

function withArchive(run: (index: SqliteIndex, dir: string) => Promise<void>): Promise<void> {
  return withIndexedArchive("dimse-index-", run);
}

async function find(
  index: SqliteIndex,
  model: InformationModel,
  keys: KeywordDataSet,
): Promise<KeywordDataSet[]> {
  const identifier: DataSet = fromKeywords(keys);
  const level = String(keys.QueryRetrieveLevel) as "PATIENT";
  const out: KeywordDataSet[] = [];
  for await (const match of index.find({ model, level, identifier })) out.push(toKeywords(match));
  return out;
}

Deno.test("A full reindex of a folder of Part 10 files indexes every patient, study, series and instance", async () => {
  await withArchive(async (index) => {
    assert.deepEqual(await index.counts(), TOTALS);
  });
});

Deno.test("C-FIND matching over the index gives the expected number of matches per query", async () => {
  await withArchive(async (index) => {
    const cases: [InformationModel, KeywordDataSet, number, string][] = [
      ["patient", { QueryRetrieveLevel: "PATIENT", PatientName: "" }, 3, "all patients"],
      ["patient", { QueryRetrieveLevel: "PATIENT", PatientName: "Doe*" }, 2, "wildcard name"],
      ["patient", { QueryRetrieveLevel: "PATIENT", PatientName: "doe^jane" }, 1, "name case"],
      ["patient", { QueryRetrieveLevel: "PATIENT", PatientSex: "F" }, 2, "sex"],
      ["study", { QueryRetrieveLevel: "STUDY", StudyDate: "" }, 4, "all studies"],
      ["study", { QueryRetrieveLevel: "STUDY", StudyDate: "20230101-20231231" }, 3, "date range"],
      ["study", { QueryRetrieveLevel: "STUDY", StudyDate: "20240101-" }, 1, "open range"],
      ["study", { QueryRetrieveLevel: "STUDY", StudyDate: "-20230131" }, 1, "open start"],
      [
        "study",
        { QueryRetrieveLevel: "STUDY", StudyInstanceUID: `${studyUid(0)}\\${studyUid(3)}` },
        2,
        "list of UIDs",
      ],
      ["study", { QueryRetrieveLevel: "STUDY", ModalitiesInStudy: "CT" }, 2, "modalities"],
      ["study", { QueryRetrieveLevel: "STUDY", ModalitiesInStudy: "MR\\US" }, 2, "two modalities"],
      ["study", { QueryRetrieveLevel: "STUDY", PatientID: "PID001" }, 2, "patient's studies"],
      ["study", { QueryRetrieveLevel: "STUDY", ReferringPhysicianName: "house*" }, 2, "physician"],
      ["study", { QueryRetrieveLevel: "STUDY", StudyTime: "1000-1500" }, 2, "time range"],
      ["study", { QueryRetrieveLevel: "STUDY", AccessionNumber: "ACC?" }, 4, "? wildcard"],
      ["study", { QueryRetrieveLevel: "SERIES", StudyInstanceUID: studyUid(1) }, 2, "series"],
      ["study", { QueryRetrieveLevel: "SERIES", Modality: "CT" }, 2, "series by modality"],
      ["study", { QueryRetrieveLevel: "SERIES", BodyPartExamined: "ABDOMEN" }, 2, "body part"],
      [
        "study",
        {
          QueryRetrieveLevel: "IMAGE",
          StudyInstanceUID: studyUid(0),
          SeriesInstanceUID: seriesUid(0, 0),
        },
        3,
        "instances of a series",
      ],
      ["study", { QueryRetrieveLevel: "IMAGE", SOPClassUID: PR }, 1, "instance by SOP class"],
      ["study", { QueryRetrieveLevel: "IMAGE", InstanceNumber: "2" }, 4, "instance number"],
      ["patient", { QueryRetrieveLevel: "STUDY", PatientID: "PID002" }, 1, "patient root study"],
    ];
    for (const [model, keys, expected, why] of cases) {
      const matches = await find(index, model, keys);
      assert.equal(matches.length, expected, `${why}: ${JSON.stringify(keys)}`);
    }
  });
});

Deno.test("Matches hold the requested keys, computed counts and the Query/Retrieve Level", async () => {
  await withArchive(async (index) => {
    const [study] = await find(index, "study", {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: studyUid(0),
      PatientName: "",
      StudyDate: "",
      ModalitiesInStudy: "",
      SOPClassesInStudy: "",
      NumberOfStudyRelatedSeries: "",
      NumberOfStudyRelatedInstances: "",
      NumberOfPatientRelatedStudies: "",
      AdditionalPatientHistory: "",
      InstitutionName: "",
    });
    assert.equal(study.QueryRetrieveLevel, "STUDY");
    assert.equal(study.SpecificCharacterSet, "ISO_IR 100");
    assert.equal(study.PatientName, "Doe^John");
    assert.equal(study.StudyDate, "20230105");
    assert.equal(study.ModalitiesInStudy, "CT\\PR");
    assert.equal(study.SOPClassesInStudy, `${PR}\\${SC}`);
    assert.equal(study.NumberOfStudyRelatedSeries, 2);
    assert.equal(study.NumberOfStudyRelatedInstances, 4);
    assert.equal(study.NumberOfPatientRelatedStudies, 2);
    assert.equal(study.AdditionalPatientHistory, null, "unknown keys are zero length");
    assert.equal(study.InstitutionName, null, "keys below the level are zero length");
    const [patient] = await find(index, "patient", {
      QueryRetrieveLevel: "PATIENT",
      PatientID: "PID001",
      NumberOfPatientRelatedSeries: "",
      NumberOfPatientRelatedInstances: "",
    });
    assert.equal(patient.NumberOfPatientRelatedSeries, 4);
    assert.equal(patient.NumberOfPatientRelatedInstances, 8);
    const [series] = await find(index, "study", {
      QueryRetrieveLevel: "SERIES",
      SeriesInstanceUID: seriesUid(1, 1),
      NumberOfSeriesRelatedInstances: "",
    });
    assert.equal(series.NumberOfSeriesRelatedInstances, 2);
  });
});

Deno.test("find is lazy: stopping after the first match leaves the rest unread", async () => {
  await withArchive(async (index) => {
    const identifier = fromKeywords({ QueryRetrieveLevel: "IMAGE", SOPInstanceUID: "" });
    let n = 0;
    for await (const _ of index.find({ model: "study", level: "IMAGE", identifier })) {
      n++;
      break;
    }
    assert.equal(n, 1);
    // The index stays usable after an abandoned query.
    assert.deepEqual(await index.counts(), TOTALS);
  });
});

Deno.test("instances() yields every instance below the matching entities, get() finds one by UID", async () => {
  await withArchive(async (index, dir) => {
    const identifier = fromKeywords({ QueryRetrieveLevel: "STUDY", StudyInstanceUID: studyUid(1) });
    const found = [];
    for await (const instance of index.instances({ model: "study", level: "STUDY", identifier })) {
      found.push(instance.sopInstanceUid);
    }
    assert.deepEqual(found.sort(), [
      instanceUid(1, 0, 0),
      instanceUid(1, 0, 1),
      instanceUid(1, 1, 0),
      instanceUid(1, 1, 1),
    ]);
    const byPatient = fromKeywords({ QueryRetrieveLevel: "PATIENT", PatientID: "PID001" });
    let n = 0;
    for await (
      const _ of index.instances({ model: "patient", level: "PATIENT", identifier: byPatient })
    ) n++;
    assert.equal(n, 8);
    const one = await index.get(instanceUid(0, 1, 0));
    assert.ok(one);
    assert.equal(one.sopClassUid, PR);
    assert.equal(one.path, `${instanceUid(0, 1, 0)}.dcm`);
    assert.equal(one.transferSyntaxUid, "1.2.840.10008.1.2.1");
    assert.equal(one.size, (await Deno.stat(`${dir}/${one.path}`)).size);
    assert.equal(toKeywords(one.dataSet).PatientID, "PID001");
    assert.equal(await index.get("1.2.3.4.5.6.7"), undefined);
  });
});

Deno.test("Removing the last instance of a series removes its series, study and patient", async () => {
  await withArchive(async (index) => {
    await index.remove(instanceUid(3, 0, 0));
    assert.deepEqual(await index.counts(), {
      patients: 2,
      studies: 3,
      series: 5,
      instances: 10,
    });
    await index.remove(instanceUid(0, 0, 0));
    assert.deepEqual((await index.counts()).series, 5, "a series with instances left stays");
  });
});

Deno.test("The start check drops rows whose file is gone and adds files that have no row", async () => {
  await withArchive(async (index, dir) => {
    await Deno.remove(`${dir}/${instanceUid(3, 0, 0)}.dcm`);
    const stray = await readInstance(dir, `${instanceUid(2, 0, 1)}.dcm`);
    await index.remove(stray.sopInstanceUid);
    await Deno.writeTextFile(`${dir}/notes.txt`, "not DICOM");
    const result = await reindex(index, dir);
    assert.equal(result.removed, 1);
    assert.equal(result.added, 1);
    assert.equal(result.kept, 9);
    assert.deepEqual(result.failed, ["notes.txt"]);
    assert.deepEqual(await index.counts(), { patients: 2, studies: 3, series: 5, instances: 10 });
    assert.ok(await index.get(stray.sopInstanceUid));
  });
});

Deno.test("The index database lives in the store folder and survives reopening", async () => {
  await withArchive(async (index, dir) => {
    assert.ok((await Deno.stat(`${dir}/${INDEX_FILE_NAME}`)).isFile);
    const other = openSqliteIndex(dir);
    try {
      assert.deepEqual(await other.counts(), TOTALS);
    } finally {
      await other.close();
    }
    assert.deepEqual(await index.counts(), TOTALS);
  });
});

Deno.test("Re-adding an instance under another series moves it and prunes the emptied series", async () => {
  await withArchive(async (index, dir) => {
    const moved = await readInstance(dir, `${instanceUid(3, 0, 0)}.dcm`);
    moved.dataSet = {
      ...moved.dataSet,
      ...fromKeywords({ SeriesInstanceUID: seriesUid(2, 0), StudyInstanceUID: studyUid(2) }),
    };
    await index.add(moved);
    const counts = await index.counts();
    assert.equal(counts.instances, TOTALS.instances);
    assert.equal(counts.series, TOTALS.series - 1);
    assert.equal(counts.studies, TOTALS.studies - 1);
  });
});

Deno.test("The start check skips JSON records and leaves a second copy of an indexed instance alone", async () => {
  await withArchive(async (index, dir) => {
    await Deno.mkdir(`${dir}/mpps`);
    await Deno.writeTextFile(`${dir}/mpps/1.2.3.json`, "{}");
    const original = `${instanceUid(0, 0, 0)}.dcm`;
    await Deno.copyFile(`${dir}/${original}`, `${dir}/${instanceUid(0, 0, 0)}.1.dcm`);
    const result = await reindex(index, dir);
    assert.deepEqual(result.failed, []);
    assert.deepEqual(result.duplicates, [`${instanceUid(0, 0, 0)}.1.dcm`]);
    assert.equal((await index.get(instanceUid(0, 0, 0)))?.path, original);
    assert.deepEqual(await index.counts(), TOTALS);
  });
});

Deno.test("A full reindex reads files in subfolders and replaces rows with what the files hold", async () => {
  await withArchive(async (index, dir) => {
    const uid = instanceUid(0, 0, 0);
    await Deno.mkdir(`${dir}/a/b`, { recursive: true });
    await Deno.rename(`${dir}/${uid}.dcm`, `${dir}/a/b/${uid}.dcm`);
    const result = await reindex(index, dir, { mode: "full" });
    assert.equal(result.added, TOTALS.instances);
    assert.equal(result.removed, 0, "the row moved with its file");
    assert.equal((await index.get(uid))?.path, `a/b/${uid}.dcm`);
    assert.deepEqual(await index.counts(), TOTALS);
  });
});

Deno.test("A study re-added under another patient leaves no patient without studies", async () => {
  await withArchive(async (index, dir) => {
    const moved = await readInstance(dir, `${instanceUid(3, 0, 0)}.dcm`);
    moved.dataSet = { ...moved.dataSet, ...fromKeywords({ PatientID: "PID002" }) };
    await index.add(moved);
    const counts = await index.counts();
    assert.deepEqual(counts, { ...TOTALS, patients: TOTALS.patients - 1 });
    const patients = await find(index, "patient", { QueryRetrieveLevel: "PATIENT", PatientID: "" });
    assert.deepEqual(patients.map((p) => p.PatientID).sort(), ["PID001", "PID002"]);
  });
});

Deno.test("Rows added without durability are seen at once by get, find and counts, and written by close", async () => {
  await withArchive(async (index, dir) => {
    const copy = await readInstance(dir, `${instanceUid(0, 0, 0)}.dcm`);
    const uid = `${instanceUid(0, 0, 0)}.99`;
    copy.sopInstanceUid = uid;
    copy.path = `${uid}.dcm`;
    copy.dataSet = { ...copy.dataSet, ...fromKeywords({ SOPInstanceUID: uid }) };
    await index.add(copy, { durable: false });
    // Queued: another connection does not see it yet; this one does.
    const other = openSqliteIndex(dir);
    try {
      assert.equal(await other.get(uid), undefined);
    } finally {
      await other.close();
    }
    assert.equal((await index.get(uid))?.path, `${uid}.dcm`);
    const matches = await find(index, "study", {
      QueryRetrieveLevel: "IMAGE",
      StudyInstanceUID: studyUid(0),
      SeriesInstanceUID: seriesUid(0, 0),
      SOPInstanceUID: uid,
    });
    assert.equal(matches.length, 1);
    assert.deepEqual(await index.counts(), { ...TOTALS, instances: TOTALS.instances + 1 });
    const later = `${instanceUid(0, 0, 0)}.98`;
    await index.add({ ...copy, sopInstanceUid: later, path: `${later}.dcm` }, { durable: false });
    await index.close();
    const reopened = openSqliteIndex(dir);
    try {
      assert.equal((await reopened.get(later))?.path, `${later}.dcm`);
      assert.deepEqual(await reopened.counts(), { ...TOTALS, instances: TOTALS.instances + 2 });
    } finally {
      await reopened.close();
    }
  });
});

/**
 * An archive, rows copied from one of its instances under other SOP Instance UIDs, and a second
 * connection to its database, which sees only the rows the index has written.
 */
function withQueueWatcher(
  run: (
    index: SqliteIndex,
    other: SqliteIndex,
    rowAs: (uid: string) => IndexedInstance,
  ) => Promise<void>,
): Promise<void> {
  return withArchive(async (index, dir) => {
    const copy = await readInstance(dir, `${instanceUid(0, 0, 0)}.dcm`);
    const other = openSqliteIndex(dir);
    try {
      await run(index, other, (uid) => ({ ...copy, sopInstanceUid: uid, path: `${uid}.dcm` }));
    } finally {
      await other.close();
    }
  });
}

Deno.test("Queued rows wait while adds keep coming and are written together once 4096 are queued", async () => {
  await withQueueWatcher(async (index, other, rowAs) => {
    const uidOf = (n: number) => `${instanceUid(0, 0, 0)}.5${n}`;
    // No macrotask runs between these adds: no timer can write the queue meanwhile.
    for (let n = 0; n < 4095; n++) await index.add(rowAs(uidOf(n)), { durable: false });
    assert.equal(await other.get(uidOf(0)), undefined, "4095 queued rows are not written yet");
    assert.equal((await index.get(uidOf(4094)))?.path, `${uidOf(4094)}.dcm`);
    await index.add(rowAs(uidOf(4095)), { durable: false });
    // The 4096th has the queue written in the next task, without waiting for a pause.
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal((await other.get(uidOf(0)))?.path, `${uidOf(0)}.dcm`);
    assert.equal((await other.get(uidOf(4095)))?.path, `${uidOf(4095)}.dcm`);
    assert.deepEqual(await other.counts(), { ...TOTALS, instances: TOTALS.instances + 4096 });
  });
});

Deno.test("A queued row is written within about a second even while adds never pause", async () => {
  await withQueueWatcher(async (index, other, rowAs) => {
    const first = `${instanceUid(0, 0, 0)}.60`;
    await index.add(rowAs(first), { durable: false });
    // An add every 5 ms (well inside the 20 ms pause), for up to 3 s.
    let seen = false;
    for (let n = 0; n < 600 && !seen; n++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      await index.add(rowAs(`${instanceUid(0, 0, 0)}.61${n}`), { durable: false });
      seen = (await other.get(first)) !== undefined;
    }
    assert.ok(seen, "the oldest queued row reached the database while adds went on");
  });
});

Deno.test("Rows added without durability are written by themselves within moments", async () => {
  await withQueueWatcher(async (index, other, rowAs) => {
    const uid = `${instanceUid(0, 0, 0)}.97`;
    await index.add(rowAs(uid), { durable: false });
    let seen = false;
    for (let i = 0; i < 100 && !seen; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      seen = (await other.get(uid)) !== undefined;
    }
    assert.ok(seen, "the queued row reached the database without a read on its connection");
  });
});
