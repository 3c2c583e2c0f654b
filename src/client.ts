/**
 * The SCU side: requests an association (PS3.8 §7.1), then invokes DIMSE operations on it,
 * several at once within the negotiated window, and releases or aborts it.
 *
 * @module
 */
import { CommandField, type CommandSet, Priority } from "./dimse/command.ts";
import {
  type DimseResponse,
  Dispatcher,
  type IncomingRequest,
  type RequestOptions,
} from "./dimse/dispatcher.ts";
import type { Timeouts } from "./scp.ts";
import { type InvokeOptions, performRequest, type Service } from "./services/service.ts";
import type {
  NActionRequest,
  NCreateRequest,
  NDeleteRequest,
  NEventReportRequest,
  NGetRequest,
  NormalizedRequestOptions,
  NormalizedResult,
  NSetRequest,
} from "./services/normalized_scu.ts";
import type { DataSet } from "./dataset/dataset.ts";
import { storeInstance, type StoreOptions, type StoreResult } from "./services/storage_scu.ts";
import type {
  FindResult,
  GetOptions,
  MoveOptions,
  Query,
  QueryModel,
  QueryOptions,
  RetrieveResult,
} from "./services/query_retrieve_scu.ts";
import { UpperLayerAssociation } from "./ul/association.ts";
import type { Indication } from "./ul/actions.ts";
import {
  buildAssociateRq,
  DEFAULT_MAX_PDU_LENGTH,
  type NegotiatedAssociation,
  readNegotiation,
} from "./ul/negotiation.ts";
import type {
  AAssociateRq,
  AsynchronousOperationsWindow,
  ScpScuRoleSelection,
  SopClassCommonExtendedNegotiation,
  SopClassExtendedNegotiation,
  UserIdentityRq,
} from "./ul/pdu.ts";
import type { State } from "./ul/state_table.ts";
import { connectTransport, type TlsOptions } from "./ul/transport.ts";
import { TransferSyntax, VERIFICATION_SOP_CLASS } from "./ul/uids.ts";

/**
 * The Q/R SCU, loaded on the first C-FIND, C-MOVE or C-GET: it brings the Storage SCP that
 * C-GET's sub-operations need, which a client that only stores or verifies never loads.
 */
function loadQueryRetrieveScu(): Promise<typeof import("./services/query_retrieve_scu.ts")> {
  return import("./services/query_retrieve_scu.ts");
}

/**
 * The DIMSE-N requests, loaded on the first one: with them comes the data set layer (reader,
 * writer, dictionary), which a client that sends files as they are or verifies never needs.
 */
function loadNormalizedScu(): Promise<typeof import("./services/normalized_scu.ts")> {
  return import("./services/normalized_scu.ts");
}

/** A presentation context to propose. */
export interface ProposedPresentationContext {
  /** Odd id 1–255; assigned 1, 3, 5… when absent. */
  presentationContextId?: number;
  /** Abstract syntax (SOP class UID). */
  abstractSyntax: string;
  /** Transfer syntaxes, in our order of preference. */
  transferSyntaxes: string[];
}

/** Options of {@linkcode Association.connect}. */
export interface ConnectOptions {
  /** Peer host. */
  host: string;
  /** Peer port. */
  port: number;
  /** Our AE title; default "DIMSE-SCU". */
  callingAeTitle?: string;
  /** Their AE title; default "ANY-SCP". */
  calledAeTitle?: string;
  /** Contexts to propose; default Verification with implicit and explicit VR little endian. */
  presentationContexts?: ProposedPresentationContext[];
  /** Maximum P-DATA-TF variable field we receive; default 65536; 0 = unlimited. */
  maxPduLength?: number;
  /** Window asked for; absent = synchronous (1/1). */
  asyncOpsWindow?: AsynchronousOperationsWindow;
  /** User identity to present (PS3.7 Annex D.3.3.7). */
  userIdentity?: UserIdentityRq;
  /** SCP/SCU role selections to propose (our roles). */
  roleSelections?: ScpScuRoleSelection[];
  /** SOP Class Extended Negotiation items. */
  sopClassExtendedNegotiations?: SopClassExtendedNegotiation[];
  /** SOP Class Common Extended Negotiation items. */
  sopClassCommonExtendedNegotiations?: SopClassCommonExtendedNegotiation[];
  /** Services for requests the peer invokes on us (e.g. C-STORE sub-operations of C-GET). */
  services?: Service[];
  /** Timeouts. */
  timeouts?: Timeouts;
  /** TLS options; plain TCP without. */
  tls?: TlsOptions;
}

