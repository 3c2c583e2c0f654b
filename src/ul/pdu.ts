/**
 * The PDUs of the DICOM Upper Layer protocol and their items, as plain data (PS3.8 §9.3,
 * PS3.7 Annex D). Only the Wasm codec (see `codec.ts`) turns them into bytes and back.
 *
 * @module
 */

/** PDU type codes (PS3.8 §9.3.1). */
export const PduType = {
  A_ASSOCIATE_RQ: 0x01,
  A_ASSOCIATE_AC: 0x02,
  A_ASSOCIATE_RJ: 0x03,
  P_DATA_TF: 0x04,
  A_RELEASE_RQ: 0x05,
  A_RELEASE_RP: 0x06,
  A_ABORT: 0x07,
} as const;

/** Item and sub-item type codes (PS3.8 §9.3.2, §9.3.3, PS3.7 Annex D.3.3). */
export const ItemType = {
  APPLICATION_CONTEXT: 0x10,
  PRESENTATION_CONTEXT_RQ: 0x20,
  PRESENTATION_CONTEXT_AC: 0x21,
  ABSTRACT_SYNTAX: 0x30,
  TRANSFER_SYNTAX: 0x40,
  USER_INFORMATION: 0x50,
  MAXIMUM_LENGTH: 0x51,
  IMPLEMENTATION_CLASS_UID: 0x52,
  ASYNCHRONOUS_OPERATIONS_WINDOW: 0x53,
  SCP_SCU_ROLE_SELECTION: 0x54,
  IMPLEMENTATION_VERSION_NAME: 0x55,
  SOP_CLASS_EXTENDED_NEGOTIATION: 0x56,
  SOP_CLASS_COMMON_EXTENDED_NEGOTIATION: 0x57,
  USER_IDENTITY_RQ: 0x58,
  USER_IDENTITY_AC: 0x59,
} as const;

/** The DICOM Application Context Name (PS3.7 Annex A.2.1). */
export const DICOM_APPLICATION_CONTEXT_NAME = "1.2.840.10008.3.1.1.1";

/** A presentation context proposed in an A-ASSOCIATE-RQ (PS3.8 §9.3.2.2). */
export interface PresentationContextItemRq {
  /** Odd integer 1–255. */
  presentationContextId: number;
  /** Abstract syntax name (a SOP class UID). */
  abstractSyntax: string;
  /** Transfer syntax names, in the requestor's order. */
  transferSyntaxes: string[];
}

/** Result/reason of a presentation context in an A-ASSOCIATE-AC (PS3.8 Table 9-18). */
export const PresentationContextResult = {
  ACCEPTANCE: 0,
  USER_REJECTION: 1,
  NO_REASON: 2,
  ABSTRACT_SYNTAX_NOT_SUPPORTED: 3,
  TRANSFER_SYNTAXES_NOT_SUPPORTED: 4,
} as const;

/** A presentation context answered in an A-ASSOCIATE-AC (PS3.8 §9.3.3.2). */
export interface PresentationContextItemAc {
  /** The id of the proposed context this answers. */
  presentationContextId: number;
  /** 0 acceptance, 1 user rejection, 2 no reason, 3 abstract syntax not supported, 4 transfer syntaxes not supported. */
  result: number;
  /** The accepted transfer syntax; when the context is rejected its value is not significant. */
  transferSyntax: string;
}

/** SCP/SCU Role Selection sub-item (PS3.7 Annex D.3.3.4). */
export interface ScpScuRoleSelection {
  /** The SOP class the roles are negotiated for. */
  sopClassUid: string;
  /** RQ: the requestor proposes to be SCU; AC: the proposal is accepted. */
  scuRole: boolean;
  /** RQ: the requestor proposes to be SCP; AC: the proposal is accepted. */
  scpRole: boolean;
}

/** SOP Class Extended Negotiation sub-item (PS3.7 Annex D.3.3.5). */
export interface SopClassExtendedNegotiation {
  /** The SOP class the information is for. */
  sopClassUid: string;
  /** Service-class-application-information, as defined by the service class. */
  serviceClassApplicationInformation: Uint8Array;
}

