/**
 * The one check that lets a UID name a file or folder of the store (instances, commitment
 * transactions): digits and dots, 1–64 characters, no empty component (PS3.5 §9.1), so it holds
 * no separator, no "..", nothing absolute.
 *
 * @module
 */

const SAFE_UID = /^[0-9]+(\.[0-9]+)*$/;

/** Whether a UID may name a file or folder in the store: no separators, no "..", bounded length. */
export function isSafeUidForPath(uid: string): boolean {
  return uid.length > 0 && uid.length <= 64 && SAFE_UID.test(uid);
}
