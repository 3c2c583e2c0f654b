import assert from "node:assert/strict";
import { fromKeywords } from "../../src/dataset/dataset.ts";
import type { DataSet, KeywordDataSet } from "../../src/dataset/dataset.ts";
import {
  isUniversal,
  matchesCombinedDateTime,
  matchesDate,
  matchesDateTime,
  matchesIdentifier,
  matchesPersonName,
  matchesString,
  matchesTime,
  matchesWildcard,
} from "../../src/store/matching.ts";

/** One row: a key value, a candidate value, whether they match, and why. */
type Row = [key: string, value: string, expected: boolean, why: string];

function table(name: string, rows: Row[], match: (key: string, value: string) => boolean): void {
  Deno.test(name, () => {
    for (const [key, value, expected, why] of rows) {
      assert.equal(
        match(key, value),
        expected,
        `${JSON.stringify(key)} vs ${JSON.stringify(value)}: ${why}`,
      );
    }
  });
}

// PS3.4 C.2.2.2.4 wildcard examples.
table("Wildcard matching: * is any run of characters, ? exactly one (PS3.4 C.2.2.2.4)", [
  ["*", "", true, "* matches the empty string"],
  ["MR*", "MR", true, "* matches none"],
  ["MR*", "MRI", true, "* matches one"],
  ["*ABC*", "XXABCYY", true, "* on both sides"],
  ["?BC", "ABC", true, "? one character"],
  ["?BC", "BC", false, "? is exactly one"],
  ["A?C*", "ABCDEF", true, "? then *"],
  ["A.C", "ABC", false, "regular expression characters are literal"],
  ["A.C", "A.C", true, "literal dot"],
  ["(x)+", "(x)+", true, "literal parentheses and plus"],
], (k, v) => matchesWildcard(k, v));

table(
  "Single value and wildcard matching of strings is case-sensitive and ignores padding (PS3.4 C.2.2.2.1)",
  [
    ["CT", "CT", true, "same value"],
    ["CT", "ct", false, "case-sensitive"],
    ["CT", " CT ", true, "leading and trailing spaces of CS are padding"],
    ["C*", "CT", true, "wildcard in CS"],
    ["C?", "CTA", false, "? is one character"],
  ],
  (k, v) => matchesString("CS", k, v),
);

table("Wildcards are literal in UI values (PS3.4 C.2.2.2.4)", [
  ["1.2.*", "1.2.3", false, "UI takes no wildcard"],
  ["1.2.3", "1.2.3", true, "exact UID"],
], (k, v) => matchesString("UI", k, v));

table("Person names match case-insensitively, group by group, with wildcards", [
  ["Doe^John", "DOE^JOHN", true, "case-insensitive"],
  ["Doe^John", "Doe^John^^^", true, "trailing component separators are insignificant"],
  ["Doe*", "Doe^John", true, "trailing * covers the other components"],
  ["Doe^J*", "Doe^Jane", true, "wildcard in the given name"],
  ["Doe^J*", "Dow^Jane", false, "family name differs"],
  ["D?e", "Doe", true, "? in a name"],
  ["Doe^*", "Doe", true, "a wildcard component matches a missing one"],
  ["*^John", "Doe^John^^^", true, "leading wildcard with trailing separators"],
  ["*^Jane", "Doe^John", false, "leading wildcard, other given name"],
  ["Doe", "Doe^John", false, "a single component is not a prefix"],
  [
    "Yamada^Tarou",
    "Yamada^Tarou=山田^太郎=やまだ^たろう",
    true,
    "alphabetic key ignores the other groups",
  ],
  ["=山田^太郎", "Yamada^Tarou=山田^太郎", true, "ideographic key matches the ideographic group"],
  ["=山田^太郎", "Yamada^Tarou=田中^太郎", false, "ideographic group differs"],
], (k, v) => matchesPersonName(k, v));

