/**
 * Association negotiation (PS3.8 §7.1, PS3.7 Annex D.3.3) as pure functions: the acceptor's
 * checks and answer to an A-ASSOCIATE-RQ, the requestor's proposal, and the reading of the
 * A-ASSOCIATE-AC into a {@linkcode NegotiatedAssociation}.
 *
 * @module
 */
import {
  type AAssociateAc,
  type AAssociateRj,
  type AAssociateRq,
  type AsynchronousOperationsWindow,
  DICOM_APPLICATION_CONTEXT_NAME,
  emptyUserInformation,
  PduType,
  type PresentationContextItemAc,
  PresentationContextResult,
  type ScpScuRoleSelection,
  type SopClassCommonExtendedNegotiation,
  type SopClassExtendedNegotiation,
  type UserIdentityRq,
} from "./pdu.ts";
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from "./uids.ts";

/** Default maximum P-DATA-TF variable field length we receive (PS3.8 §9.3.2.3 max length). */
export const DEFAULT_MAX_PDU_LENGTH = 65536;

/** A-ASSOCIATE-RJ result, source and reason values (PS3.8 Table 9-21). */
export const RejectResult = { PERMANENT: 1, TRANSIENT: 2 } as const;

/** A-ASSOCIATE-RJ source values (PS3.8 Table 9-21). */
export const RejectSource = {
  SERVICE_USER: 1,
  SERVICE_PROVIDER_ACSE: 2,
  SERVICE_PROVIDER_PRESENTATION: 3,
} as const;

/** A-ASSOCIATE-RJ reasons, per source (PS3.8 Table 9-21). */
export const RejectReason = {
  /** Source 1. */
  NO_REASON_GIVEN: 1,
  /** Source 1. */
  APPLICATION_CONTEXT_NAME_NOT_SUPPORTED: 2,
  /** Source 1. */
  CALLING_AE_TITLE_NOT_RECOGNIZED: 3,
  /** Source 1. */
  CALLED_AE_TITLE_NOT_RECOGNIZED: 7,
  /** Source 2. */
  PROTOCOL_VERSION_NOT_SUPPORTED: 2,
  /** Source 3. */
  TEMPORARY_CONGESTION: 1,
  /** Source 3. */
  LOCAL_LIMIT_EXCEEDED: 2,
} as const;

/** What the acceptor supports for one abstract syntax (a SOP class). */
export interface AbstractSyntaxSupport {
  /** Transfer syntaxes accepted, in our order of preference. */
  transferSyntaxes: string[];
  /**
   * Transfer syntaxes accepted when the requestor takes only the SCP role by role selection
   * (we act as SCU, as a C-GET SCP does for its C-STORE sub-operations); default
   * `transferSyntaxes`.
   */
  scuTransferSyntaxes?: string[];
  /** Whether we can act as SCP of this SOP class (the requestor as SCU); default true. */
  scpRole?: boolean;
  /** Whether we can act as SCU of this SOP class (the requestor as SCP); default false. */
  scuRole?: boolean;
}

/** Who asks and who is asked, for the hooks. */
export interface AssociateRequestInfo {
  /** Calling AE title of the request. */
  callingAeTitle: string;
  /** Called AE title of the request. */
  calledAeTitle: string;
  /** Peer network address, when known. */
  peerAddress?: string;
  /** The request as received. */
  rq: AAssociateRq;
}

/** The answer of an authenticator: false rejects, an object accepts. */
export type AuthenticatorResult = false | { serverResponse?: Uint8Array };

/** Decides on a User Identity (PS3.7 Annex D.3.3.7); called with undefined when none is sent. */
export type Authenticator = (
  identity: UserIdentityRq | undefined,
  info: AssociateRequestInfo,
) => Promise<AuthenticatorResult>;

/** Answers SOP Class Extended and Common Extended Negotiation (PS3.7 Annex D.3.3.5–6). */
export type ExtendedNegotiationHook = (
  items: {
    sopClassExtendedNegotiations: SopClassExtendedNegotiation[];
    sopClassCommonExtendedNegotiations: SopClassCommonExtendedNegotiation[];
  },
  info: AssociateRequestInfo,
) => SopClassExtendedNegotiation[] | Promise<SopClassExtendedNegotiation[]>;