const REJECT_RESULTS: Record<number, string> = { 1: "rejected-permanent", 2: "rejected-transient" };
const REJECT_SOURCES: Record<number, string> = {
  1: "service-user",
  2: "service-provider (ACSE)",
  3: "service-provider (presentation)",
};
const REJECT_REASONS: Record<string, string> = {
  "1/1": "no reason given",
  "1/2": "application context name not supported",
  "1/3": "calling AE title not recognized",
  "1/7": "called AE title not recognized",
  "2/1": "no reason given",
  "2/2": "protocol version not supported",
  "3/0": "reserved",
  "3/1": "temporary congestion",
  "3/2": "local limit exceeded",
};

/** The peer rejected the association (A-ASSOCIATE-RJ, PS3.8 Table 9-21). */
export class AssociationRejectedError extends Error {
  /** 1 rejected-permanent, 2 rejected-transient. */
  readonly result: number;
  /** 1 service-user, 2 service-provider (ACSE), 3 service-provider (presentation). */
  readonly source: number;
  /** Reason, per source. */
  readonly reason: number;
  /** Creates the error from the A-ASSOCIATE-RJ fields. */
  constructor(result: number, source: number, reason: number) {
    super(
      `Association rejected (${REJECT_RESULTS[result] ?? `result ${result}`}) by ${
        REJECT_SOURCES[source] ?? `source ${source}`
      }: ${REJECT_REASONS[`${source}/${reason}`] ?? `reason ${reason}`}`,
    );
    this.name = "AssociationRejectedError";
    this.result = result;
    this.source = source;
    this.reason = reason;
  }
}

const ABORT_REASONS: Record<number, string> = {
  0: "reason not specified",
  1: "unrecognized PDU",
  2: "unexpected PDU",
  4: "unrecognized PDU parameter",
  5: "unexpected PDU parameter",
  6: "invalid PDU parameter value",
};

/** The association was aborted (A-ABORT or A-P-ABORT, PS3.8 Table 9-26). */
export class AssociationAbortedError extends Error {
  /** 0 service-user, 2 service-provider. */
  readonly source: number;
  /** Reason when the source is the service provider. */
  readonly reason: number;
  /** Creates the error from the A-ABORT fields. */
  constructor(source: number, reason: number, detail?: string) {
    super(
      detail ??
        (source === 2
          ? `Association aborted by the service provider: ${ABORT_REASONS[reason] ?? reason}`
          : "Association aborted by the service user"),
    );
    this.name = "AssociationAbortedError";
    this.source = source;
    this.reason = reason;
  }
}

/** No accepted presentation context fits the request. */
export class NoPresentationContextError extends Error {
  /** The abstract syntax asked for. */
  readonly abstractSyntax: string;
  /** Creates the error. */
  constructor(abstractSyntax: string) {
    super(`No accepted presentation context for ${abstractSyntax}`);
    this.name = "NoPresentationContextError";
    this.abstractSyntax = abstractSyntax;
  }
}

/** Options of {@linkcode Association.request}. */
export interface AssociationRequestOptions extends RequestOptions {
  /** The context to use; by default the first accepted one of the command's SOP class. */
  presentationContextId?: number;
}

let nextAssociationId = 1;

/** An association this end requested. */
export class Association {
  #ul: UpperLayerAssociation;
  #dispatcher?: Dispatcher;
  #negotiated?: NegotiatedAssociation;
  #releaseResolve?: () => void;
  #ended?: Error;
  #released = false;
  /** Id within this process. */
  readonly id: number = nextAssociationId++;

  #artimMs: number;

  private constructor(ul: UpperLayerAssociation, artimMs: number) {
    this.#ul = ul;
    this.#artimMs = artimMs;
  }

