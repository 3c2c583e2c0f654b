/**
 * DIMSE status codes (PS3.7 Annex C) as named constants, and their category.
 *
 * @module
 */

/** Status codes of PS3.7 Annex C and the service classes of PS3.4, by their names there. */
export const Status = {
  /** PS3.7 C.1.1. */
  SUCCESS: 0x0000,
  /** PS3.7 C.3.1 Cancel. */
  CANCEL: 0xfe00,
  /** PS3.7 C.2.1 Pending. */
  PENDING: 0xff00,
  /** PS3.4 C.4.1.1.4: pending, one or more optional keys not supported. */
  PENDING_WARNING: 0xff01,
  /** PS3.4 B.2.3 Coercion of Data Elements. */
  COERCION_OF_DATA_ELEMENTS: 0xb000,
  /** PS3.4 B.2.3 Elements Discarded. */
  ELEMENTS_DISCARDED: 0xb006,
  /** PS3.4 B.2.3 Data Set does not match SOP Class. */
  DATA_SET_DOES_NOT_MATCH_SOP_CLASS: 0xb007,
  /** PS3.7 C.4.2 Attribute list error. */
  ATTRIBUTE_LIST_ERROR: 0x0107,
  /** PS3.7 C.4.3 Attribute Value Out of Range (warning). */
  ATTRIBUTE_VALUE_OUT_OF_RANGE: 0x0116,
  /** PS3.7 C.5.1 No such attribute. */
  NO_SUCH_ATTRIBUTE: 0x0105,
  /** PS3.7 C.5.2 Invalid attribute value. */
  INVALID_ATTRIBUTE_VALUE: 0x0106,
  /** PS3.7 C.5.3 Processing failure. */
  PROCESSING_FAILURE: 0x0110,
  /** PS3.7 C.5.4 Duplicate SOP Instance. */
  DUPLICATE_SOP_INSTANCE: 0x0111,
  /** PS3.7 C.5.5 No such SOP Instance. */
  NO_SUCH_SOP_INSTANCE: 0x0112,
  /** PS3.7 C.5.6 No such event type. */
  NO_SUCH_EVENT_TYPE: 0x0113,
  /** PS3.7 C.5.7 No such argument. */
  NO_SUCH_ARGUMENT: 0x0114,
  /** PS3.7 C.5.8 Invalid argument value. */
  INVALID_ARGUMENT_VALUE: 0x0115,
  /** PS3.7 C.5.9 Invalid object instance. */
  INVALID_OBJECT_INSTANCE: 0x0117,
  /** PS3.7 C.5.10 No such SOP Class. */
  NO_SUCH_SOP_CLASS: 0x0118,
  /** PS3.7 C.5.11 Class-instance conflict. */
  CLASS_INSTANCE_CONFLICT: 0x0119,
  /** PS3.7 C.5.12 Missing attribute. */
  MISSING_ATTRIBUTE: 0x0120,
  /** PS3.7 C.5.13 Missing attribute value. */
  MISSING_ATTRIBUTE_VALUE: 0x0121,
  /** PS3.7 C.5.14 Refused: SOP Class not supported. */
  SOP_CLASS_NOT_SUPPORTED: 0x0122,
  /** PS3.7 C.5.15 No such action. */
  NO_SUCH_ACTION: 0x0123,
  /** PS3.7 C.5.16 Refused: not authorized. */
  NOT_AUTHORIZED: 0x0124,
  /** PS3.7 C.5.17 Duplicate invocation. */
  DUPLICATE_INVOCATION: 0x0210,
  /** PS3.7 C.5.18 Unrecognized operation. */
  UNRECOGNIZED_OPERATION: 0x0211,
  /** PS3.7 C.5.19 Mistyped argument. */
  MISTYPED_ARGUMENT: 0x0212,
  /** PS3.7 C.5.20 Resource limitation. */
  RESOURCE_LIMITATION: 0x0213,
  /** PS3.4 C.4.2.1.5 Refused: out of resources, unable to calculate number of matches. */
  OUT_OF_RESOURCES_UNABLE_TO_CALCULATE_NUMBER_OF_MATCHES: 0xa701,
  /** PS3.4 C.4.2.1.5 Refused: out of resources, unable to perform sub-operations. */
  OUT_OF_RESOURCES_UNABLE_TO_PERFORM_SUB_OPERATIONS: 0xa702,
  /** PS3.4 B.2.3 / C.4.1.1.4 Refused: out of resources. */
  OUT_OF_RESOURCES: 0xa700,
  /** PS3.4 C.4.2.1.5 Refused: move destination unknown. */
  MOVE_DESTINATION_UNKNOWN: 0xa801,
  /** PS3.4 B.2.3 Error: data set does not match SOP class. */
  DATA_SET_DOES_NOT_MATCH_SOP_CLASS_ERROR: 0xa900,
  /** PS3.4 B.2.3 / C.4.1.1.4 Error: cannot understand (C000–CFFF). */
  CANNOT_UNDERSTAND: 0xc000,
  /** PS3.4 C.4.2.1.5 Warning: sub-operations complete, one or more failures or warnings. */
  SUB_OPERATIONS_COMPLETE_WITH_FAILURES: 0xb000,
} as const;

/** A status code as four upper-case hex digits, as logs and the SCP's totals show it. */
export function statusHex(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, "0");
}

/** The category of a status (PS3.7 Annex C). */
export type StatusCategory = "success" | "warning" | "failure" | "cancel" | "pending";

/** The category of a status code (PS3.7 Annex C; service-specific ranges of PS3.4). */
export function statusCategory(code: number): StatusCategory {
  if (code === 0x0000) return "success";
  if (code === 0xfe00) return "cancel";
  if (code === 0xff00 || code === 0xff01) return "pending";
  // PS3.7 C.3: warnings are 0001, Bxxx, and 0107/0116 (attribute list / value out of range).
  if (code === 0x0001 || code === 0x0107 || code === 0x0116 || (code & 0xf000) === 0xb000) {
    return "warning";
  }
  return "failure";
}
