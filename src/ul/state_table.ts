/**
 * The DICOM Upper Layer state transition table (PS3.8 §9.2.3, Table 9-10) as data: for each
 * event and state, the name of the action to run. Cells left blank in the standard are absent.
 *
 * @module
 */

/** The states of the upper layer state machine (PS3.8 §9.2.1, Tables 9-1 to 9-5). */
export type State =
  | "Sta1"
  | "Sta2"
  | "Sta3"
  | "Sta4"
  | "Sta5"
  | "Sta6"
  | "Sta7"
  | "Sta8"
  | "Sta9"
  | "Sta10"
  | "Sta11"
  | "Sta12"
  | "Sta13";

/** The events of the upper layer state machine (PS3.8 §9.2.3, Table 9-10 rows). */
export type Event =
  | "Evt1"
  | "Evt2"
  | "Evt3"
  | "Evt4"
  | "Evt5"
  | "Evt6"
  | "Evt7"
  | "Evt8"
  | "Evt9"
  | "Evt10"
  | "Evt11"
  | "Evt12"
  | "Evt13"
  | "Evt14"
  | "Evt15"
  | "Evt16"
  | "Evt17"
  | "Evt18"
  | "Evt19";

/** The action names of PS3.8 §9.2.2 (Tables 9-6 to 9-9). */
export type ActionName =
  | "AE-1"
  | "AE-2"
  | "AE-3"
  | "AE-4"
  | "AE-5"
  | "AE-6"
  | "AE-7"
  | "AE-8"
  | "DT-1"
  | "DT-2"
  | "AR-1"
  | "AR-2"
  | "AR-3"
  | "AR-4"
  | "AR-5"
  | "AR-6"
  | "AR-7"
  | "AR-8"
  | "AR-9"
  | "AR-10"
  | "AA-1"
  | "AA-2"
  | "AA-3"
  | "AA-4"
  | "AA-5"
  | "AA-6"
  | "AA-7"
  | "AA-8";

/** Every state, in order. */
export const STATES: readonly State[] = [
  "Sta1",
  "Sta2",
  "Sta3",
  "Sta4",
  "Sta5",
  "Sta6",
  "Sta7",
  "Sta8",
  "Sta9",
  "Sta10",
  "Sta11",
  "Sta12",
  "Sta13",
];

/** Every event, in order. */
export const EVENTS: readonly Event[] = [
  "Evt1",
  "Evt2",
  "Evt3",
  "Evt4",
  "Evt5",
  "Evt6",
  "Evt7",
  "Evt8",
  "Evt9",
  "Evt10",
  "Evt11",
  "Evt12",
  "Evt13",
  "Evt14",
  "Evt15",
  "Evt16",
  "Evt17",
  "Evt18",
  "Evt19",
];

/** The states' definitions (PS3.8 §9.2.1). */
export const STATE_DESCRIPTIONS: Readonly<Record<State, string>> = {
  Sta1: "Idle",
  Sta2: "Transport connection open (awaiting A-ASSOCIATE-RQ PDU)",
  Sta3: "Awaiting local A-ASSOCIATE response primitive (from local user)",
  Sta4: "Awaiting transport connection opening to complete (from local transport service)",
  Sta5: "Awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ PDU",
  Sta6: "Association established and ready for data transfer",
  Sta7: "Awaiting A-RELEASE-RP PDU",
  Sta8: "Awaiting local A-RELEASE response primitive (from local user)",
  Sta9: "Release collision requestor side; awaiting A-RELEASE response (from local user)",
  Sta10: "Release collision acceptor side; awaiting A-RELEASE-RP PDU",
  Sta11: "Release collision requestor side; awaiting A-RELEASE-RP PDU",
  Sta12: "Release collision acceptor side; awaiting A-RELEASE response primitive (from local user)",
  Sta13: "Awaiting Transport Connection Close Indication (Association no longer exists)",
};

