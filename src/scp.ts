/**
 * The SCP: listens for associations, negotiates them against its services (PS3.8 §7.1,
 * PS3.7 Annex D.3.3), and performs the requests it receives. Associations are independent: one
 * failing never affects another.
 *
 * @module
 */
import { Dispatcher } from "./dimse/dispatcher.ts";
import type { CommandSet } from "./dimse/command.ts";
import { statusHex } from "./dimse/status.ts";
import {
  type AssociationInfo,
  performRequest,
  type Service,
  type ServiceTotals,
} from "./services/service.ts";
import { UpperLayerAssociation } from "./ul/association.ts";
import type { Indication } from "./ul/actions.ts";
import {
  type AbstractSyntaxSupport,
  type AcceptorPolicy,
  type Authenticator,
  checkProviderAcceptance,
  DEFAULT_MAX_PDU_LENGTH,
  type ExtendedNegotiationHook,
  negotiateAsAcceptor,
  type NegotiatedAssociation,
} from "./ul/negotiation.ts";
import type { AAssociateRq, AsynchronousOperationsWindow } from "./ul/pdu.ts";
import type { State } from "./ul/state_table.ts";
import {
  listenTransport,
  type TlsOptions,
  type Transport,
  type TransportListener,
} from "./ul/transport.ts";

/** Timeouts in milliseconds. */
export interface Timeouts {
  /** Transport connect (client side); default 10 000. */
  connect?: number;
  /** ARTIM (PS3.8 §9.1.5); default 30 000. */
  artim?: number;
  /** Idle association, aborted after this long without traffic; 0 = none (default). */
  idle?: number;
  /** Per-DIMSE response; default 60 000; 0 = none. */
  dimse?: number;
}

/** Options of an SCP. */
export interface ScpOptions {
  /** Our AE title. */
  aeTitle: string;
  /** TCP port; 0 picks a free one; default 11112. */
  port?: number;
  /** Address to bind; default "0.0.0.0". */
  hostname?: string;
  /** The services offered. */
  services: Service[];
  /** Reject (1/1/7) a called AE title other than ours; default false. */
  requireCalledAeTitle?: boolean;
  /** When set, only these calling AE titles are accepted (else 1/1/3). */
  allowedCallingAeTitles?: string[];
  /** Concurrent associations allowed; beyond, 2/3/2 (local limit exceeded). Default unlimited. */
  maxAssociations?: number;
  /** Maximum P-DATA-TF variable field we receive; default 65536; 0 = unlimited. */
  maxPduLength?: number;
  /** Window we allow: operations we invoke / perform at once; default 1/1 (synchronous). */
  asyncOpsWindow?: AsynchronousOperationsWindow;
  /** Decides on User Identity negotiation. */
  authenticator?: Authenticator;
  /** Answers SOP Class (Common) Extended Negotiation. */
  extendedNegotiation?: ExtendedNegotiationHook;
  /** Timeouts. */
  timeouts?: Timeouts;
  /** TLS certificate and key; plain TCP without. */
  tls?: TlsOptions;
}

/** A live association as the status endpoint shows it; plain data. */
export interface AssociationStatus {
  /** Id, unique within the SCP. */
  id: number;
  /** Calling AE title (the peer), once known. */
  callingAeTitle: string;
  /** Called AE title, once known. */
  calledAeTitle: string;
  /** Peer address "host:port". */
  peerAddress: string;
  /** Start time, ISO 8601. */
  started: string;
  /** Upper layer state (PS3.8 §9.2.1). */
  state: State;
  /** Accepted presentation contexts. */
  acceptedContexts: {
    presentationContextId: number;
    abstractSyntax: string;
    transferSyntax: string;
  }[];
  /** DIMSE messages received. */
  messagesIn: number;
  /** DIMSE messages sent. */
  messagesOut: number;
  /** Bytes received. */
  bytesIn: number;
  /** Bytes sent. */
  bytesOut: number;
}

/** Totals since the SCP started; plain data. */
export interface ScpTotals {
  /** Associations accepted. */
  associationsAccepted: number;
  /** Associations rejected. */
  associationsRejected: number;
  /** Associations released normally. */
  associationsReleased: number;
  /** Associations aborted (either side, or the provider). */
  associationsAborted: number;
  /** Responses sent, per service name and status as four hex digits. */
  services: ServiceTotals;
}

