/**
 * Fills a {@linkcode StatusSource} from a live {@linkcode Scp}: its associations and totals, plus
 * what the SCP does not total itself (associations requested, bytes of finished associations),
 * counted from its events. Create it before `scp.listen()` so nothing is missed.
 *
 * @module
 */
import type { AssociationStatus as ScpAssociationStatus, Scp } from "../scp.ts";
import type {
  AssociationStatus,
  ListeningAddress,
  MessageTotal,
  StatusSnapshot,
  StatusSource,
} from "./source.ts";

/** What the SCP cannot tell about itself. */
export interface ScpStatusSourceOptions {
  /** Version of dimse to show. */
  version: string;
}

/** Splits "host:port" (IPv6 as "[addr]:port" or bare "addr:port") into its parts. */
export function parsePeerAddress(text: string): ListeningAddress {
  const colon = text.lastIndexOf(":");
  if (colon < 0) return { hostname: text, port: 0 };
  let hostname = text.slice(0, colon);
  if (hostname.startsWith("[") && hostname.endsWith("]")) hostname = hostname.slice(1, -1);
  const port = Number(text.slice(colon + 1));
  return { hostname, port: Number.isInteger(port) ? port : 0 };
}

function toStatus(a: ScpAssociationStatus): AssociationStatus {
  return {
    callingAeTitle: a.callingAeTitle,
    calledAeTitle: a.calledAeTitle,
    address: parsePeerAddress(a.peerAddress),
    started: new Date(a.started),
    state: a.state,
    acceptedContexts: a.acceptedContexts.map((c) => ({ ...c })),
    messagesReceived: a.messagesIn,
    messagesSent: a.messagesOut,
    bytesReceived: a.bytesIn,
    bytesSent: a.bytesOut,
  };
}

/** Creates a status source reading `scp`; it subscribes to the SCP's association events. */
export function scpStatusSource(scp: Scp, options: ScpStatusSourceOptions): StatusSource {
  let requested = 0;
  let finishedBytesIn = 0;
  let finishedBytesOut = 0;
  function finished(event: { association: ScpAssociationStatus }): void {
    finishedBytesIn += event.association.bytesIn;
    finishedBytesOut += event.association.bytesOut;
  }
  scp.on("association-requested", () => requested++);
  scp.on("association-rejected", finished);
  scp.on("association-released", finished);
  scp.on("association-aborted", finished);
  return {
    snapshot(): StatusSnapshot {
      const live = scp.associations;
      const totals = scp.totals;
      const messages: MessageTotal[] = [];
      for (const [service, byStatus] of Object.entries(totals.services)) {
        for (const [status, count] of Object.entries(byStatus)) {
          messages.push({ service, status: status.toUpperCase(), count });
        }
      }
      messages.sort((a, b) =>
        a.service.localeCompare(b.service) || a.status.localeCompare(b.status)
      );
      let bytesReceived = finishedBytesIn;
      let bytesSent = finishedBytesOut;
      for (const a of live) {
        bytesReceived += a.bytesIn;
        bytesSent += a.bytesOut;
      }
      const decided = totals.associationsAccepted + totals.associationsRejected;
      return {
        version: options.version,
        aeTitle: scp.aeTitle,
        startedAt: new Date(scp.startedAt),
        listening: scp.listening ? { hostname: scp.hostname, port: scp.port } : null,
        accepting: scp.listening,
        associations: live.map(toStatus),
        totals: {
          associations: {
            requested: Math.max(requested, decided),
            accepted: totals.associationsAccepted,
            rejected: totals.associationsRejected,
            released: totals.associationsReleased,
            aborted: totals.associationsAborted,
          },
          messages,
          bytesReceived,
          bytesSent,
        },
      };
    },
  };
}
