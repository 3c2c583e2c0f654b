/**
 * UIDs the association layer needs: transfer syntaxes (PS3.5 §10, Annex A), the Verification
 * SOP class (PS3.4 Annex A) and this implementation's identity (PS3.7 Annex D.3.3.2); the UID
 * syntax (PS3.5 §9.1) and new UIDs (PS3.5 §B.2).
 *
 * @module
 */

/** Transfer syntax UIDs (PS3.5 Annex A, PS3.6 Annex A). */
export const TransferSyntax = {
  IMPLICIT_VR_LITTLE_ENDIAN: "1.2.840.10008.1.2",
  EXPLICIT_VR_LITTLE_ENDIAN: "1.2.840.10008.1.2.1",
  DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: "1.2.840.10008.1.2.1.99",
  EXPLICIT_VR_BIG_ENDIAN: "1.2.840.10008.1.2.2",
} as const;

/** Verification SOP Class (PS3.4 Annex A). */
export const VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1";

/**
 * This implementation's Implementation Class UID (PS3.7 Annex D.3.3.2): a UUID-derived UID
 * under the 2.25 root (PS3.5 §B.2), fixed for the project.
 */
export const IMPLEMENTATION_CLASS_UID = "2.25.37649697036018014860838953361781134285";

/** This implementation's Implementation Version Name (PS3.7 Annex D.3.3.2, at most 16 chars). */
export const IMPLEMENTATION_VERSION_NAME = "DIMSE_010";

/** UID syntax of PS3.5 §9.1: digits and dots, no leading zero in a component, 64 at most. */
const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

/** Whether a string is a valid UID (PS3.5 §9.1). */
export function isValidUid(uid: string): boolean {
  return uid.length > 0 && uid.length <= 64 && UID_PATTERN.test(uid);
}

/** A new UID in the 2.25 form, from a random UUID (PS3.5 §B.2). */
export function generateUid(): string {
  const hex = crypto.randomUUID().replaceAll("-", "");
  return `2.25.${BigInt(`0x${hex}`).toString()}`;
}
