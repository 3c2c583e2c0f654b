/**
 * Data sets: tags, VRs, transfer syntaxes, the PS3.6 dictionary binding, the streaming
 * reader and the writer, the DICOM JSON model and Part 10 files.
 *
 * @module
 */

export * from "./tag.ts";
export * from "./vr.ts";
export * from "./transfer_syntax.ts";
export * from "./dictionary.ts";
export * from "./errors.ts";
export * from "./character_set.ts";
export * from "./dataset.ts";
export * from "./value.ts";
export * from "./reader.ts";
export * from "./writer.ts";
export * from "./part10.ts";
export * from "./storage_sop_classes.ts";
export * from "./transcode.ts";