/** SOP Class Common Extended Negotiation sub-item (PS3.7 Annex D.3.3.6). */
export interface SopClassCommonExtendedNegotiation {
  /** The SOP class proposed. */
  sopClassUid: string;
  /** The service class the SOP class belongs to. */
  serviceClassUid: string;
  /** Related general SOP class UIDs, possibly none. */
  relatedGeneralSopClassUids: string[];
}

/** Asynchronous Operations Window sub-item (PS3.7 Annex D.3.3.3); 0 means unlimited. */
export interface AsynchronousOperationsWindow {
  /** Maximum number of outstanding operations the sender may invoke. */
  maxOperationsInvoked: number;
  /** Maximum number of outstanding operations the sender may perform. */
  maxOperationsPerformed: number;
}

/** User Identity sub-item of an A-ASSOCIATE-RQ (PS3.7 Annex D.3.3.7.1). */
export interface UserIdentityRq {
  /** 1 username, 2 username and passcode, 3 Kerberos, 4 SAML, 5 JWT. */
  userIdentityType: number;
  /** Whether the requestor asks for a server response. */
  positiveResponseRequested: boolean;
  /** Primary field (username, ticket, assertion or token). */
  primaryField: Uint8Array;
  /** Secondary field (passcode when the type is 2, else empty). */
  secondaryField: Uint8Array;
}

/** User Identity sub-item of an A-ASSOCIATE-AC (PS3.7 Annex D.3.3.7.2). */
export interface UserIdentityAc {
  /** Server response (Kerberos ticket, SAML response or JWT), possibly empty. */
  serverResponse: Uint8Array;
}

/** A user information sub-item this codec does not know, kept as it came. */
export interface UnknownUserInformationItem {
  /** Sub-item type byte. */
  itemType: number;
  /** The sub-item's value, without its 4-byte header. */
  data: Uint8Array;
}

/**
 * User Information item (PS3.8 §9.3.2.3, PS3.7 Annex D.3.3). Sub-items are encoded in ascending
 * type order; unknown sub-items come last.
 */
export interface UserInformation {
  /** Maximum length of the P-DATA-TF variable field the sender can receive; 0 = no limit. */
  maximumLength?: number;
  /** Implementation Class UID. */
  implementationClassUid?: string;
  /** Implementation Version Name (1–16 characters). */
  implementationVersionName?: string;
  /** Asynchronous Operations Window; absent means synchronous mode (1/1). */
  asynchronousOperationsWindow?: AsynchronousOperationsWindow;
  /** SCP/SCU Role Selection sub-items. */
  roleSelections: ScpScuRoleSelection[];
  /** SOP Class Extended Negotiation sub-items. */
  sopClassExtendedNegotiations: SopClassExtendedNegotiation[];
  /** SOP Class Common Extended Negotiation sub-items (RQ only). */
  sopClassCommonExtendedNegotiations: SopClassCommonExtendedNegotiation[];
  /** User Identity negotiation (RQ only). */
  userIdentityRq?: UserIdentityRq;
  /** User Identity server response (AC only). */
  userIdentityAc?: UserIdentityAc;
  /** Sub-items of types not listed above, kept in order. */
  unknownItems: UnknownUserInformationItem[];
}

/** A-ASSOCIATE-RQ PDU (PS3.8 §9.3.2). */
export interface AAssociateRq {
  /** PDU type discriminator. */
  pduType: typeof PduType.A_ASSOCIATE_RQ;
  /** Protocol-version bit field; bit 0 set is version 1. */
  protocolVersion: number;
  /** Called AE title, without padding. */
  calledAeTitle: string;
  /** Calling AE title, without padding. */
  callingAeTitle: string;
  /** Application context name. */
  applicationContextName: string;
  /** Proposed presentation contexts, in order. */
  presentationContexts: PresentationContextItemRq[];
  /** User information. */
  userInformation: UserInformation;
}

