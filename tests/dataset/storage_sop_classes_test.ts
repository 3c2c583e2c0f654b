// Compares the generated list with the installed DCMTK: skipped loudly when DCMTK is missing.
import assert from "node:assert/strict";
import { isStorageSopClass, STORAGE_SOP_CLASSES } from "../../src/dataset/storage_sop_classes.ts";
import { dcmtkAvailable } from "./_dcmdump.ts";
import { findLibDcmdata, readDcmtkStorageSopClasses } from "./_storage_sop_classes_source.ts";

const DCMTK = dcmtkAvailable();

Deno.test("the Storage SOP Class list knows CT, Secondary Capture and SR, and not Verification", () => {
  assert.equal(isStorageSopClass("1.2.840.10008.5.1.4.1.1.2"), true);
  assert.equal(isStorageSopClass("1.2.840.10008.5.1.4.1.1.7"), true);
  assert.equal(isStorageSopClass("1.2.840.10008.5.1.4.1.1.88.11"), true);
  assert.equal(isStorageSopClass("1.2.840.10008.1.1"), false);
  assert.equal(new Set(STORAGE_SOP_CLASSES.map((c) => c.uid)).size, STORAGE_SOP_CLASSES.length);
});

Deno.test({
  name: "the Storage SOP Class list is exactly DCMTK's dcmAllStorageSOPClassUIDs (DCMTK)",
  ignore: !DCMTK,
  fn() {
    const path = findLibDcmdata();
    assert.ok(path, "libdcmdata not found although DCMTK is installed");
    const { classes } = readDcmtkStorageSopClasses(path);
    assert.deepEqual(STORAGE_SOP_CLASSES, classes);
  },
});