/** The events of an SCP and what they carry. */
export interface ScpEventMap {
  /** An A-ASSOCIATE-RQ arrived. */
  "association-requested": { association: AssociationStatus; rq: AAssociateRq };
  /** An association was accepted. */
  "association-accepted": { association: AssociationStatus; negotiated: NegotiatedAssociation };
  /** An association was rejected (PS3.8 Table 9-21). */
  "association-rejected": {
    association: AssociationStatus;
    result: number;
    source: number;
    reason: number;
  };
  /** An association ended by release. */
  "association-released": { association: AssociationStatus };
  /** An association ended by abort or lost connection. */
  "association-aborted": { association: AssociationStatus; source: number; reason: number };
  /** A DIMSE message was received. */
  "message-received": {
    association: AssociationStatus;
    presentationContextId: number;
    command: CommandSet;
  };
  /** A DIMSE message was sent. */
  "message-sent": {
    association: AssociationStatus;
    presentationContextId: number;
    command: CommandSet;
  };
}

/** A listener of an SCP event. */
export type ScpListener<K extends keyof ScpEventMap> = (event: ScpEventMap[K]) => void;

interface Live {
  status: AssociationStatus;
  ul: UpperLayerAssociation;
  dispatcher?: Dispatcher;
  outcome?: "rejected" | "released" | "aborted";
  abortSource: number;
  abortReason: number;
}

