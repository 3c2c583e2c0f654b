/**
 * The error raised for malformed or unencodable data sets.
 *
 * @module
 */

/** What was wrong with a data set, named after the PS3.5 rule it breaks. */
export type DataSetErrorCode =
  | "unexpected-end-of-data"
  | "invalid-vr"
  | "invalid-length"
  | "invalid-item"
  | "invalid-value"
  | "value-too-long"
  | "nesting-too-deep"
  | "bulk-data-not-available"
  | "unsupported-character-set"
  | "not-part10"
  | "unknown-keyword";

/** A data set that cannot be read or written; `tag` and `offset` say where, when known. */
export class DataSetError extends Error {
  /** The rule broken. */
  readonly code: DataSetErrorCode;
  /** The tag being read or written, as eight hex digits. */
  readonly tag: string | undefined;
  /** The byte offset in the encoded stream, when reading. */
  readonly offset: number | undefined;

  /** Creates the error; the message says what and where. */
  constructor(
    code: DataSetErrorCode,
    message: string,
    where: { tag?: string; offset?: number } = {},
  ) {
    super(message);
    this.name = "DataSetError";
    this.code = code;
    this.tag = where.tag;
    this.offset = where.offset;
  }
}