// PS3.4 C.2.2.2.5 range examples.
table("Date matching: single value and ranges with inclusive, open bounds (PS3.4 C.2.2.2.5)", [
  ["20060705", "20060705", true, "single date"],
  ["20060705", "20060706", false, "other date"],
  ["20060705-20060707", "20060705", true, "lower bound inclusive"],
  ["20060705-20060707", "20060707", true, "upper bound inclusive"],
  ["20060705-20060707", "20060708", false, "after the range"],
  ["20060705-", "20991231", true, "open upper bound"],
  ["20060705-", "20060704", false, "before an open-ended range"],
  ["-20060705", "19000101", true, "open lower bound"],
  ["-20060705", "20060706", false, "after an open-started range"],
  ["2006.07.05", "20060705", true, "ACR-NEMA form accepted"],
  ["20060705-20060707", "", false, "empty candidate does not match a range"],
  ["garbage", "20060705", false, "a key that is not a date matches nothing"],
], matchesDate);

table(
  "Time matching: ranges, and bounds with less precision cover their whole unit (PS3.4 C.2.2.2.5)",
  [
    ["070000-080000", "073000", true, "inside the range"],
    ["070000-080000", "080001", false, "after the range"],
    ["0700-0800", "080059", true, "hhmm upper bound covers its minute"],
    ["-10", "105959.999", true, "hh upper bound covers its hour"],
    ["-10", "110000", false, "after the hour"],
    ["1015-", "101500", true, "lower bound inclusive"],
    ["1015-", "101459", false, "before the lower bound"],
    ["10", "1030", true, "single hh value covers its hour"],
    ["101500", "101500.123", true, "candidate fraction within the second"],
    ["10:15-11:00", "1030", true, "ACR-NEMA form accepted"],
  ],
  matchesTime,
);

table("Date-time matching: ranges with precision and offsets (PS3.4 C.2.2.2.5)", [
  ["20060705-20060707", "20060707235959", true, "a date bound covers its whole day"],
  ["200607051000-200607051100", "20060705103000", true, "minute bounds"],
  ["200607051000-200607051100", "20060705110100", false, "after the range"],
  ["-2006", "20061231120000", true, "year bound covers the year"],
  ["2007-", "20061231120000", false, "before an open-ended range"],
  ["20060705100000+0100-20060705110000+0100", "20060705093000+0000", true, "offsets honoured"],
  ["20060705100000-0500-", "20060705160000+0000", true, "negative offset on a lower bound"],
  ["20060705", "20060705120000", true, "single date value covers its day"],
], matchesDateTime);

table("Combined date-time matching treats date and time ranges as one range (PS3.4 C.2.2.2.5.1)", [
  ["20060705-20060707|1000-1800", "20060706|0500", true, "a middle day at any time"],
  ["20060705-20060707|1000-1800", "20060705|0900", false, "before the start time on the first day"],
  ["20060705-20060707|1000-1800", "20060707|1830", false, "after the end time on the last day"],
  ["20060705-20060707|1000-1800", "20060707|1759", true, "before the end time on the last day"],
  ["20060705|1000-1800", "20060705|1200", true, "single date with a time range"],
  ["|1000-1800", "20060705|1200", true, "time only"],
  ["20060705-|1000", "20060705|0959", false, "open upper bound, before start"],
], (k, v) => {
  const [dk, tk] = k.split("|");
  const [d, t] = v.split("|");
  return matchesCombinedDateTime(dk, tk, d, t);
});

function ds(values: KeywordDataSet): DataSet {
  return fromKeywords(values);
}

const study = ds({
  PatientName: "Doe^John",
  PatientID: "PID1",
  PatientBirthDate: "19700101",
  StudyInstanceUID: "1.2.3.4",
  StudyDate: "20060705",
  StudyTime: "101500",
  ModalitiesInStudy: "CT\\PR",
  AccessionNumber: "",
  StudyDescription: "Chest",
  NumberOfStudyRelatedInstances: 4,
  ReferencedPatientSequence: [{
    ReferencedSOPClassUID: "1.2.840.10008.3.1.2.1.1",
    ReferencedSOPInstanceUID: "9.9",
  }],
});