/** The acceptor's configuration for negotiation. */
export interface AcceptorPolicy {
  /** Our AE title. */
  aeTitle: string;
  /** Reject (1/1/7) a called AE title other than ours; default false (any is answered). */
  requireCalledAeTitle?: boolean;
  /** When set, calling AE titles outside the list are rejected (1/1/3). */
  allowedCallingAeTitles?: string[];
  /** Supported abstract syntaxes. */
  abstractSyntaxes: ReadonlyMap<string, AbstractSyntaxSupport>;
  /** Maximum P-DATA-TF variable field length we receive; 0 = unlimited. */
  maxPduLength?: number;
  /** Window we allow, from our side: operations we may invoke and may perform; 0 = unlimited. */
  asyncOpsWindow?: AsynchronousOperationsWindow;
  /** Answers extended negotiation; without it nothing is answered. */
  extendedNegotiation?: ExtendedNegotiationHook;
  /** Decides on user identity; without it the sub-item is ignored. */
  authenticator?: Authenticator;
}

/** An accepted presentation context. */
export interface AcceptedPresentationContext {
  /** Presentation context id (odd, 1–255). */
  presentationContextId: number;
  /** Abstract syntax (SOP class UID). */
  abstractSyntax: string;
  /** The accepted transfer syntax. */
  transferSyntax: string;
  /** Whether the requestor may act as SCU on it. */
  requestorIsScu: boolean;
  /** Whether the requestor may act as SCP on it. */
  requestorIsScp: boolean;
}

/** A rejected presentation context. */
export interface RejectedPresentationContext {
  /** Presentation context id. */
  presentationContextId: number;
  /** Abstract syntax proposed. */
  abstractSyntax: string;
  /** PS3.8 Table 9-18 result: 1 user rejection, 2 no reason, 3 abstract syntax, 4 transfer syntaxes. */
  result: number;
}

/** The outcome of negotiation, from this end's point of view. */
export interface NegotiatedAssociation {
  /** Whether this end requested the association. */
  isRequestor: boolean;
  /** Calling AE title. */
  callingAeTitle: string;
  /** Called AE title. */
  calledAeTitle: string;
  /** Accepted presentation contexts, by id order. */
  accepted: AcceptedPresentationContext[];
  /** Rejected presentation contexts. */
  rejected: RejectedPresentationContext[];
  /** Maximum P-DATA-TF variable field length we receive; 0 = unlimited. */
  ourMaxPduLength: number;
  /** Maximum P-DATA-TF variable field length the peer receives; 0 = unlimited. */
  peerMaxPduLength: number;
  /** Operations this end may have outstanding as invoker; 0 = unlimited. */
  maxOperationsInvoked: number;
  /** Operations this end may be asked to perform at once; 0 = unlimited. */
  maxOperationsPerformed: number;
  /** Peer Implementation Class UID. */
  peerImplementationClassUid?: string;
  /** Peer Implementation Version Name. */
  peerImplementationVersionName?: string;
  /** User identity server response received (requestor) or sent (acceptor). */
  userIdentityServerResponse?: Uint8Array;
  /** SOP Class Extended Negotiation answered in the A-ASSOCIATE-AC. */
  sopClassExtendedNegotiations: SopClassExtendedNegotiation[];
  /** The A-ASSOCIATE-RQ. */
  rq: AAssociateRq;
  /** The A-ASSOCIATE-AC. */
  ac: AAssociateAc;
}

/** Builds an A-ASSOCIATE-RJ PDU. */
export function associateRj(result: number, source: number, reason: number): AAssociateRj {
  return { pduType: PduType.A_ASSOCIATE_RJ, result, source, reason };
}

/**
 * The service-provider checks of AE-6 (PS3.8 §9.2.2): protocol version (1/2/2) and the local
 * association limit (2/3/2). Undefined when acceptable.
 */
