// Regenerates src/dataset/storage_sop_classes.ts from the installed DCMTK:
//   deno run -A tests/dataset/_generate_storage_sop_classes.ts
import { findLibDcmdata, readDcmtkStorageSopClasses } from "./_storage_sop_classes_source.ts";

const path = findLibDcmdata();
if (!path) throw new Error("libdcmdata (DCMTK) not found");
const { version, classes } = readDcmtkStorageSopClasses(path);
const target = new URL("../../src/dataset/storage_sop_classes.ts", import.meta.url);
const rows = classes.map((c) =>
  `  { uid: ${JSON.stringify(c.uid)}, name: ${JSON.stringify(c.name)} },`
).join("\n");
await Deno.writeTextFile(
  target,
  `/**
 * Storage SOP Classes (PS3.4 Annex B) that fit the patient/study/series/instance model,
 * generated from DCMTK's maintained list (dcmAllStorageSOPClassUIDs and dcmFindNameOfUID of
 * DCMTK ${version}) by tests/dataset/_generate_storage_sop_classes.ts; do not edit by hand.
 * Like DCMTK's list it leaves out the special cases that are not stored per patient, such as
 * Hanging Protocol and Color Palette Storage.
 *
 * @module
 */

/** One Storage SOP Class: its UID and DCMTK's name for it. */
export interface StorageSopClass {
  /** The SOP Class UID. */
  uid: string;
  /** The name, as DCMTK spells it. */
  name: string;
}

/** Every Storage SOP Class of the list, in DCMTK's order. */
export const STORAGE_SOP_CLASSES: readonly StorageSopClass[] = [
${rows}
];

const UIDS = new Set(STORAGE_SOP_CLASSES.map((c) => c.uid));

/** True when the UID is one of the Storage SOP Classes of the list. */
export function isStorageSopClass(uid: string): boolean {
  return UIDS.has(uid);
}
`,
);
console.log(`wrote ${classes.length} Storage SOP Classes from DCMTK ${version}`);
