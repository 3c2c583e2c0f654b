/**
 * One function per action of the upper layer state machine (PS3.8 §9.2.2, Tables 9-6 to 9-9).
 * Each does what the standard says through an {@linkcode ActionContext} and returns the next
 * state. The association (`association.ts`) looks the action up in `state_table.ts`.
 *
 * @module
 */
import {
  type AAssociateAc,
  type AAssociateRj,
  type AAssociateRq,
  AbortReason,
  AbortSource,
  type Pdu,
  PduType,
} from "./pdu.ts";
import type { ActionName, State } from "./state_table.ts";

/** A primitive the upper layer issues to its local user (PS3.8 §7). */
export type Indication =
  | { type: "associate-indication"; rq: AAssociateRq }
  | { type: "associate-accepted"; ac: AAssociateAc }
  | { type: "associate-rejected"; rj: AAssociateRj }
  | { type: "p-data-indication" }
  | { type: "release-indication"; collision: boolean }
  | { type: "release-confirmation" }
  | { type: "abort-indication"; source: number; reason: number; provider: boolean }
  | { type: "closed" };

/** What an event carries into its action. */
export interface ActionInput {
  /** The PDU received (Evt3, Evt4, Evt6, Evt12, Evt13, Evt16). */
  pdu?: Pdu;
  /** The PDU to send (Evt1 A-ASSOCIATE-RQ, Evt7 A-ASSOCIATE-AC, Evt8 A-ASSOCIATE-RJ). */
  send?: Pdu;
  /** Encoded P-DATA-TF PDUs to send (Evt9). */
  pData?: Uint8Array;
  /** A-ABORT reason when the provider aborts (Evt19 carries the PduError's reason). */
  abortReason?: number;
}

/** The services an action uses; implemented by the association. */
export interface ActionContext {
  /** Whether this end requested the association. */
  readonly isRequestor: boolean;
  /** Queues a PDU (or encoded PDUs) for sending; writes happen in order. */
  send(pdu: Pdu | Uint8Array): void;
  /** Starts opening the transport connection; completion raises Evt2, failure Evt17. */
  openTransport(): void;
  /** Closes the transport connection once queued writes are done. */
  closeTransport(): void;
  /** Starts (or restarts) the ARTIM timer; expiry raises Evt18. */
  startArtim(): void;
  /** Stops the ARTIM timer if running. */
  stopArtim(): void;
  /** Service-provider check of an A-ASSOCIATE-RQ: an A-ASSOCIATE-RJ when not acceptable. */
  providerCheck(rq: AAssociateRq): AAssociateRj | undefined;
  /** Issues a primitive to the local user. */
  indicate(indication: Indication): void;
}

/** An action: does its work and returns the next state. */
export type Action = (ctx: ActionContext, input: ActionInput) => State;

function abortPdu(source: number, reason: number): Pdu {
  return { pduType: PduType.A_ABORT, source, reason };
}

/** AE-1: Issue TRANSPORT CONNECT request primitive to local transport service. */
export function ae1(ctx: ActionContext): State {
  ctx.openTransport();
  return "Sta4";
}

/** AE-2: Send A-ASSOCIATE-RQ-PDU. */
export function ae2(ctx: ActionContext, input: ActionInput): State {
  if (input.send) ctx.send(input.send);
  return "Sta5";
}

/** AE-3: Issue A-ASSOCIATE confirmation (accept) primitive. */
export function ae3(ctx: ActionContext, input: ActionInput): State {
  ctx.indicate({ type: "associate-accepted", ac: input.pdu as AAssociateAc });
  return "Sta6";
}

/** AE-4: Issue A-ASSOCIATE confirmation (reject) primitive and close transport connection. */
export function ae4(ctx: ActionContext, input: ActionInput): State {
  ctx.indicate({ type: "associate-rejected", rj: input.pdu as AAssociateRj });
  ctx.closeTransport();
  return "Sta1";
}

/** AE-5: Issue Transport connection response primitive; start ARTIM timer. */
export function ae5(ctx: ActionContext): State {
  ctx.startArtim();
  return "Sta2";
}