export function checkProviderAcceptance(
  rq: AAssociateRq,
  options: { activeAssociations: number; maxAssociations?: number },
): AAssociateRj | undefined {
  // PS3.8 §9.3.2: a receiver implementing version 1 only tests that bit 0 is set.
  if ((rq.protocolVersion & 1) === 0) {
    return associateRj(
      RejectResult.PERMANENT,
      RejectSource.SERVICE_PROVIDER_ACSE,
      RejectReason.PROTOCOL_VERSION_NOT_SUPPORTED,
    );
  }
  if (
    options.maxAssociations !== undefined && options.maxAssociations > 0 &&
    options.activeAssociations >= options.maxAssociations
  ) {
    return associateRj(
      RejectResult.TRANSIENT,
      RejectSource.SERVICE_PROVIDER_PRESENTATION,
      RejectReason.LOCAL_LIMIT_EXCEEDED,
    );
  }
  return undefined;
}

/**
 * The service-user checks (PS3.8 Table 9-21, source 1): application context name (1/1/2),
 * called AE title (1/1/7) when required, calling AE title allow-list (1/1/3).
 */
export function checkUserAcceptance(
  rq: AAssociateRq,
  policy: AcceptorPolicy,
): AAssociateRj | undefined {
  if (rq.applicationContextName !== DICOM_APPLICATION_CONTEXT_NAME) {
    return associateRj(
      RejectResult.PERMANENT,
      RejectSource.SERVICE_USER,
      RejectReason.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED,
    );
  }
  if (policy.requireCalledAeTitle && rq.calledAeTitle.trim() !== policy.aeTitle.trim()) {
    return associateRj(
      RejectResult.PERMANENT,
      RejectSource.SERVICE_USER,
      RejectReason.CALLED_AE_TITLE_NOT_RECOGNIZED,
    );
  }
  if (
    policy.allowedCallingAeTitles &&
    !policy.allowedCallingAeTitles.some((t) => t.trim() === rq.callingAeTitle.trim())
  ) {
    return associateRj(
      RejectResult.PERMANENT,
      RejectSource.SERVICE_USER,
      RejectReason.CALLING_AE_TITLE_NOT_RECOGNIZED,
    );
  }
  return undefined;
}

/** min where 0 means unlimited (PS3.7 Annex D.3.3.3). */
function minWindow(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}

/**
 * Answers one proposed presentation context (PS3.8 §9.3.3.2, Table 9-18). `roleAnswers` are
 * our answers to the role selection (PS3.7 D.3.3.4): a context whose requestor is SCP only is
 * taken with the transfer syntaxes of our SCU role.
 */
export function negotiatePresentationContext(
  proposed: { presentationContextId: number; abstractSyntax: string; transferSyntaxes: string[] },
  abstractSyntaxes: ReadonlyMap<string, AbstractSyntaxSupport>,
  roleAnswers?: ScpScuRoleSelection[],
): PresentationContextItemAc {
  const support = abstractSyntaxes.get(proposed.abstractSyntax);
  const candidates = support && transferSyntaxesFor(
    support,
    requestorRoles(proposed.abstractSyntax, roleAnswers),
  );
  if (!support || candidates!.length === 0) {
    return {
      presentationContextId: proposed.presentationContextId,
      result: PresentationContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED,
      transferSyntax: proposed.transferSyntaxes[0] ?? "",
    };
  }
  const chosen = candidates!.find((ts) => proposed.transferSyntaxes.includes(ts));
  if (chosen === undefined) {
    return {
      presentationContextId: proposed.presentationContextId,
      result: PresentationContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED,
      transferSyntax: proposed.transferSyntaxes[0] ?? "",
    };
  }
  return {
    presentationContextId: proposed.presentationContextId,
    result: PresentationContextResult.ACCEPTANCE,
    transferSyntax: chosen,
  };
}

