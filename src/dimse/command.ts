/**
 * DIMSE command sets as plain data (PS3.7 §9.3, §10.3, Annex E). The Wasm codec encodes them
 * in implicit VR little endian, group 0000, ascending tags, with the group length first.
 *
 * @module
 */

/** Command Field values (PS3.7 Annex E). */
export const CommandField = {
  C_STORE_RQ: 0x0001,
  C_STORE_RSP: 0x8001,
  C_GET_RQ: 0x0010,
  C_GET_RSP: 0x8010,
  C_FIND_RQ: 0x0020,
  C_FIND_RSP: 0x8020,
  C_MOVE_RQ: 0x0021,
  C_MOVE_RSP: 0x8021,
  C_ECHO_RQ: 0x0030,
  C_ECHO_RSP: 0x8030,
  N_EVENT_REPORT_RQ: 0x0100,
  N_EVENT_REPORT_RSP: 0x8100,
  N_GET_RQ: 0x0110,
  N_GET_RSP: 0x8110,
  N_SET_RQ: 0x0120,
  N_SET_RSP: 0x8120,
  N_ACTION_RQ: 0x0130,
  N_ACTION_RSP: 0x8130,
  N_CREATE_RQ: 0x0140,
  N_CREATE_RSP: 0x8140,
  N_DELETE_RQ: 0x0150,
  N_DELETE_RSP: 0x8150,
  C_CANCEL_RQ: 0x0fff,
} as const;

/** Command Data Set Type value meaning no data set is present (PS3.7 §9.3.1). */
export const NO_DATA_SET = 0x0101;

/** A value that is present in a data set for Command Data Set Type (any value but 0x0101). */
export const DATA_SET_PRESENT = 0x0000;

/** Priority values (PS3.7 §9.3.1.1). */
export const Priority = { MEDIUM: 0x0000, HIGH: 0x0001, LOW: 0x0002 } as const;

/**
 * A command set: every field of PS3.7 Annex E, each optional but Command Field and Command
 * Data Set Type. Field names are the standard's keywords; tags are given per field.
 */
export interface CommandSet {
  /** (0000,0002) UI Affected SOP Class UID. */
  affectedSopClassUid?: string;
  /** (0000,0003) UI Requested SOP Class UID. */
  requestedSopClassUid?: string;
  /** (0000,0100) US Command Field. */
  commandField: number;
  /** (0000,0110) US Message ID. */
  messageId?: number;
  /** (0000,0120) US Message ID Being Responded To. */
  messageIdBeingRespondedTo?: number;
  /** (0000,0600) AE Move Destination. */
  moveDestination?: string;
  /** (0000,0700) US Priority. */
  priority?: number;
  /** (0000,0800) US Command Data Set Type; 0x0101 means no data set. */
  commandDataSetType: number;
  /** (0000,0900) US Status. */
  status?: number;
  /** (0000,0901) AT Offending Element: tags as (group << 16 | element). */
  offendingElement?: number[];
  /** (0000,0902) LO Error Comment. */
  errorComment?: string;
  /** (0000,0903) US Error ID. */
  errorId?: number;
  /** (0000,1000) UI Affected SOP Instance UID. */
  affectedSopInstanceUid?: string;
  /** (0000,1001) UI Requested SOP Instance UID. */
  requestedSopInstanceUid?: string;
  /** (0000,1002) US Event Type ID. */
  eventTypeId?: number;
  /** (0000,1005) AT Attribute Identifier List: tags as (group << 16 | element). */
  attributeIdentifierList?: number[];
  /** (0000,1008) US Action Type ID. */
  actionTypeId?: number;
  /** (0000,1020) US Number of Remaining Sub-operations. */
  numberOfRemainingSuboperations?: number;
  /** (0000,1021) US Number of Completed Sub-operations. */
  numberOfCompletedSuboperations?: number;
  /** (0000,1022) US Number of Failed Sub-operations. */
  numberOfFailedSuboperations?: number;
  /** (0000,1023) US Number of Warning Sub-operations. */
  numberOfWarningSuboperations?: number;
  /** (0000,1030) AE Move Originator Application Entity Title. */
  moveOriginatorApplicationEntityTitle?: string;
  /** (0000,1031) US Move Originator Message ID. */
  moveOriginatorMessageId?: number;
}

/** Whether a command set announces a data set (PS3.7 §9.3.1: any value but 0x0101). */
export function hasDataSet(command: CommandSet): boolean {
  return command.commandDataSetType !== NO_DATA_SET;
}

/** Whether a Command Field value is a response (bit 15 set, PS3.7 Annex E). */
export function isResponse(commandField: number): boolean {
  return (commandField & 0x8000) !== 0;
}
