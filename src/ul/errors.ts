/**
 * Errors of the upper layer. Each carries what the upper layer must send in answer.
 *
 * @module
 */
import { AbortReason } from "./pdu.ts";

/**
 * A malformed or unacceptable PDU. `code` says what was wrong, `field` which field, and
 * `abortReason` is the A-ABORT reason (PS3.8 Table 9-26, source 2) the upper layer must send.
 */
export class PduError extends Error {
  /** Machine-readable kind, e.g. "length-overrun", "pdu-type-unrecognized". */
  readonly code: string;
  /** The PDU, item or field the error is about, e.g. "presentation-context-item.length". */
  readonly field: string;
  /** A-ABORT reason to send (source 2, service provider). */
  readonly abortReason: number;

  /** Creates an error; the message reads "<code> in <field>" unless one is given. */
  constructor(
    code: string,
    field: string,
    options: { abortReason?: number; message?: string } = {},
  ) {
    super(options.message ?? `Invalid PDU: ${code} in ${field}`);
    this.name = "PduError";
    this.code = code;
    this.field = field;
    this.abortReason = options.abortReason ?? AbortReason.INVALID_PDU_PARAMETER_VALUE;
  }
}

/** A malformed command set; the DIMSE layer answers it with a failure status or an abort. */
export class CommandSetError extends Error {
  /** Machine-readable kind, e.g. "length-overrun", "missing-command-field". */
  readonly code: string;
  /** The element the error is about, e.g. "(0000,0100) CommandField". */
  readonly field: string;

  /** Creates an error; the message reads "<code> in <field>" unless one is given. */
  constructor(code: string, field: string, message?: string) {
    super(message ?? `Invalid command set: ${code} in ${field}`);
    this.name = "CommandSetError";
    this.code = code;
    this.field = field;
  }
}