/** The transfer syntaxes we take on a context, in preference order, by the requestor's roles. */
function transferSyntaxesFor(
  support: AbstractSyntaxSupport,
  roles: { requestorIsScu: boolean; requestorIsScp: boolean },
): string[] {
  const asScu = support.scuTransferSyntaxes ?? support.transferSyntaxes;
  if (roles.requestorIsScp && !roles.requestorIsScu) return asScu;
  if (!roles.requestorIsScp) return support.transferSyntaxes;
  return [...new Set([...support.transferSyntaxes, ...asScu])];
}

/** The acceptor's answer to the requestor's role proposals (PS3.7 Annex D.3.3.4). */
export function negotiateRoles(
  proposals: ScpScuRoleSelection[],
  abstractSyntaxes: ReadonlyMap<string, AbstractSyntaxSupport>,
): ScpScuRoleSelection[] {
  const answers: ScpScuRoleSelection[] = [];
  for (const p of proposals) {
    const support = abstractSyntaxes.get(p.sopClassUid);
    if (!support) continue;
    answers.push({
      sopClassUid: p.sopClassUid,
      // The requestor as SCU needs us as SCP, and the reverse.
      scuRole: p.scuRole && (support.scpRole ?? true),
      scpRole: p.scpRole && (support.scuRole ?? false),
    });
  }
  return answers;
}

/** The requestor's roles on an abstract syntax, given the role selection (PS3.7 D.3.3.4). */
function requestorRoles(
  abstractSyntax: string,
  answers: ScpScuRoleSelection[] | undefined,
): { requestorIsScu: boolean; requestorIsScp: boolean } {
  const answer = answers?.find((r) => r.sopClassUid === abstractSyntax);
  // Without role selection the requestor is SCU and the acceptor SCP.
  if (!answer) return { requestorIsScu: true, requestorIsScp: false };
  return { requestorIsScu: answer.scuRole, requestorIsScp: answer.scpRole };
}

/** The acceptor's full answer: the A-ASSOCIATE-AC or an A-ASSOCIATE-RJ. */
export type AcceptorDecision =
  | { accepted: true; ac: AAssociateAc; negotiated: NegotiatedAssociation }
  | { accepted: false; rj: AAssociateRj };

/**
 * Negotiates an A-ASSOCIATE-RQ as acceptor: service-user checks, user identity, presentation
 * contexts, maximum length, implementation identification, role selection, asynchronous
 * operations window and extended negotiation.
 */
