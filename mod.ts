/**
 * dimse: a DICOM networking toolkit for Deno — an SCP server and an SCU client speaking the
 * DICOM Upper Layer protocol (PS3.8) and DIMSE (PS3.7).
 *
 * @module
 */
export * from "./src/ul/pdu.ts";
export * from "./src/ul/errors.ts";
export * from "./src/dimse/command.ts";