/** The events' definitions (PS3.8 §9.2.3, Table 9-10). */
export const EVENT_DESCRIPTIONS: Readonly<Record<Event, string>> = {
  Evt1: "A-ASSOCIATE request (local user)",
  Evt2: "Transport connect confirmation (local transport service)",
  Evt3: "A-ASSOCIATE-AC PDU (received on transport connection)",
  Evt4: "A-ASSOCIATE-RJ PDU (received on transport connection)",
  Evt5: "Transport connection indication (local transport service)",
  Evt6: "A-ASSOCIATE-RQ PDU (received on transport connection)",
  Evt7: "A-ASSOCIATE response primitive (accept)",
  Evt8: "A-ASSOCIATE response primitive (reject)",
  Evt9: "P-DATA request primitive",
  Evt10: "P-DATA-TF PDU",
  Evt11: "A-RELEASE request primitive",
  Evt12: "A-RELEASE-RQ PDU (received on open transport connection)",
  Evt13: "A-RELEASE-RP PDU (received on transport connection)",
  Evt14: "A-RELEASE response primitive",
  Evt15: "A-ABORT request primitive",
  Evt16: "A-ABORT PDU (received on open transport connection)",
  Evt17: "Transport connection closed indication (local transport service)",
  Evt18: "ARTIM timer expired (Association reject/release timer)",
  Evt19: "Unrecognized or invalid PDU received",
};

/** The same action in every state from Sta6 to Sta12, the rows where the table repeats. */
function sta6To12(action: ActionName): Partial<Record<State, ActionName>> {
  return {
    Sta6: action,
    Sta7: action,
    Sta8: action,
    Sta9: action,
    Sta10: action,
    Sta11: action,
    Sta12: action,
  };
}

/** PS3.8 Table 9-10: event → state → action. */
export const STATE_TABLE: Readonly<Record<Event, Readonly<Partial<Record<State, ActionName>>>>> = {
  Evt1: { Sta1: "AE-1" },
  Evt2: { Sta4: "AE-2" },
  Evt3: { Sta2: "AA-1", Sta3: "AA-8", Sta5: "AE-3", ...sta6To12("AA-8"), Sta13: "AA-6" },
  Evt4: { Sta2: "AA-1", Sta3: "AA-8", Sta5: "AE-4", ...sta6To12("AA-8"), Sta13: "AA-6" },
  Evt5: { Sta1: "AE-5" },
  Evt6: { Sta2: "AE-6", Sta3: "AA-8", Sta5: "AA-8", ...sta6To12("AA-8"), Sta13: "AA-7" },
  Evt7: { Sta3: "AE-7" },
  Evt8: { Sta3: "AE-8" },
  Evt9: { Sta6: "DT-1", Sta8: "AR-7" },
  Evt10: {
    Sta2: "AA-1",
    Sta3: "AA-8",
    Sta5: "AA-8",
    ...sta6To12("AA-8"),
    Sta6: "DT-2",
    Sta7: "AR-6",
    Sta13: "AA-6",
  },
  Evt11: { Sta6: "AR-1" },
  Evt12: {
    Sta2: "AA-1",
    Sta3: "AA-8",
    Sta5: "AA-8",
    ...sta6To12("AA-8"),
    Sta6: "AR-2",
    Sta7: "AR-8",
    Sta13: "AA-6",
  },
  Evt13: {
    Sta2: "AA-1",
    Sta3: "AA-8",
    Sta5: "AA-8",
    ...sta6To12("AA-8"),
    Sta7: "AR-3",
    Sta10: "AR-10",
    Sta11: "AR-3",
    Sta13: "AA-6",
  },
  Evt14: { Sta8: "AR-4", Sta9: "AR-9", Sta12: "AR-4" },
  Evt15: { Sta3: "AA-1", Sta4: "AA-2", Sta5: "AA-1", ...sta6To12("AA-1") },
  Evt16: { Sta2: "AA-2", Sta3: "AA-3", Sta5: "AA-3", ...sta6To12("AA-3"), Sta13: "AA-2" },
  Evt17: {
    Sta2: "AA-5",
    Sta3: "AA-4",
    Sta4: "AA-4",
    Sta5: "AA-4",
    ...sta6To12("AA-4"),
    Sta13: "AR-5",
  },
  Evt18: { Sta2: "AA-2", Sta13: "AA-2" },
  Evt19: { Sta2: "AA-1", Sta3: "AA-8", Sta5: "AA-8", ...sta6To12("AA-8"), Sta13: "AA-7" },
};

/** The action Table 9-10 gives for an event in a state, or undefined for a blank cell. */
export function lookupAction(state: State, event: Event): ActionName | undefined {
  return STATE_TABLE[event][state];
}