export async function negotiateAsAcceptor(
  rq: AAssociateRq,
  policy: AcceptorPolicy,
  peerAddress?: string,
): Promise<AcceptorDecision> {
  const rj = checkUserAcceptance(rq, policy);
  if (rj) return { accepted: false, rj };
  const info: AssociateRequestInfo = {
    callingAeTitle: rq.callingAeTitle,
    calledAeTitle: rq.calledAeTitle,
    peerAddress,
    rq,
  };
  const ui = rq.userInformation;
  let serverResponse: Uint8Array | undefined;
  if (policy.authenticator) {
    const verdict = await policy.authenticator(ui.userIdentityRq, info);
    if (verdict === false) {
      return {
        accepted: false,
        rj: associateRj(
          RejectResult.PERMANENT,
          RejectSource.SERVICE_USER,
          RejectReason.NO_REASON_GIVEN,
        ),
      };
    }
    // PS3.7 Annex D.3.3.7.2: the response is sent only when a positive response was asked for.
    if (ui.userIdentityRq?.positiveResponseRequested) {
      serverResponse = verdict.serverResponse ?? new Uint8Array(0);
    }
  }

  const roleAnswers = negotiateRoles(ui.roleSelections, policy.abstractSyntaxes);
  const answers = rq.presentationContexts.map((pc) =>
    negotiatePresentationContext(pc, policy.abstractSyntaxes, roleAnswers)
  );
  const ourMax = policy.maxPduLength ?? DEFAULT_MAX_PDU_LENGTH;

  const userInformation = emptyUserInformation();
  userInformation.maximumLength = ourMax;
  userInformation.implementationClassUid = IMPLEMENTATION_CLASS_UID;
  userInformation.implementationVersionName = IMPLEMENTATION_VERSION_NAME;
  userInformation.roleSelections = roleAnswers;

  // PS3.7 Annex D.3.3.3: values in RQ and AC are from the requestor's side; the acceptor
  // answers no more than asked and no more than it allows. Absent means 1/1.
  const allowed = policy.asyncOpsWindow ?? { maxOperationsInvoked: 1, maxOperationsPerformed: 1 };
  let requestorInvokes = 1;
  let requestorPerforms = 1;
  if (ui.asynchronousOperationsWindow) {
    requestorInvokes = minWindow(
      ui.asynchronousOperationsWindow.maxOperationsInvoked,
      allowed.maxOperationsPerformed,
    );
    requestorPerforms = minWindow(
      ui.asynchronousOperationsWindow.maxOperationsPerformed,
      allowed.maxOperationsInvoked,
    );
    userInformation.asynchronousOperationsWindow = {
      maxOperationsInvoked: requestorInvokes,
      maxOperationsPerformed: requestorPerforms,
    };
  }

  let extended: SopClassExtendedNegotiation[] = [];
  if (
    policy.extendedNegotiation &&
    (ui.sopClassExtendedNegotiations.length > 0 ||
      ui.sopClassCommonExtendedNegotiations.length > 0)
  ) {
    extended = await policy.extendedNegotiation({
      sopClassExtendedNegotiations: ui.sopClassExtendedNegotiations,
      sopClassCommonExtendedNegotiations: ui.sopClassCommonExtendedNegotiations,
    }, info);
  }
  userInformation.sopClassExtendedNegotiations = extended;
  if (serverResponse) userInformation.userIdentityAc = { serverResponse };

  const ac: AAssociateAc = {
    pduType: PduType.A_ASSOCIATE_AC,
    protocolVersion: 1,
    calledAeTitle: rq.calledAeTitle,
    callingAeTitle: rq.callingAeTitle,
    applicationContextName: DICOM_APPLICATION_CONTEXT_NAME,
    presentationContexts: answers,
    userInformation,
  };
  const negotiated = readNegotiation(rq, ac, false);
  return { accepted: true, ac, negotiated };
}

/** Options of the requestor's proposal. */
export interface ProposalOptions {
  /** Calling AE title (ours). */
  callingAeTitle: string;
  /** Called AE title (theirs). */
  calledAeTitle: string;
  /** Presentation contexts to propose; ids are assigned 1, 3, 5… when absent. */
  presentationContexts: {
    presentationContextId?: number;
    abstractSyntax: string;
    transferSyntaxes: string[];
  }[];
  /** Maximum P-DATA-TF variable field length we receive; 0 = unlimited. */
  maxPduLength?: number;
  /** Window asked for; absent means synchronous (1/1, the sub-item is not sent). */
  asyncOpsWindow?: AsynchronousOperationsWindow;
  /** Role selections proposed (requestor's roles). */
  roleSelections?: ScpScuRoleSelection[];
  /** User identity to send. */
  userIdentity?: UserIdentityRq;
  /** SOP Class Extended Negotiation items to send. */
  sopClassExtendedNegotiations?: SopClassExtendedNegotiation[];
  /** SOP Class Common Extended Negotiation items to send. */
  sopClassCommonExtendedNegotiations?: SopClassCommonExtendedNegotiation[];
}