Deno.test("Identifier matching: every key must match, universal keys always do (PS3.4 C.2.2.2)", () => {
  const cases: [KeywordDataSet, boolean, string][] = [
    [{ PatientName: "", StudyDate: "" }, true, "universal keys only"],
    [{ PatientName: "*" }, true, "* alone is universal"],
    [{ PatientName: "doe^*", PatientID: "PID1" }, true, "wildcard name and exact ID"],
    [{ PatientName: "doe^*", PatientID: "PID2" }, false, "ID differs"],
    [{ StudyInstanceUID: "1.2.3.4\\5.6.7" }, true, "list of UIDs (C.2.2.2.2)"],
    [{ StudyInstanceUID: "5.6.7\\8.9" }, false, "list of other UIDs"],
    [{ ModalitiesInStudy: "CT" }, true, "any candidate value matches"],
    [{ ModalitiesInStudy: "MR" }, false, "no candidate value matches"],
    [{ ModalitiesInStudy: "MR\\CT" }, true, "any key value matches"],
    [{ StudyDate: "20060701-20060731", StudyTime: "1000-1100" }, true, "date and time ranges"],
    [{ StudyDate: "20060701-20060731", StudyTime: "1100-1200" }, false, "time outside its range"],
    [{ AccessionNumber: '""' }, true, "empty value matching of an empty attribute"],
    [{ StudyDescription: '""' }, false, "empty value matching of a filled attribute"],
    [{ ReferringPhysicianName: '""' }, true, "empty value matching of an absent attribute"],
    [{ ReferringPhysicianName: "Smith" }, false, "absent attribute does not match a value"],
    [{ NumberOfStudyRelatedInstances: "4" }, true, "numbers compare numerically"],
    [{ ReferencedPatientSequence: [] }, true, "sequence key with no item is universal"],
    [
      { ReferencedPatientSequence: [{ ReferencedSOPInstanceUID: "9.9" }] },
      true,
      "sequence item matches",
    ],
    [
      { ReferencedPatientSequence: [{ ReferencedSOPInstanceUID: "9.8" }] },
      false,
      "sequence item differs",
    ],
    [
      { ReferencedPatientSequence: [{ ReferencedSOPInstanceUID: "" }] },
      true,
      "item of universal keys",
    ],
    [
      { QueryRetrieveLevel: "STUDY", SpecificCharacterSet: "ISO_IR 100" },
      true,
      "qualifiers are not matched",
    ],
    [{ "00100000": 42 }, true, "group lengths are not matched"],
  ];
  for (const [keys, expected, why] of cases) {
    assert.equal(matchesIdentifier(ds(keys), study), expected, why);
  }
});

Deno.test("Combined date-time matching applies to Study Date with Study Time when asked", () => {
  const identifier = ds({ StudyDate: "20060704-20060705", StudyTime: "1100-" });
  // Separately: date in range, time 10:15 is before 11:00 → no match.
  assert.equal(matchesIdentifier(identifier, study), false);
  // Combined: from 4 July 11:00 onwards to 5 July end of day → 5 July 10:15 matches.
  assert.equal(matchesIdentifier(identifier, study, { combinedDateTime: true }), true);
});

Deno.test("Universal matching is recognised for empty keys, * and empty sequences", () => {
  assert.equal(isUniversal({ vr: "PN" }), true);
  assert.equal(isUniversal({ vr: "PN", Value: [{ Alphabetic: "*" }] }), true);
  assert.equal(isUniversal({ vr: "LO", Value: ["**"] }), true);
  assert.equal(isUniversal({ vr: "UI", Value: ["*"] }), false);
  assert.equal(isUniversal({ vr: "SQ", Value: [] }), true);
  assert.equal(isUniversal({ vr: "DA", Value: ["20060101"] }), false);
});
