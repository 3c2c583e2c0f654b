import assert from "node:assert/strict";
import { fromKeywords, type KeywordDataSet, toKeywords } from "../../src/dataset/dataset.ts";
import type { InformationModel } from "../../src/store/instance_index.ts";
import {
  checkIdentifier,
  IdentifierError,
  instanceLevelAttributes,
  levelAttributes,
} from "../../src/store/query_keys.ts";

Deno.test("Hierarchical identifiers need the unique keys of the levels above (PS3.4 C.4.1.2.1), else A900", () => {
  const cases: [InformationModel, KeywordDataSet, string | number][] = [
    ["patient", { QueryRetrieveLevel: "PATIENT" }, "PATIENT"],
    ["patient", { QueryRetrieveLevel: "STUDY" }, 0x00100020],
    ["patient", { QueryRetrieveLevel: "STUDY", PatientID: "P1" }, "STUDY"],
    ["patient", { QueryRetrieveLevel: "SERIES", PatientID: "P1" }, 0x0020000d],
    [
      "patient",
      { QueryRetrieveLevel: "IMAGE", PatientID: "P1", StudyInstanceUID: "1.2" },
      0x0020000e,
    ],
    ["study", { QueryRetrieveLevel: "STUDY" }, "STUDY"],
    ["study", { QueryRetrieveLevel: "PATIENT" }, 0x00080052],
    ["study", { QueryRetrieveLevel: "SERIES", StudyInstanceUID: "1.2" }, "SERIES"],
    ["study", { QueryRetrieveLevel: "IMAGE", StudyInstanceUID: "1.2" }, 0x0020000e],
    [
      "study",
      { QueryRetrieveLevel: "image", StudyInstanceUID: "1.2", SeriesInstanceUID: "1.2.3" },
      "IMAGE",
    ],
    ["study", { QueryRetrieveLevel: "FRAME" }, 0x00080052],
    ["study", { PatientName: "" }, 0x00080052],
  ];
  for (const [model, keys, expected] of cases) {
    const identifier = fromKeywords(keys);
    if (typeof expected === "string") {
      assert.equal(checkIdentifier(identifier, model).level, expected, JSON.stringify(keys));
    } else {
      assert.throws(
        () => checkIdentifier(identifier, model),
        (e: unknown) =>
          e instanceof IdentifierError && e.status === 0xa900 && e.offendingElement === expected,
        JSON.stringify(keys),
      );
    }
  }
});

Deno.test("Relational identifiers need no unique keys above their level", () => {
  const identifier = fromKeywords({ QueryRetrieveLevel: "IMAGE", Modality: "CT" });
  assert.equal(checkIdentifier(identifier, "study", { relational: true }).level, "IMAGE");
});

Deno.test("Keys below the query level are reported unsupported; qualifiers are not", () => {
  const identifier = fromKeywords({
    QueryRetrieveLevel: "STUDY",
    SpecificCharacterSet: "ISO_IR 100",
    RetrieveAETitle: "",
    PatientName: "",
    StudyDate: "",
    Modality: "",
    SOPInstanceUID: "",
  });
  const { unsupported } = checkIdentifier(identifier, "study");
  assert.deepEqual(unsupported.sort(), ["00080018", "00080060"]);
  const patientRoot = checkIdentifier(
    fromKeywords({ QueryRetrieveLevel: "PATIENT", PatientName: "", StudyDate: "" }),
    "patient",
  );
  assert.deepEqual(patientRoot.unsupported, ["00080020"]);
});

Deno.test("An instance's attributes split into patient, study and series attributes", () => {
  const ds = fromKeywords({
    SpecificCharacterSet: "ISO_IR 192",
    PatientName: "Doe^John",
    PatientID: "P1",
    PatientAge: "042Y",
    PatientMotherBirthName: "Roe^Mary",
    StudyInstanceUID: "1.2",
    StudyDate: "20230101",
    AccessionNumber: "A1",
    SeriesInstanceUID: "1.2.3",
    Modality: "CT",
    SeriesNumber: 3,
    InstanceNumber: 1,
  });
  assert.deepEqual(Object.keys(toKeywords(levelAttributes(ds, "PATIENT"))), [
    "SpecificCharacterSet",
    "PatientName",
    "PatientID",
    "PatientMotherBirthName",
  ]);
  assert.deepEqual(Object.keys(toKeywords(levelAttributes(ds, "STUDY"))), [
    "SpecificCharacterSet",
    "StudyDate",
    "AccessionNumber",
    "PatientAge",
    "StudyInstanceUID",
  ]);
  assert.deepEqual(Object.keys(toKeywords(levelAttributes(ds, "SERIES"))), [
    "SpecificCharacterSet",
    "Modality",
    "SeriesInstanceUID",
    "SeriesNumber",
  ]);
  // The three at once, in one pass, are the same; computed keys are kept at no level.
  const withComputed = { ...ds, ...fromKeywords({ NumberOfStudyRelatedInstances: 9 }) };
  const all = instanceLevelAttributes(withComputed);
  for (const level of ["PATIENT", "STUDY", "SERIES"] as const) {
    assert.deepEqual(all[level], levelAttributes(ds, level));
  }
});