  /** Requests an association; resolves once accepted, rejects with a typed error otherwise. */
  static connect(options: ConnectOptions): Promise<Association> {
    const timeouts = options.timeouts ?? {};
    const rq: AAssociateRq = buildAssociateRq({
      callingAeTitle: options.callingAeTitle ?? "DIMSE-SCU",
      calledAeTitle: options.calledAeTitle ?? "ANY-SCP",
      presentationContexts: options.presentationContexts ?? [{
        abstractSyntax: VERIFICATION_SOP_CLASS,
        transferSyntaxes: [
          TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN,
          TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN,
        ],
      }],
      maxPduLength: options.maxPduLength ?? DEFAULT_MAX_PDU_LENGTH,
      asyncOpsWindow: options.asyncOpsWindow,
      roleSelections: options.roleSelections,
      userIdentity: options.userIdentity,
      sopClassExtendedNegotiations: options.sopClassExtendedNegotiations,
      sopClassCommonExtendedNegotiations: options.sopClassCommonExtendedNegotiations,
    });
    return new Promise<Association>((resolve, reject) => {
      let settled = false;
      const holder: { association?: Association; timer?: ReturnType<typeof setTimeout> } = {};
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(holder.timer);
        if (error) reject(error);
        else resolve(holder.association!);
      };
      const ul = new UpperLayerAssociation({
        isRequestor: true,
        maxPduLength: rq.userInformation.maximumLength ?? DEFAULT_MAX_PDU_LENGTH,
        artimTimeoutMs: timeouts.artim ?? 30_000,
        idleTimeoutMs: timeouts.idle ?? 0,
        user: {
          indication: (ind) => {
            if (ind.type === "associate-accepted") {
              holder.association!.#established(rq, ind.ac, options);
              settle();
              return;
            }
            if (ind.type === "associate-rejected") {
              settle(new AssociationRejectedError(ind.rj.result, ind.rj.source, ind.rj.reason));
              return;
            }
            if (ind.type === "abort-indication" && !settled) {
              const cause = ul.connectError;
              settle(
                cause instanceof Error
                  ? cause
                  : new AssociationAbortedError(ind.source, ind.reason),
              );
            }
            if (ind.type === "closed" && !settled) {
              const cause = ul.connectError;
              settle(
                cause instanceof Error
                  ? cause
                  : new AssociationAbortedError(2, 0, "Connection closed before the answer"),
              );
            }
            holder.association!.#indication(ind);
          },
          pdv: (header) => {
            const dispatcher = holder.association!.#dispatcher;
            if (!dispatcher) throw new Error("P-DATA before establishment");
            dispatcher.pdv(header);
          },
          pdvData: (data) => holder.association!.#dispatcher?.pdvData(data),
        },
      });
      holder.association = new Association(ul, timeouts.artim ?? 30_000);
      // Sta5 has no timer in PS3.8; the ARTIM value bounds the wait for the answer.
      holder.timer = setTimeout(() => {
        if (!settled) {
          settle(new AssociationAbortedError(0, 0, "No answer to A-ASSOCIATE-RQ in time"));
          ul.abortRequest();
          // AA-1 queued the A-ABORT: let it reach the peer, then close without waiting for ARTIM.
          if (ul.state === "Sta13") ul.drain().then(() => ul.destroy());
        }
      }, (timeouts.connect ?? 10_000) + (timeouts.artim ?? 30_000));
      ul.associateRequest(rq, () =>
        connectTransport({
          hostname: options.host,
          port: options.port,
          tls: options.tls,
          timeoutMs: timeouts.connect ?? 10_000,
        }));
    });
  }

  /** The negotiated association. */
  get negotiated(): NegotiatedAssociation {
    if (!this.#negotiated) throw new Error("Association not established");
    return this.#negotiated;
  }

  /** The upper layer state (PS3.8 §9.2.1). */
  get state(): State {
    return this.#ul.state;
  }

  /** Resolves when the association is over and the connection closed. */
  get closed(): Promise<void> {
    return this.#ul.closed;
  }

  /** Whether the association ended by release. */
  get released(): boolean {
    return this.#released;
  }

  /** Why the association ended, when it ended otherwise than by release. */
  get endError(): Error | undefined {
    return this.#ended;
  }

  /** Operations outstanding. */
  get outstanding(): number {
    return this.#dispatcher?.outstandingCount ?? 0;
  }

  /** The first accepted presentation context for an abstract syntax. */
  presentationContextFor(abstractSyntax: string): number {
    const pc = this.negotiated.accepted.find((c) => c.abstractSyntax === abstractSyntax);
    if (!pc) throw new NoPresentationContextError(abstractSyntax);
    return pc.presentationContextId;
  }

  /**
   * Invokes an operation and resolves with its final response; pending ones go to
   * `options.onPending`. Several may be outstanding within the negotiated window.
   */
  request(command: CommandSet, options: AssociationRequestOptions = {}): Promise<DimseResponse> {
    if (this.#ended) return Promise.reject(this.#ended);
    const dispatcher = this.#dispatcher;
    if (!dispatcher) return Promise.reject(new Error("Association not established"));
    let pcid = options.presentationContextId;
    if (pcid === undefined) {
      const sop = command.affectedSopClassUid ?? command.requestedSopClassUid ?? "";
      try {
        pcid = this.presentationContextFor(sop);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return dispatcher.request(pcid, command, options);
  }

  /** C-ECHO (PS3.7 §9.1.5); resolves with the response status. */
  async echo(options: { timeoutMs?: number } = {}): Promise<number> {
    const response = await this.request({
      commandField: CommandField.C_ECHO_RQ,
      affectedSopClassUid: VERIFICATION_SOP_CLASS,
      commandDataSetType: 0x0101,
    }, options);
    return response.command.status ?? 0;
  }

  /** Sends C-CANCEL-RQ for an outstanding request. */
  cancel(messageId: number, presentationContextId: number): Promise<void> {
    if (!this.#dispatcher) return Promise.reject(new Error("Association not established"));
    return this.#dispatcher.cancel(presentationContextId, messageId);
  }

  /** Releases the association (A-RELEASE, PS3.8 §7.2); resolves once the connection is closed. */
  async release(): Promise<void> {
    if (this.#ul.state === "Sta1") {
      if (this.#released) return;
      throw this.#ended ?? new Error("Association is not established");
    }
    // Answers to the peer's requests (e.g. N-EVENT-REPORT-RSP) go out before the A-RELEASE-RQ:
    // in Sta7 no P-DATA may be sent (PS3.8 Table 9-10).
    await this.#dispatcher?.idle();
    if (this.#ul.state !== "Sta6") {
      await this.#ul.closed;
      if (!this.#released) throw this.#ended ?? new AssociationAbortedError(2, 0);
      return;
    }
    const confirmed = new Promise<void>((resolve) => (this.#releaseResolve = resolve));
    this.#ul.releaseRequest();
    // Sta7 has no timer in PS3.8; a peer that never answers is aborted after the ARTIM time.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answered = await Promise.race([
      confirmed.then(() => true),
      this.#ul.closed.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.#artimMs))),
    ]);
    clearTimeout(timer);
    if (!answered) {
      this.#ended ??= new AssociationAbortedError(0, 0, "No answer to A-RELEASE-RQ in time");
      await this.abort();
    }
    await this.#ul.closed;
    if (!this.#released) throw this.#ended ?? new AssociationAbortedError(2, 0);
  }

  /** Aborts the association (A-ABORT, PS3.8 §7.3); resolves once the connection is closed. */
  async abort(): Promise<void> {
    this.#ended ??= new AssociationAbortedError(0, 0, "Association aborted locally");
    this.#dispatcher?.shutdown(this.#ended);
    this.#ul.abortRequest();
    // PS3.8 §9.1.5: after the A-ABORT, the requestor closes the transport itself.
    await this.#ul.drain();
    this.#ul.destroy();
    await this.#ul.closed;
  }

  /**
   * Invokes an operation on the context accepted for `abstractSyntax` (or
   * `options.presentationContextId`) and resolves with its final response: the
   * {@linkcode DimseInvoker} form of {@linkcode Association.request}.
   */
  invoke(
    abstractSyntax: string,
    command: CommandSet,
    options: InvokeOptions = {},
  ): Promise<DimseResponse> {
    let presentationContextId = options.presentationContextId;
    if (presentationContextId === undefined) {
      try {
        presentationContextId = this.presentationContextFor(abstractSyntax);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.request(command, { ...options, presentationContextId });
  }

  /** N-EVENT-REPORT (PS3.7 §10.1.1); resolves with the status, command and Event Reply. */
  async nEventReport(
    request: NEventReportRequest,
    options?: NormalizedRequestOptions,
  ): Promise<NormalizedResult> {
    return (await loadNormalizedScu()).nEventReport(this, request, options);
  }

  /** N-GET (PS3.7 §10.1.2); resolves with the status, command and Attribute List. */
  async nGet(
    request: NGetRequest,
    options?: NormalizedRequestOptions,
  ): Promise<NormalizedResult> {
    return (await loadNormalizedScu()).nGet(this, request, options);
  }

  /** N-SET (PS3.7 §10.1.3); resolves with the status, command and Attribute List. */
  async nSet(
    request: NSetRequest,
    options?: NormalizedRequestOptions,
  ): Promise<NormalizedResult> {
    return (await loadNormalizedScu()).nSet(this, request, options);
  }

  /** N-ACTION (PS3.7 §10.1.4); resolves with the status, command and Action Reply. */
  async nAction(
    request: NActionRequest,
    options?: NormalizedRequestOptions,
  ): Promise<NormalizedResult> {
    return (await loadNormalizedScu()).nAction(this, request, options);
  }

  /**
   * N-CREATE (PS3.7 §10.1.5); resolves with the status, command (its Affected SOP Instance UID
   * names the instance) and Attribute List.
   */
  async nCreate(
    request: NCreateRequest,
    options?: NormalizedRequestOptions,
  ): Promise<NormalizedResult> {
    return (await loadNormalizedScu()).nCreate(this, request, options);
  }

  /** N-DELETE (PS3.7 §10.1.6); resolves with the status and command. */
  async nDelete(
    request: NDeleteRequest,
    options?: NormalizedRequestOptions,
  ): Promise<NormalizedResult> {
    return (await loadNormalizedScu()).nDelete(this, request, options);
  }

  /**
   * C-STORE (PS3.7 §9.1.1) of a Part 10 file (a path, streamed and converted to an accepted
   * uncompressed transfer syntax when needed) or of a data set in the DICOM JSON model;
   * resolves with the response status and command.
   */
  store(source: string | DataSet, options?: StoreOptions): Promise<StoreResult> {
    return storeInstance(this, source, options);
  }

  /**
   * C-FIND (PS3.7 §9.1.2) on a Q/R or Modality Worklist model: yields each match in the DICOM
   * JSON model; breaking out or aborting `options.signal` sends C-CANCEL-RQ.
   */
  async *find(
    model: QueryModel,
    query: Query,
    options?: QueryOptions,
  ): AsyncGenerator<DataSet, FindResult, undefined> {
    const { findMatches } = await loadQueryRetrieveScu();
    return yield* findMatches(this, model, query, options);
  }

  /** C-MOVE (PS3.7 §9.1.4) to `options.destination`; resolves with the final counts. */
  async move(model: QueryModel, query: Query, options: MoveOptions): Promise<RetrieveResult> {
    const { moveInstances } = await loadQueryRetrieveScu();
    return await moveInstances(this, model, query, options);
  }

  /**
   * C-GET (PS3.7 §9.1.3): instances come back as C-STORE sub-operations, written under
   * `options.dir` or given to `options.onInstance`; connect with `getConnectOptions()`.
   */
  async get(model: QueryModel, query: Query, options?: GetOptions): Promise<RetrieveResult> {
    const { getInstances } = await loadQueryRetrieveScu();
    return await getInstances(this, model, query, options);
  }

  #established(
    rq: AAssociateRq,
    ac: Parameters<typeof readNegotiation>[1],
    options: ConnectOptions,
  ): void {
    const negotiated = readNegotiation(rq, ac, true);
    this.#negotiated = negotiated;
    const services = options.services ?? [];
    const ul = this.#ul;
    const dispatcher: Dispatcher = new Dispatcher({
      sink: this.#ul,
      negotiated,
      responseTimeoutMs: options.timeouts?.dimse ?? 60_000,
      onTimeout: (error) => {
        this.#ended ??= error;
        this.#ul.abortRequest();
      },
      onBrokenMessage: (error) => {
        this.#ended ??= error;
        this.#ul.abortRequest();
      },
      onRequest: (incoming: IncomingRequest) =>
        performRequest(services, incoming, {
          association: {
            id: this.id,
            callingAeTitle: negotiated.callingAeTitle,
            calledAeTitle: negotiated.calledAeTitle,
            peerAddress: this.#ul.peerAddress ?? "",
            negotiated,
            get open() {
              return ul.state === "Sta6";
            },
            closed: ul.closed,
            invoke: (abstractSyntax, command, opts) => this.invoke(abstractSyntax, command, opts),
          },
          invoke: (abstractSyntax, command, opts) =>
            dispatcher.request(this.presentationContextFor(abstractSyntax), command, opts),
        }),
    });
    this.#dispatcher = dispatcher;
  }

  #indication(ind: Indication): void {
    switch (ind.type) {
      case "release-indication":
        if (ind.collision) {
          // PS3.8 §7.2 release collision: the requestor answers first (Sta9 → AR-9).
          this.#ul.releaseResponse();
          return;
        }
        (this.#dispatcher?.idle() ?? Promise.resolve()).then(() => {
          if (this.#ul.state === "Sta8") {
            this.#released = true;
            this.#ul.releaseResponse();
          }
        });
        return;
      case "release-confirmation":
        this.#released = true;
        this.#releaseResolve?.();
        return;
      case "abort-indication":
        this.#ended ??= new AssociationAbortedError(ind.source, ind.reason);
        this.#dispatcher?.shutdown(this.#ended);
        return;
      case "closed":
        if (!this.#released) {
          this.#ended ??= new AssociationAbortedError(2, 0, "Connection closed");
        }
        this.#dispatcher?.shutdown(this.#ended ?? undefined);
        this.#releaseResolve?.();
        return;
      default:
        return;
    }
  }
}

/** Default priority of requests (PS3.7 §9.3.1.1). */
export const DEFAULT_PRIORITY: number = Priority.MEDIUM;