/** A-ASSOCIATE-AC PDU (PS3.8 §9.3.3). */
export interface AAssociateAc {
  /** PDU type discriminator. */
  pduType: typeof PduType.A_ASSOCIATE_AC;
  /** Protocol-version bit field; bit 0 set is version 1. */
  protocolVersion: number;
  /** Called AE title as received in the RQ, without padding. */
  calledAeTitle: string;
  /** Calling AE title as received in the RQ, without padding. */
  callingAeTitle: string;
  /** Application context name. */
  applicationContextName: string;
  /** One answer per proposed presentation context. */
  presentationContexts: PresentationContextItemAc[];
  /** User information. */
  userInformation: UserInformation;
}

/** A-ASSOCIATE-RJ PDU (PS3.8 §9.3.4, Table 9-21). */
export interface AAssociateRj {
  /** PDU type discriminator. */
  pduType: typeof PduType.A_ASSOCIATE_RJ;
  /** 1 rejected-permanent, 2 rejected-transient. */
  result: number;
  /** 1 service-user, 2 service-provider (ACSE), 3 service-provider (presentation). */
  source: number;
  /** Reason, whose meaning depends on the source (PS3.8 Table 9-21). */
  reason: number;
}

/** One Presentation Data Value item of a P-DATA-TF PDU (PS3.8 §9.3.5.1, Annex E.2). */
export interface PresentationDataValue {
  /** Presentation context id the fragment belongs to. */
  presentationContextId: number;
  /** Message control header bit 0: a command fragment (else a data set fragment). */
  isCommand: boolean;
  /** Message control header bit 1: the last fragment of the command or data set. */
  isLast: boolean;
  /** The fragment. */
  data: Uint8Array;
}

/** P-DATA-TF PDU (PS3.8 §9.3.5). */
export interface PDataTf {
  /** PDU type discriminator. */
  pduType: typeof PduType.P_DATA_TF;
  /** One or more PDV items. */
  presentationDataValues: PresentationDataValue[];
}

/** A-RELEASE-RQ PDU (PS3.8 §9.3.6). */
export interface AReleaseRq {
  /** PDU type discriminator. */
  pduType: typeof PduType.A_RELEASE_RQ;
}

/** A-RELEASE-RP PDU (PS3.8 §9.3.7). */
export interface AReleaseRp {
  /** PDU type discriminator. */
  pduType: typeof PduType.A_RELEASE_RP;
}

/** A-ABORT PDU (PS3.8 §9.3.8, Table 9-26). */
export interface AAbort {
  /** PDU type discriminator. */
  pduType: typeof PduType.A_ABORT;
  /** 0 service-user, 1 reserved, 2 service-provider. */
  source: number;
  /** With source 2: 0 not specified, 1 unrecognized PDU, 2 unexpected PDU, 4 unrecognized PDU parameter, 5 unexpected PDU parameter, 6 invalid PDU parameter value. */
  reason: number;
}

/** Any PDU of PS3.8. */
export type Pdu =
  | AAssociateRq
  | AAssociateAc
  | AAssociateRj
  | PDataTf
  | AReleaseRq
  | AReleaseRp
  | AAbort;

/** A-ABORT source values (PS3.8 Table 9-26). */
export const AbortSource = {
  SERVICE_USER: 0,
  SERVICE_PROVIDER: 2,
} as const;

/** A-ABORT reason values when the source is the service provider (PS3.8 Table 9-26). */
export const AbortReason = {
  REASON_NOT_SPECIFIED: 0,
  UNRECOGNIZED_PDU: 1,
  UNEXPECTED_PDU: 2,
  UNRECOGNIZED_PDU_PARAMETER: 4,
  UNEXPECTED_PDU_PARAMETER: 5,
  INVALID_PDU_PARAMETER_VALUE: 6,
} as const;

/** An empty user information item, to build on. */
export function emptyUserInformation(): UserInformation {
  return {
    roleSelections: [],
    sopClassExtendedNegotiations: [],
    sopClassCommonExtendedNegotiations: [],
    unknownItems: [],
  };
}