/**
 * AE-6: Stop ARTIM timer and if A-ASSOCIATE-RQ acceptable by service-provider issue
 * A-ASSOCIATE indication primitive, otherwise issue A-ASSOCIATE-RJ-PDU and start ARTIM timer.
 */
export function ae6(ctx: ActionContext, input: ActionInput): State {
  ctx.stopArtim();
  const rq = input.pdu as AAssociateRq;
  const rj = ctx.providerCheck(rq);
  if (rj) {
    ctx.send(rj);
    ctx.startArtim();
    return "Sta13";
  }
  ctx.indicate({ type: "associate-indication", rq });
  return "Sta3";
}

/** AE-7: Send A-ASSOCIATE-AC PDU. */
export function ae7(ctx: ActionContext, input: ActionInput): State {
  if (input.send) ctx.send(input.send);
  return "Sta6";
}

/** AE-8: Send A-ASSOCIATE-RJ PDU and start ARTIM timer. */
export function ae8(ctx: ActionContext, input: ActionInput): State {
  if (input.send) ctx.send(input.send);
  ctx.startArtim();
  return "Sta13";
}

/** DT-1: Send P-DATA-TF PDU. */
export function dt1(ctx: ActionContext, input: ActionInput): State {
  if (input.pData) ctx.send(input.pData);
  return "Sta6";
}

/** DT-2: Send P-DATA indication primitive. */
export function dt2(ctx: ActionContext): State {
  ctx.indicate({ type: "p-data-indication" });
  return "Sta6";
}

/** AR-1: Send A-RELEASE-RQ PDU. */
export function ar1(ctx: ActionContext): State {
  ctx.send({ pduType: PduType.A_RELEASE_RQ });
  return "Sta7";
}

/** AR-2: Issue A-RELEASE indication primitive. */
export function ar2(ctx: ActionContext): State {
  ctx.indicate({ type: "release-indication", collision: false });
  return "Sta8";
}

/** AR-3: Issue A-RELEASE confirmation primitive, and close transport connection. */
export function ar3(ctx: ActionContext): State {
  ctx.indicate({ type: "release-confirmation" });
  ctx.closeTransport();
  return "Sta1";
}

/** AR-4: Issue A-RELEASE-RP PDU and start ARTIM timer. */
export function ar4(ctx: ActionContext): State {
  ctx.send({ pduType: PduType.A_RELEASE_RP });
  ctx.startArtim();
  return "Sta13";
}

/** AR-5: Stop ARTIM timer. */
export function ar5(ctx: ActionContext): State {
  ctx.stopArtim();
  return "Sta1";
}

/** AR-6: Issue P-DATA indication. */
export function ar6(ctx: ActionContext): State {
  ctx.indicate({ type: "p-data-indication" });
  return "Sta7";
}

/** AR-7: Issue P-DATA-TF PDU. */
export function ar7(ctx: ActionContext, input: ActionInput): State {
  if (input.pData) ctx.send(input.pData);
  return "Sta8";
}

/**
 * AR-8: Issue A-RELEASE indication (release collision): if association-requestor, next state
 * is Sta9, if not, Sta10.
 */
export function ar8(ctx: ActionContext): State {
  ctx.indicate({ type: "release-indication", collision: true });
  return ctx.isRequestor ? "Sta9" : "Sta10";
}

/** AR-9: Send A-RELEASE-RP PDU. */
export function ar9(ctx: ActionContext): State {
  ctx.send({ pduType: PduType.A_RELEASE_RP });
  return "Sta11";
}

/** AR-10: Issue A-RELEASE confirmation primitive. */
export function ar10(ctx: ActionContext): State {
  ctx.indicate({ type: "release-confirmation" });
  return "Sta12";
}

/**
 * AA-1: Send A-ABORT PDU (service-user source) and start (or restart if already started) ARTIM
 * timer.
 *
 * When AA-1 answers a PDU received in Sta2 (Evt3, 4, 10, 12, 13, 19) rather than a local
 * A-ABORT request, the abort is the provider's, so the PDU carries source 2 and the reason of
 * PS3.8 Table 9-26 that the event brings (1 for an unrecognized PDU, 2 for an unexpected one).
 */
