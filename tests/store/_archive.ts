/**
 * A tiny generated archive for index and C-FIND tests: three patients, four studies, six series,
 * eleven instances, written as Part 10 files with our own writer (no pixel data).
 */
import { fromKeywords } from "../../src/dataset/dataset.ts";
import { writePart10 } from "../../src/dataset/part10.ts";
import type { DataSet } from "../../src/dataset/dataset.ts";
import type { IndexQuery, InstanceIndex } from "../../src/store/instance_index.ts";
import { reindex } from "../../src/store/reindex.ts";
import { openSqliteIndex, type SqliteIndex } from "../../src/store/sqlite_index.ts";

/** Secondary Capture Image Storage. */
export const SC = "1.2.840.10008.5.1.4.1.1.7";
/** Grayscale Softcopy Presentation State Storage. */
export const PR = "1.2.840.10008.5.1.4.1.1.11.1";

const ROOT = "1.2.826.0.1.3680043.10.543";

interface SeriesSpec {
  modality: string;
  number: number;
  instances: number;
  sopClass?: string;
  bodyPart?: string;
}

interface StudySpec {
  patient: number;
  date: string;
  time: string;
  accession: string;
  description: string;
  physician: string;
  series: SeriesSpec[];
}

/** The patients: name, ID, birth date, sex. */
export const PATIENTS = [
  { name: "Doe^John", id: "PID001", birthDate: "19700101", sex: "M" },
  { name: "Doe^Jane", id: "PID002", birthDate: "19800202", sex: "F" },
  { name: "Smith^Anna", id: "PID003", birthDate: "19900303", sex: "F" },
];

/** The studies and their series. */
export const STUDIES: StudySpec[] = [
  {
    patient: 0,
    date: "20230105",
    time: "101500",
    accession: "ACC1",
    description: "CT Chest",
    physician: "House^Gregory",
    series: [
      { modality: "CT", number: 1, instances: 3, bodyPart: "CHEST" },
      { modality: "PR", number: 2, instances: 1, sopClass: PR },
    ],
  },
  {
    patient: 0,
    date: "20230220",
    time: "140000",
    accession: "ACC2",
    description: "MR Brain",
    physician: "Wilson^James",
    series: [
      { modality: "MR", number: 1, instances: 2, bodyPart: "HEAD" },
      { modality: "MR", number: 2, instances: 2, bodyPart: "HEAD" },
    ],
  },
  {
    patient: 1,
    date: "20230301",
    time: "090000",
    accession: "ACC3",
    description: "CT Abdomen",
    physician: "House^Gregory",
    series: [{ modality: "CT", number: 1, instances: 2, bodyPart: "ABDOMEN" }],
  },
  {
    patient: 2,
    date: "20240115",
    time: "160000",
    accession: "ACC4",
    description: "US Liver",
    physician: "Cuddy^Lisa",
    series: [{ modality: "US", number: 1, instances: 1, bodyPart: "ABDOMEN" }],
  },
];

/** Study Instance UID of study `s` (0-based). */
export function studyUid(s: number): string {
  return `${ROOT}.${s + 1}`;
}

/** Series Instance UID of series `se` of study `s`. */
export function seriesUid(s: number, se: number): string {
  return `${ROOT}.${s + 1}.${se + 1}`;
}

/** SOP Instance UID of instance `i` of series `se` of study `s`. */
export function instanceUid(s: number, se: number, i: number): string {
  return `${ROOT}.${s + 1}.${se + 1}.${i + 1}`;
}

/** Total counts of the archive. */
export const TOTALS = { patients: 3, studies: 4, series: 6, instances: 11 };

/** Writes the archive into `dir` (files `<SOP Instance UID>.dcm`); returns their paths. */
export async function writeArchive(dir: string): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const [s, study] of STUDIES.entries()) {
    const patient = PATIENTS[study.patient];
    for (const [se, series] of study.series.entries()) {
      for (let i = 0; i < series.instances; i++) {
        const uid = instanceUid(s, se, i);
        const dataSet = fromKeywords({
          SpecificCharacterSet: "ISO_IR 100",
          SOPClassUID: series.sopClass ?? SC,
          SOPInstanceUID: uid,
          StudyDate: study.date,
          StudyTime: study.time,
          AccessionNumber: study.accession,
          Modality: series.modality,
          ReferringPhysicianName: study.physician,
          StudyDescription: study.description,
          PatientName: patient.name,
          PatientID: patient.id,
          PatientBirthDate: patient.birthDate,
          PatientSex: patient.sex,
          BodyPartExamined: series.bodyPart ?? "",
          StudyInstanceUID: studyUid(s),
          SeriesInstanceUID: seriesUid(s, se),
          StudyID: `S${s + 1}`,
          SeriesNumber: series.number,
          InstanceNumber: i + 1,
        });
        const path = `${dir}/${uid}.dcm`;
        await Deno.writeFile(path, await writePart10(dataSet));
        paths.push(path);
      }
    }
  }
  return paths;
}

/**
 * Runs `run` over the archive written into a new temp folder (named with `prefix`) and indexed
 * in full; closes the index and removes the folder after.
 */
export async function withIndexedArchive(
  prefix: string,
  run: (index: SqliteIndex, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await writeArchive(dir);
    const index = openSqliteIndex(dir);
    try {
      await reindex(index, dir, { mode: "full" });
      await run(index, dir);
    } finally {
      await index.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A real index whose matches come `delayMs` apart, so that a C-CANCEL-RQ lands between two. */
export function slowIndex(index: InstanceIndex, delayMs: number): InstanceIndex {
  return {
    add: (i) => index.add(i),
    remove: (uid) => index.remove(uid),
    get: (uid) => index.get(uid),
    instances: (q) => index.instances(q),
    counts: () => index.counts(),
    close: () => index.close(),
    async *find(query: IndexQuery): AsyncGenerator<DataSet> {
      for await (const match of index.find(query)) {
        await new Promise((r) => setTimeout(r, delayMs));
        yield match;
      }
    },
  };
}
