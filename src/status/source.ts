/**
 * What the status endpoint reads: a snapshot of a running SCP, taken on every request. The
 * endpoint only reads; an adapter (see `scp_source.ts`) fills the snapshot from a live `Scp`.
 *
 * @module
 */

/** The address the SCP listens on. */
export interface ListeningAddress {
  /** Host name or IP address the socket is bound to, e.g. "0.0.0.0". */
  hostname: string;
  /** TCP port. */
  port: number;
}

/** A presentation context accepted on an association (PS3.8 §9.3.3.2). */
export interface AcceptedContextStatus {
  /** Presentation Context ID (odd, 1–255). */
  presentationContextId: number;
  /** Abstract Syntax Name (SOP Class UID). */
  abstractSyntax: string;
  /** The Transfer Syntax Name accepted for it. */
  transferSyntax: string;
}

/** One active association as the status endpoint shows it. */
export interface AssociationStatus {
  /** Calling AE Title of the peer. */
  callingAeTitle: string;
  /** Called AE Title the peer asked for. */
  calledAeTitle: string;
  /** Peer address. */
  address: ListeningAddress;
  /** When the A-ASSOCIATE-RQ arrived. */
  started: Date;
  /** Upper layer state (PS3.8 §9.2.1), e.g. "Sta6" once established. */
  state: string;
  /** The presentation contexts accepted. */
  acceptedContexts: AcceptedContextStatus[];
  /** DIMSE messages received from the peer. */
  messagesReceived: number;
  /** DIMSE messages sent to the peer. */
  messagesSent: number;
  /** Bytes received from the peer (whole PDUs). */
  bytesReceived: number;
  /** Bytes sent to the peer (whole PDUs). */
  bytesSent: number;
}

/** Counts of associations by how they ended or were answered. */
export interface AssociationTotals {
  /** A-ASSOCIATE-RQ received. */
  requested: number;
  /** Answered with A-ASSOCIATE-AC. */
  accepted: number;
  /** Answered with A-ASSOCIATE-RJ. */
  rejected: number;
  /** Ended with A-RELEASE. */
  released: number;
  /** Ended with A-ABORT (from either side) or a lost connection. */
  aborted: number;
}

/** Count of DIMSE responses for one service and status. */
export interface MessageTotal {
  /** The service that answered, by its name, e.g. "verification", "storage". */
  service: string;
  /** Status code (PS3.7 Annex C) as four upper-case hex digits, e.g. "0000", "A700". */
  status: string;
  /** Number of responses. */
  count: number;
}

/** Totals since the SCP started. */
export interface StatusTotals {
  /** Associations by outcome. */
  associations: AssociationTotals;
  /** Responses by service and status. */
  messages: MessageTotal[];
  /** Bytes received on all associations. */
  bytesReceived: number;
  /** Bytes sent on all associations. */
  bytesSent: number;
}

/** Everything the status endpoint shows, at one instant. */
export interface StatusSnapshot {
  /** Version of dimse. */
  version: string;
  /** The SCP's own AE title. */
  aeTitle: string;
  /** When the SCP started. */
  startedAt: Date;
  /** Where it listens; null when it does not (yet, or any more). */
  listening: ListeningAddress | null;
  /** Whether the SCP accepts new associations now. */
  accepting: boolean;
  /** The associations in progress. */
  associations: AssociationStatus[];
  /** Totals since start. */
  totals: StatusTotals;
}

/** Where the status endpoint reads its snapshot from. */
export interface StatusSource {
  /** Returns the state of the SCP now. */
  snapshot(): StatusSnapshot;
}