/** A DICOM SCP serving many associations at once. */
export class Scp {
  #options: ScpOptions;
  #listener?: TransportListener;
  #live = new Map<number, Live>();
  #nextId = 1;
  #listeners = new Map<keyof ScpEventMap, Set<(event: never) => void>>();
  #totals: ScpTotals = {
    associationsAccepted: 0,
    associationsRejected: 0,
    associationsReleased: 0,
    associationsAborted: 0,
    services: {},
  };
  #acceptLoop?: Promise<void>;
  #policy: AcceptorPolicy;
  #startedAt = Date.now();

  /** Creates an SCP; nothing listens until {@linkcode Scp.listen}. */
  constructor(options: ScpOptions) {
    this.#options = options;
    const abstractSyntaxes = new Map<string, AbstractSyntaxSupport>();
    // Several services may declare one SOP class (Storage as its SCP, C-GET as its SCU for the
    // sub-operations): roles add up (PS3.7 D.3.3.4), and the transfer syntaxes of each role are
    // those of the services taking it.
    for (const service of options.services) {
      for (const c of service.sopClasses) {
        const asScp = c.scpRole ?? true;
        const asScu = c.scuRole ?? false;
        let known = abstractSyntaxes.get(c.abstractSyntax);
        if (!known) {
          known = { transferSyntaxes: [], scuTransferSyntaxes: [], scpRole: false, scuRole: false };
          abstractSyntaxes.set(c.abstractSyntax, known);
        }
        for (const ts of c.transferSyntaxes) {
          if (asScp && !known.transferSyntaxes.includes(ts)) known.transferSyntaxes.push(ts);
          if (asScu && !known.scuTransferSyntaxes!.includes(ts)) {
            known.scuTransferSyntaxes!.push(ts);
          }
        }
        known.scpRole ||= asScp;
        known.scuRole ||= asScu;
      }
    }
    this.#policy = {
      aeTitle: options.aeTitle,
      requireCalledAeTitle: options.requireCalledAeTitle,
      allowedCallingAeTitles: options.allowedCallingAeTitles,
      abstractSyntaxes,
      maxPduLength: options.maxPduLength ?? DEFAULT_MAX_PDU_LENGTH,
      asyncOpsWindow: options.asyncOpsWindow,
      authenticator: options.authenticator,
      extendedNegotiation: options.extendedNegotiation,
    };
  }

  /** Our AE title. */
  get aeTitle(): string {
    return this.#options.aeTitle;
  }

  /** The bound port, once listening. */
  get port(): number {
    return this.#listener?.port ?? this.#options.port ?? 11112;
  }

  /** The bound address, once listening. */
  get hostname(): string {
    return this.#listener?.hostname ?? this.#options.hostname ?? "0.0.0.0";
  }

  /** Whether the SCP is accepting connections. */
  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /** When the SCP was created, ms since the epoch. */
  get startedAt(): number {
    return this.#startedAt;
  }

  /** Live associations, as plain data (a snapshot). */
  get associations(): AssociationStatus[] {
    return [...this.#live.values()].map((l) => ({
      ...l.status,
      state: l.ul.state,
      acceptedContexts: l.status.acceptedContexts.map((c) => ({ ...c })),
    }));
  }

  /** Totals since start, as plain data (a snapshot). */
  get totals(): ScpTotals {
    const services: ServiceTotals = {};
    for (const [name, byStatus] of Object.entries(this.#totals.services)) {
      services[name] = { ...byStatus };
    }
    return { ...this.#totals, services };
  }

  /** Adds an event listener. */
  on<K extends keyof ScpEventMap>(name: K, listener: ScpListener<K>): this {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, set = new Set());
    set.add(listener as (event: never) => void);
    return this;
  }

  /** Removes an event listener. */
  off<K extends keyof ScpEventMap>(name: K, listener: ScpListener<K>): this {
    this.#listeners.get(name)?.delete(listener as (event: never) => void);
    return this;
  }

  /** Starts listening; resolves once bound ({@linkcode Scp.port} is then the bound port). */
  listen(): Promise<void> {
    if (this.#listener) return Promise.resolve();
    this.#listener = listenTransport({
      hostname: this.#options.hostname,
      port: this.#options.port ?? 11112,
      tls: this.#options.tls,
    });
    const listener = this.#listener;
    this.#acceptLoop = (async () => {
      while (true) {
        const transport = await listener.accept();
        if (!transport) return;
        this.#serve(transport);
      }
    })();
    return Promise.resolve();
  }

  /**
   * Stops accepting, lets running associations finish within `timeoutMs` (default 10 000),
   * then aborts the rest.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    await this.#closeAssociations(options.timeoutMs ?? 10_000);
    for (const service of this.#options.services) {
      try {
        await service.close?.();
      } catch {
        // A service's failure to close is its own; the others still close.
      }
    }
  }

  async #closeAssociations(timeoutMs: number): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.close();
    await this.#acceptLoop;
    const all = () => Promise.all([...this.#live.values()].map((l) => l.ul.closed));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      all().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!timedOut) return;
    for (const l of this.#live.values()) l.ul.abortRequest();
    // The A-ABORT goes out; the peer gets a moment to close before we do (PS3.8 §9.1.5).
    const grace = Math.min(this.#options.timeouts?.artim ?? 30_000, 1000);
    const closedInTime = await Promise.race([
      all().then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), grace))),
    ]);
    clearTimeout(timer);
    if (!closedInTime) { for (const l of this.#live.values()) l.ul.destroy(); }
    await all();
  }

  #emit<K extends keyof ScpEventMap>(name: K, event: ScpEventMap[K]): void {
    for (const listener of this.#listeners.get(name) ?? []) {
      try {
        (listener as ScpListener<K>)(event);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  #snapshot(live: Live): AssociationStatus {
    return { ...live.status, state: live.ul.state };
  }

  #serve(transport: Transport): void {
    const id = this.#nextId++;
    const status: AssociationStatus = {
      id,
      callingAeTitle: "",
      calledAeTitle: "",
      peerAddress: transport.peerAddress,
      started: new Date().toISOString(),
      state: "Sta1",
      acceptedContexts: [],
      messagesIn: 0,
      messagesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
    };
    const timeouts = this.#options.timeouts ?? {};
    const live = { status, abortSource: 0, abortReason: 0 } as Live;
    const ul = new UpperLayerAssociation({
      isRequestor: false,
      maxPduLength: this.#policy.maxPduLength ?? DEFAULT_MAX_PDU_LENGTH,
      artimTimeoutMs: timeouts.artim ?? 30_000,
      idleTimeoutMs: timeouts.idle ?? 0,
      providerCheck: (rq) => {
        const rj = checkProviderAcceptance(rq, {
          activeAssociations: [...this.#live.values()].filter((l) => l.dispatcher).length,
          maxAssociations: this.#options.maxAssociations,
        });
        if (rj) {
          // AE-6 answers with A-ASSOCIATE-RJ itself; the user still hears of it.
          status.callingAeTitle = rq.callingAeTitle;
          status.calledAeTitle = rq.calledAeTitle;
          live.outcome = "rejected";
          this.#totals.associationsRejected++;
          queueMicrotask(() =>
            this.#emit("association-rejected", {
              association: this.#snapshot(live),
              result: rj.result,
              source: rj.source,
              reason: rj.reason,
            })
          );
        }
        return rj;
      },
      user: {
        indication: (ind) => this.#indication(live, ind),
        pdv: (header) => {
          if (!live.dispatcher) throw new Error("P-DATA before the association is established");
          live.dispatcher.pdv(header);
        },
        pdvData: (data) => live.dispatcher?.pdvData(data),
        traffic: (direction, bytes) => {
          if (direction === "in") status.bytesIn += bytes;
          else status.bytesOut += bytes;
        },
      },
    });
    live.ul = ul;
    this.#live.set(id, live);
    ul.acceptTransport(transport);
  }

  #indication(live: Live, ind: Indication): void {
    const ul = live.ul;
    switch (ind.type) {
      case "associate-indication": {
        live.status.callingAeTitle = ind.rq.callingAeTitle;
        live.status.calledAeTitle = ind.rq.calledAeTitle;
        this.#emit("association-requested", { association: this.#snapshot(live), rq: ind.rq });
        negotiateAsAcceptor(ind.rq, this.#policy, live.status.peerAddress).then((decision) => {
          if (ul.state !== "Sta3") return;
          if (!decision.accepted) {
            live.outcome = "rejected";
            this.#totals.associationsRejected++;
            ul.rejectAssociation(decision.rj);
            this.#emit("association-rejected", {
              association: this.#snapshot(live),
              result: decision.rj.result,
              source: decision.rj.source,
              reason: decision.rj.reason,
            });
            return;
          }
          this.#established(live, decision.negotiated);
          ul.acceptAssociation(decision.ac);
          this.#totals.associationsAccepted++;
          this.#emit("association-accepted", {
            association: this.#snapshot(live),
            negotiated: decision.negotiated,
          });
        }).catch(() => {
          if (ul.state === "Sta3") ul.abortRequest();
        });
        return;
      }
      case "release-indication":
        live.outcome = "released";
        // Acceptor side of a collision (Sta10) waits for the A-RELEASE-RP first (AR-10).
        if (ind.collision) return;
        (live.dispatcher?.idle() ?? Promise.resolve()).then(() => {
          if (ul.state === "Sta8") ul.releaseResponse();
        });
        return;
      case "release-confirmation":
        live.outcome = "released";
        if (ul.state === "Sta12") ul.releaseResponse();
        return;
      case "abort-indication":
        live.outcome = "aborted";
        live.abortSource = ind.source;
        live.abortReason = ind.reason;
        live.dispatcher?.shutdown();
        return;
      case "closed": {
        live.dispatcher?.shutdown();
        this.#live.delete(live.status.id);
        if (live.outcome === "released") {
          this.#totals.associationsReleased++;
          this.#emit("association-released", { association: this.#snapshot(live) });
        } else if (live.outcome !== "rejected" && live.dispatcher) {
          this.#totals.associationsAborted++;
          this.#emit("association-aborted", {
            association: this.#snapshot(live),
            source: live.abortSource,
            reason: live.abortReason,
          });
        }
        return;
      }
      default:
        return;
    }
  }

  #established(live: Live, negotiated: NegotiatedAssociation): void {
    live.status.acceptedContexts = negotiated.accepted.map((c) => ({
      presentationContextId: c.presentationContextId,
      abstractSyntax: c.abstractSyntax,
      transferSyntax: c.transferSyntax,
    }));
    const info: AssociationInfo = {
      id: live.status.id,
      callingAeTitle: negotiated.callingAeTitle,
      calledAeTitle: negotiated.calledAeTitle,
      peerAddress: live.status.peerAddress,
      negotiated,
      // The handle outlives the request (PS3.4 J.3.3: a report sent after the response).
      get open() {
        return live.ul.state === "Sta6";
      },
      closed: live.ul.closed,
      invoke: (abstractSyntax, command, options = {}) => {
        const pcid = options.presentationContextId ??
          negotiated.accepted.find((c) => c.abstractSyntax === abstractSyntax)
            ?.presentationContextId;
        if (pcid === undefined) {
          return Promise.reject(
            new Error(`No accepted presentation context for ${abstractSyntax}`),
          );
        }
        if (!live.dispatcher) return Promise.reject(new Error("Association not established"));
        return live.dispatcher.request(pcid, command, options);
      },
    };
    const dispatcher: Dispatcher = new Dispatcher({
      sink: live.ul,
      negotiated,
      responseTimeoutMs: this.#options.timeouts?.dimse ?? 60_000,
      onTimeout: () => live.ul.abortRequest(),
      onMessage: (direction, message) => {
        if (direction === "in") live.status.messagesIn++;
        else live.status.messagesOut++;
        const name = direction === "in" ? "message-received" : "message-sent";
        // No snapshot is built for an event nobody listens to: this runs for every message.
        if (!this.#listeners.get(name)?.size) return;
        this.#emit(name, {
          association: this.#snapshot(live),
          presentationContextId: message.presentationContextId,
          command: message.command,
        });
      },
      onRequest: (incoming) =>
        performRequest(this.#options.services, incoming, {
          association: info,
          invoke: (abstractSyntax, command, options) => {
            const pc = negotiated.accepted.find((c) => c.abstractSyntax === abstractSyntax);
            if (!pc) {
              return Promise.reject(
                new Error(`No accepted presentation context for ${abstractSyntax}`),
              );
            }
            return dispatcher.request(pc.presentationContextId, command, options);
          },
          onStatus: (service, code) => {
            const key = statusKey(code);
            const byStatus = this.#totals.services[service] ??= {};
            byStatus[key] = (byStatus[key] ?? 0) + 1;
          },
        }),
    });
    live.dispatcher = dispatcher;
  }
}

const STATUS_KEYS = new Map<number, string>();

/** A status as four upper-case hex digits, the key of the totals; kept, as few codes occur. */
function statusKey(code: number): string {
  let key = STATUS_KEYS.get(code);
  if (key === undefined) {
    key = statusHex(code);
    if (STATUS_KEYS.size < 4096) STATUS_KEYS.set(code, key);
  }
  return key;
}