export function aa1(ctx: ActionContext, input: ActionInput): State {
  if (input.abortReason === undefined) {
    ctx.send(abortPdu(AbortSource.SERVICE_USER, 0));
  } else {
    ctx.send(abortPdu(AbortSource.SERVICE_PROVIDER, input.abortReason));
  }
  ctx.startArtim();
  return "Sta13";
}

/** AA-2: Stop ARTIM timer if running. Close transport connection. */
export function aa2(ctx: ActionContext): State {
  ctx.stopArtim();
  ctx.closeTransport();
  return "Sta1";
}

/**
 * AA-3: If (service-user initiated abort) issue A-ABORT indication and close transport
 * connection, otherwise (service-provider initiated abort) issue A-P-ABORT indication and close
 * transport connection.
 */
export function aa3(ctx: ActionContext, input: ActionInput): State {
  const pdu = input.pdu;
  const source = pdu && pdu.pduType === PduType.A_ABORT ? pdu.source : 0;
  const reason = pdu && pdu.pduType === PduType.A_ABORT ? pdu.reason : 0;
  ctx.indicate({
    type: "abort-indication",
    source,
    reason,
    provider: source === AbortSource.SERVICE_PROVIDER,
  });
  ctx.closeTransport();
  return "Sta1";
}

/** AA-4: Issue A-P-ABORT indication primitive. */
export function aa4(ctx: ActionContext): State {
  ctx.indicate({
    type: "abort-indication",
    source: AbortSource.SERVICE_PROVIDER,
    reason: AbortReason.REASON_NOT_SPECIFIED,
    provider: true,
  });
  ctx.closeTransport();
  return "Sta1";
}

/** AA-5: Stop ARTIM timer. */
export function aa5(ctx: ActionContext): State {
  ctx.stopArtim();
  ctx.closeTransport();
  return "Sta1";
}

/** AA-6: Ignore PDU. */
export function aa6(): State {
  return "Sta13";
}

/** AA-7: Send A-ABORT PDU. */
export function aa7(ctx: ActionContext, input: ActionInput): State {
  ctx.send(
    abortPdu(
      AbortSource.SERVICE_PROVIDER,
      input.abortReason ?? AbortReason.UNEXPECTED_PDU,
    ),
  );
  return "Sta13";
}

/**
 * AA-8: Send A-ABORT PDU (service-provider source), issue an A-P-ABORT indication, and start
 * ARTIM timer.
 */
export function aa8(ctx: ActionContext, input: ActionInput): State {
  const reason = input.abortReason ?? AbortReason.UNEXPECTED_PDU;
  ctx.send(abortPdu(AbortSource.SERVICE_PROVIDER, reason));
  ctx.indicate({
    type: "abort-indication",
    source: AbortSource.SERVICE_PROVIDER,
    reason,
    provider: true,
  });
  ctx.startArtim();
  return "Sta13";
}

/** Every action by its PS3.8 name. */
export const ACTIONS: Readonly<Record<ActionName, Action>> = {
  "AE-1": ae1,
  "AE-2": ae2,
  "AE-3": ae3,
  "AE-4": ae4,
  "AE-5": ae5,
  "AE-6": ae6,
  "AE-7": ae7,
  "AE-8": ae8,
  "DT-1": dt1,
  "DT-2": dt2,
  "AR-1": ar1,
  "AR-2": ar2,
  "AR-3": ar3,
  "AR-4": ar4,
  "AR-5": ar5,
  "AR-6": ar6,
  "AR-7": ar7,
  "AR-8": ar8,
  "AR-9": ar9,
  "AR-10": ar10,
  "AA-1": aa1,
  "AA-2": aa2,
  "AA-3": aa3,
  "AA-4": aa4,
  "AA-5": aa5,
  "AA-6": aa6,
  "AA-7": aa7,
  "AA-8": aa8,
};