/** Builds the A-ASSOCIATE-RQ for a proposal (PS3.8 §9.3.2). */
export function buildAssociateRq(options: ProposalOptions): AAssociateRq {
  const userInformation = emptyUserInformation();
  userInformation.maximumLength = options.maxPduLength ?? DEFAULT_MAX_PDU_LENGTH;
  userInformation.implementationClassUid = IMPLEMENTATION_CLASS_UID;
  userInformation.implementationVersionName = IMPLEMENTATION_VERSION_NAME;
  if (options.asyncOpsWindow) {
    userInformation.asynchronousOperationsWindow = { ...options.asyncOpsWindow };
  }
  userInformation.roleSelections = options.roleSelections ?? [];
  userInformation.sopClassExtendedNegotiations = options.sopClassExtendedNegotiations ?? [];
  userInformation.sopClassCommonExtendedNegotiations = options.sopClassCommonExtendedNegotiations ??
    [];
  if (options.userIdentity) userInformation.userIdentityRq = options.userIdentity;
  let nextId = 1;
  const presentationContexts = options.presentationContexts.map((pc) => {
    const id = pc.presentationContextId ?? nextId;
    nextId = Math.max(nextId, id + 2);
    return {
      presentationContextId: id,
      abstractSyntax: pc.abstractSyntax,
      transferSyntaxes: [...pc.transferSyntaxes],
    };
  });
  return {
    pduType: PduType.A_ASSOCIATE_RQ,
    protocolVersion: 1,
    calledAeTitle: options.calledAeTitle,
    callingAeTitle: options.callingAeTitle,
    applicationContextName: DICOM_APPLICATION_CONTEXT_NAME,
    presentationContexts,
    userInformation,
  };
}

/**
 * Reads an RQ and its AC into a {@linkcode NegotiatedAssociation} from one end's view
 * (PS3.8 §7.1.1, PS3.7 Annex D.3.3).
 */
export function readNegotiation(
  rq: AAssociateRq,
  ac: AAssociateAc,
  isRequestor: boolean,
): NegotiatedAssociation {
  const accepted: AcceptedPresentationContext[] = [];
  const rejected: RejectedPresentationContext[] = [];
  for (const answer of ac.presentationContexts) {
    const proposed = rq.presentationContexts.find((p) =>
      p.presentationContextId === answer.presentationContextId
    );
    if (!proposed) continue;
    if (answer.result === PresentationContextResult.ACCEPTANCE) {
      accepted.push({
        presentationContextId: answer.presentationContextId,
        abstractSyntax: proposed.abstractSyntax,
        transferSyntax: answer.transferSyntax,
        ...requestorRoles(proposed.abstractSyntax, ac.userInformation.roleSelections),
      });
    } else {
      rejected.push({
        presentationContextId: answer.presentationContextId,
        abstractSyntax: proposed.abstractSyntax,
        result: answer.result,
      });
    }
  }
  // Proposed contexts the AC does not answer count as rejected without reason.
  for (const p of rq.presentationContexts) {
    if (!ac.presentationContexts.some((a) => a.presentationContextId === p.presentationContextId)) {
      rejected.push({
        presentationContextId: p.presentationContextId,
        abstractSyntax: p.abstractSyntax,
        result: PresentationContextResult.NO_REASON,
      });
    }
  }
  accepted.sort((a, b) => a.presentationContextId - b.presentationContextId);
  const window = ac.userInformation.asynchronousOperationsWindow ??
    { maxOperationsInvoked: 1, maxOperationsPerformed: 1 };
  const rqMax = rq.userInformation.maximumLength ?? 0;
  const acMax = ac.userInformation.maximumLength ?? 0;
  return {
    isRequestor,
    callingAeTitle: rq.callingAeTitle,
    calledAeTitle: rq.calledAeTitle,
    accepted,
    rejected,
    ourMaxPduLength: isRequestor ? rqMax : acMax,
    peerMaxPduLength: isRequestor ? acMax : rqMax,
    maxOperationsInvoked: isRequestor ? window.maxOperationsInvoked : window.maxOperationsPerformed,
    maxOperationsPerformed: isRequestor
      ? window.maxOperationsPerformed
      : window.maxOperationsInvoked,
    peerImplementationClassUid: isRequestor
      ? ac.userInformation.implementationClassUid
      : rq.userInformation.implementationClassUid,
    peerImplementationVersionName: isRequestor
      ? ac.userInformation.implementationVersionName
      : rq.userInformation.implementationVersionName,
    userIdentityServerResponse: ac.userInformation.userIdentityAc?.serverResponse,
    sopClassExtendedNegotiations: ac.userInformation.sopClassExtendedNegotiations,
    rq,
    ac,
  };
}
