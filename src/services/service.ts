/**
 * The handler API for services: one mechanism for every SOP class. A service declares which
 * abstract syntaxes it takes, with which transfer syntaxes and roles, and handles each request
 * received on a presentation context of one of them.
 *
 * @module
 */
import type { CommandSet } from "../dimse/command.ts";
import type { DimseResponse, IncomingRequest, RequestOptions } from "../dimse/dispatcher.ts";
import type { DataSetSource } from "../dimse/message.ts";
import type { AcceptedPresentationContext, NegotiatedAssociation } from "../ul/negotiation.ts";
import { TransferSyntax } from "../ul/uids.ts";

/** Transfer syntaxes a service takes when it does not say, in our order of preference. */
export const DEFAULT_TRANSFER_SYNTAXES: readonly string[] = [
  TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN,
  TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN,
];

/** One SOP class (abstract syntax) a service takes. */
export interface SopClassSupport {
  /** The abstract syntax (SOP class UID). */
  abstractSyntax: string;
  /** Accepted transfer syntaxes, in our order of preference. */
  transferSyntaxes: readonly string[];
  /** We can act as SCP for it (the peer as SCU); default true. */
  scpRole?: boolean;
  /** We can act as SCU for it (the peer as SCP, e.g. C-STORE sub-operations of C-GET); default false. */
  scuRole?: boolean;
}

/** Options of {@linkcode DimseInvoker.invoke}. */
export interface InvokeOptions extends RequestOptions {
  /** The context to send on; by default the first accepted one for the abstract syntax. */
  presentationContextId?: number;
}

/**
 * An open association on which operations can be invoked: a client {@linkcode Association}
 * (src/client.ts) or, on the SCP side, {@linkcode ServiceRequest.association}, which stays usable
 * after the request that carried it has been answered (e.g. the N-EVENT-REPORT of Storage
 * Commitment, PS3.4 J.3.3, sent by the SCP on the requestor's association).
 */
export interface DimseInvoker {
  /** The negotiated association (accepted contexts and their transfer syntaxes). */
  readonly negotiated: NegotiatedAssociation;
  /**
   * Invokes an operation on the context accepted for `abstractSyntax` (or
   * `options.presentationContextId`) and resolves with the final response; the Message ID is
   * assigned when absent, and the call waits for a slot when the negotiated asynchronous
   * operations window (PS3.7 Annex D.3.3.3) is full. Rejects with `NoPresentationContextError`
   * (client) or an Error when no context fits, and with the association's end error once it
   * has ended.
   */
  invoke(
    abstractSyntax: string,
    command: CommandSet,
    options?: InvokeOptions,
  ): Promise<DimseResponse>;
}

/**
 * Who the request came from, and a handle on the association it came on. The handle outlives
 * the request: keep it to invoke operations later (`invoke`), check `open` first, and await
 * `closed` to learn when it ended.
 */
export interface AssociationInfo extends DimseInvoker {
  /** The association's id within its SCP or client. */
  id: number;
  /** Calling AE title (the requestor). */
  callingAeTitle: string;
  /** Called AE title. */
  calledAeTitle: string;
  /** Peer address "host:port". */
  peerAddress: string;
  /** The negotiated association. */
  negotiated: NegotiatedAssociation;
  /**
   * Whether operations can still be invoked and answered: true while established (PS3.8 Sta6).
   * Once the peer asked for release (Sta8) it is false: the peer, in Sta7, may receive P-DATA
   * but cannot send the response, so a report is better sent on a new association.
   */
  readonly open: boolean;
  /** Resolves once the association has ended (released or aborted) and its connection closed. */
  readonly closed: Promise<void>;
}

/** A response a handler gives: status, further command fields, optional data set. */
export interface ServiceResponse {
  /** DIMSE status (PS3.7 Annex C). */
  status: number;
  /** Further response command fields (Affected SOP Instance UID, counts, Error Comment…). */
  command?: Partial<Omit<CommandSet, "status" | "commandDataSetType">>;
  /** The response's data set (identifier, attribute list). */
  dataSet?: DataSetSource;
  /**
   * Work the response need not wait for, run once the final response is handed to the
   * transport (while the peer reads it and prepares its next request). Failures are ignored.
   */
  afterSend?: () => void;
}

/** A request handed to a service. */
export interface ServiceRequest {
  /** The request command set. */
  command: CommandSet;
  /** The data set, streamed with backpressure; read it, or it is discarded when handle returns. */
  dataSet?: ReadableStream<Uint8Array>;
  /** Presentation context the request came on. */
  presentationContextId: number;
  /** The context's abstract syntax. */
  abstractSyntax: string;
  /** The context's transfer syntax (of the data set). */
  transferSyntax: string;
  /** The association. */
  association: AssociationInfo;
  /** Aborted on C-CANCEL-RQ for this request, or when the association ends. */
  signal: AbortSignal;
  /** Sends a pending (FF00/FF01) or other intermediate response before the final one. */
  sendPending(response: ServiceResponse): Promise<void>;
  /** Invokes an operation on the same association (sub-operations, e.g. C-STORE for C-GET). */
  invoke(
    abstractSyntax: string,
    command: CommandSet,
    options?: RequestOptions,
  ): Promise<DimseResponse>;
}

/** A service: handler for the SOP classes it lists. */
export interface Service {
  /** A name for totals and logs, e.g. "verification". */
  readonly name: string;
  /** The SOP classes it takes. */
  readonly sopClasses: readonly SopClassSupport[];
  /** Handles one request; resolves with the final response. */
  handle(request: ServiceRequest): Promise<ServiceResponse>;
  /**
   * Called once by `Scp.close()` after its associations have ended: finish or persist work
   * still in progress (reports being delivered, timers). Optional.
   */
  close?(): Promise<void>;
}

