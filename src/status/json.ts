/**
 * The status snapshot as the JSON body of `GET /status`.
 *
 * @module
 */
import type {
  AcceptedContextStatus,
  ListeningAddress,
  MessageTotal,
  StatusSnapshot,
} from "./source.ts";
import type { AssociationTotals } from "./source.ts";

/** One active association in the JSON body; times are ISO 8601 strings. */
export interface AssociationStatusJson {
  /** Calling AE Title of the peer. */
  callingAeTitle: string;
  /** Called AE Title the peer asked for. */
  calledAeTitle: string;
  /** Peer address. */
  address: ListeningAddress;
  /** When the association was requested (ISO 8601). */
  started: string;
  /** Upper layer state (PS3.8 §9.2.1), e.g. "Sta6" once established. */
  state: string;
  /** Seconds since it was requested. */
  durationSeconds: number;
  /** Presentation contexts accepted. */
  acceptedContexts: AcceptedContextStatus[];
  /** DIMSE message counts. */
  messages: { received: number; sent: number };
  /** Byte counts. */
  bytes: { received: number; sent: number };
}

/** The JSON body of `GET /status`. */
export interface StatusJson {
  /** Version of dimse. */
  version: string;
  /** The SCP's AE title. */
  aeTitle: string;
  /** When the SCP started (ISO 8601). */
  startedAt: string;
  /** Seconds since start. */
  uptimeSeconds: number;
  /** Where it listens, or null. */
  listening: ListeningAddress | null;
  /** Whether it accepts associations now. */
  accepting: boolean;
  /** Associations in progress. */
  associations: AssociationStatusJson[];
  /** Totals since start. */
  totals: {
    associations: AssociationTotals;
    messages: MessageTotal[];
    bytes: { received: number; sent: number };
  };
}

/** Turns a snapshot into the JSON body of `GET /status`. */
export function statusJson(snapshot: StatusSnapshot, now: Date = new Date()): StatusJson {
  function seconds(since: Date): number {
    return Math.max(0, Math.round((now.getTime() - since.getTime()) / 100) / 10);
  }
  return {
    version: snapshot.version,
    aeTitle: snapshot.aeTitle,
    startedAt: snapshot.startedAt.toISOString(),
    uptimeSeconds: seconds(snapshot.startedAt),
    listening: snapshot.listening,
    accepting: snapshot.accepting,
    associations: snapshot.associations.map((a) => ({
      callingAeTitle: a.callingAeTitle,
      calledAeTitle: a.calledAeTitle,
      address: a.address,
      started: a.started.toISOString(),
      state: a.state,
      durationSeconds: seconds(a.started),
      acceptedContexts: a.acceptedContexts,
      messages: { received: a.messagesReceived, sent: a.messagesSent },
      bytes: { received: a.bytesReceived, sent: a.bytesSent },
    })),
    totals: {
      associations: snapshot.totals.associations,
      messages: snapshot.totals.messages,
      bytes: { received: snapshot.totals.bytesReceived, sent: snapshot.totals.bytesSent },
    },
  };
}