/** Per-service, per-status counts of responses sent: `totals[service][statusHex]`. */
export type ServiceTotals = Record<string, Record<string, number>>;

/** Finds the service that performs requests of an abstract syntax. */
export function serviceFor(
  services: readonly Service[],
  abstractSyntax: string,
): Service | undefined {
  // A request is performed by a service that takes the SCP role for the SOP class; a service
  // listing it only for its SCU role (C-GET's C-STORE sub-operations) is the last resort.
  return services.find((s) =>
    s.sopClasses.some((c) => c.abstractSyntax === abstractSyntax && c.scpRole !== false)
  ) ?? services.find((s) => s.sopClasses.some((c) => c.abstractSyntax === abstractSyntax));
}

const SERVICE_CACHE = new WeakMap<
  readonly Service[],
  { count: number; byAbstractSyntax: Map<string, Service | undefined> }
>();

/**
 * {@linkcode serviceFor}, remembered per services list and abstract syntax: a storage service
 * lists every Storage SOP class, and a request would otherwise scan them all. A list that has
 * grown or shrunk since is looked up afresh.
 */
function cachedServiceFor(
  services: readonly Service[],
  abstractSyntax: string,
): Service | undefined {
  let cache = SERVICE_CACHE.get(services);
  if (!cache || cache.count !== services.length) {
    cache = { count: services.length, byAbstractSyntax: new Map() };
    SERVICE_CACHE.set(services, cache);
  }
  if (cache.byAbstractSyntax.has(abstractSyntax)) return cache.byAbstractSyntax.get(abstractSyntax);
  const service = serviceFor(services, abstractSyntax);
  cache.byAbstractSyntax.set(abstractSyntax, service);
  return service;
}

const CONTEXT_CACHE = new WeakMap<
  readonly AcceptedPresentationContext[],
  { count: number; byId: (AcceptedPresentationContext | undefined)[] }
>();

/**
 * The accepted context of a presentation context id, from a table made once per list of
 * accepted contexts: a request would otherwise search the list (storescu proposes 128
 * contexts). A list that has grown or shrunk since is indexed afresh.
 */
function acceptedContext(
  accepted: readonly AcceptedPresentationContext[],
  presentationContextId: number,
): AcceptedPresentationContext | undefined {
  let cache = CONTEXT_CACHE.get(accepted);
  if (!cache || cache.count !== accepted.length) {
    // Ids are odd, 1–255 (PS3.8 §9.3.2.2); the first context with an id wins, as in a search.
    const byId: (AcceptedPresentationContext | undefined)[] = new Array(256).fill(undefined);
    for (let i = accepted.length - 1; i >= 0; i--) {
      const id = accepted[i].presentationContextId;
      if (Number.isInteger(id) && id >= 0 && id < 256) byId[id] = accepted[i];
    }
    cache = { count: accepted.length, byId };
    CONTEXT_CACHE.set(accepted, cache);
  }
  return cache.byId[presentationContextId];
}

/**
 * Performs an incoming request with the service registered for its presentation context's
 * abstract syntax, sending pending and final responses. A handler that throws answers
 * Processing failure (0110, PS3.7 C.5.3) with the error as Error Comment.
 */
export async function performRequest(
  services: readonly Service[],
  incoming: IncomingRequest,
  context: {
    association: AssociationInfo;
    invoke: ServiceRequest["invoke"];
    onStatus?: (service: string, status: number) => void;
  },
): Promise<void> {
  const { message } = incoming;
  const pc = acceptedContext(
    context.association.negotiated.accepted,
    message.presentationContextId,
  );
  const abstractSyntax = pc?.abstractSyntax ?? "";
  const service = cachedServiceFor(services, abstractSyntax);
  const send = async (response: ServiceResponse, name: string) => {
    const command: Record<string, unknown> = { ...response.command };
    command.status = response.status;
    if (command.affectedSopClassUid === undefined) {
      command.affectedSopClassUid = message.command.affectedSopClassUid ?? abstractSyntax;
    }
    if (
      command.affectedSopInstanceUid === undefined &&
      message.command.affectedSopInstanceUid !== undefined
    ) {
      command.affectedSopInstanceUid = message.command.affectedSopInstanceUid;
    }
    await incoming.respond(
      command as Omit<CommandSet, "commandField" | "commandDataSetType">,
      response.dataSet,
    );
    context.onStatus?.(name, response.status);
  };
  if (!service) {
    await send({ status: 0x0122 }, "unknown");
    return;
  }
  const request: ServiceRequest = {
    command: message.command,
    dataSet: message.dataSet,
    presentationContextId: message.presentationContextId,
    abstractSyntax,
    transferSyntax: pc?.transferSyntax ?? "",
    association: context.association,
    signal: incoming.signal,
    sendPending: (response) => send(response, service.name),
    invoke: context.invoke,
  };
  let response: ServiceResponse;
  try {
    response = await service.handle(request);
  } catch (e) {
    response = {
      status: 0x0110,
      command: { errorComment: (e instanceof Error ? e.message : String(e)).slice(0, 64) },
    };
  }
  const sending = send(response, service.name);
  if (response.afterSend) {
    try {
      response.afterSend();
    } catch {
      // The response is sent; what follows it is the service's own concern.
    }
  }
  await sending;
}
