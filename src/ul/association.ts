/**
 * One upper layer association (PS3.8 §9.2): its state, ARTIM timer, transport reads and
 * writes. Every event is looked up in the state table and runs the action it names; the local
 * user sees primitives (indications and confirmations) and the P-DATA PDVs as they arrive.
 *
 * @module
 */
import { type ActionContext, type ActionInput, ACTIONS, type Indication } from "./actions.ts";
import { decodePdu, encodePdu } from "./codec.ts";
import { PduError } from "./errors.ts";
import { PduStreamReader } from "./pdata.ts";
import {
  type AAssociateAc,
  type AAssociateRj,
  type AAssociateRq,
  AbortReason,
  type Pdu,
  PduType,
} from "./pdu.ts";
import { type Event, lookupAction, type State } from "./state_table.ts";
import type { Transport } from "./transport.ts";

/** The header of a PDV as it arrives (PS3.8 §9.3.5.1, Annex E.2). */
export interface PdvHeader {
  /** Presentation context id. */
  presentationContextId: number;
  /** Command (true) or data set fragment. */
  isCommand: boolean;
  /** Last fragment of the command or data set. */
  isLast: boolean;
  /** Length of the fragment. */
  length: number;
}

/** A piece of the current PDV's fragment. */
export interface PdvData {
  /** The bytes (owned). */
  bytes: Uint8Array;
  /** Whether this piece ends the PDV. */
  endOfPdv: boolean;
}

/** A protocol error found above the PDU level that the upper layer answers with A-ABORT. */
export class ProtocolError extends Error {
  /** A-ABORT reason to send (PS3.8 Table 9-26, source 2). */
  readonly abortReason: number;
  /** Creates the error with its abort reason. */
  constructor(message: string, abortReason: number) {
    super(message);
    this.name = "ProtocolError";
    this.abortReason = abortReason;
  }
}

/** A local primitive issued in a state where PS3.8 Table 9-10 has no action for it. */
export class UpperLayerStateError extends Error {
  /** The state the association was in. */
  readonly state: State;
  /** The event refused. */
  readonly event: Event;
  /** Creates the error. */
  constructor(state: State, event: Event) {
    super(`Event ${event} is not allowed in state ${state}`);
    this.name = "UpperLayerStateError";
    this.state = state;
    this.event = event;
  }
}

/** What the upper layer reports to its local user. */
export interface UpperLayerUser {
  /** A primitive: indication or confirmation. */
  indication(indication: Indication): void;
  /** A PDV header of a delivered P-DATA-TF; throw a ProtocolError to abort. */
  pdv(header: PdvHeader): void;
  /** A piece of the current PDV; the read loop waits on the returned promise (backpressure). */
  pdvData(data: PdvData): void | Promise<void>;
  /** Bytes moved, for counters. */
  traffic?(direction: "in" | "out", bytes: number): void;
  /** Every transition, for tracing. */
  transition?(from: State, event: Event, action: string, to: State): void;
}

/** Options of an upper layer association. */
export interface UpperLayerOptions {
  /** Whether this end requests the association. */
  isRequestor: boolean;
  /** Maximum P-DATA-TF variable field length we receive; 0 = unlimited. */
  maxPduLength: number;
  /** ARTIM timeout in ms (PS3.8 §9.1.5). */
  artimTimeoutMs: number;
  /** Idle timeout in Sta6 in ms; 0 = none. */
  idleTimeoutMs?: number;
  /** The local user. */
  user: UpperLayerUser;
  /** Service-provider check of AE-6. */
  providerCheck?: (rq: AAssociateRq) => AAssociateRj | undefined;
}

const READ_SIZE = 131072;
const MAX_OTHER_PDU_LENGTH = 1 << 20;

/** The upper layer state machine of one association. */
export class UpperLayerAssociation {
  #state: State = "Sta1";
  #options: UpperLayerOptions;
  #transport?: Transport;
  #connect?: () => Promise<Transport>;
  #pendingRq?: AAssociateRq;
  #artim?: ReturnType<typeof setTimeout>;
  #idle?: ReturnType<typeof setTimeout>;
  #writeChain: Promise<void> = Promise.resolve();
  /** PDUs handed to #send whose write has not finished. */
  #writesQueued = 0;
  #writeError?: unknown;
  #deliver = false;
  #queued?: Indication[];
  #closing = false;
  #closedResolve!: () => void;
  #closedSignalled = false;
  #ctx: ActionContext;
  /** Resolves once the association is back in Sta1 and the transport is closed. */
  readonly closed: Promise<void>;
  /** Whether the transport closed in the middle of a PDU. */
  closedMidPdu = false;

  /** Creates the machine in Sta1. */
  constructor(options: UpperLayerOptions) {
    this.#options = options;
    this.closed = new Promise((resolve) => (this.#closedResolve = resolve));
    this.#ctx = {
      isRequestor: options.isRequestor,
      send: (pdu) => this.#send(pdu),
      openTransport: () => this.#openTransport(),
      closeTransport: () => this.#closeTransport(),
      startArtim: () => this.#startArtim(),
      stopArtim: () => this.#stopArtim(),
      providerCheck: (rq) => this.#options.providerCheck?.(rq),
      indicate: (ind) => this.#indicate(ind),
    };
  }

  /** The current state. */
  get state(): State {
    return this.#state;
  }

  /** Whether this end requested the association. */
  get isRequestor(): boolean {
    return this.#options.isRequestor;
  }

  /** The peer address, once connected. */
  get peerAddress(): string | undefined {
    return this.#transport?.peerAddress;
  }

  /** Runs the action Table 9-10 gives for `event` in the current state. */
  fire(event: Event, input: ActionInput = {}): void {
    const from = this.#state;
    const name = lookupAction(from, event);
    if (!name) {
      // Received events in a blank cell (a late timer, a close after close) change nothing.
      if (isLocalPrimitive(event)) throw new UpperLayerStateError(from, event);
      return;
    }
    const outer = this.#queued;
    const queued: Indication[] = [];
    this.#queued = queued;
    let to: State;
    try {
      to = ACTIONS[name](this.#ctx, input);
    } finally {
      this.#queued = outer;
    }
    this.#state = to;
    this.#options.user.transition?.(from, event, name, to);
    if (to === "Sta6") this.#touchIdle();
    else this.#stopIdle();
    // Primitives reach the user once the transition is complete, so that the user's answer
    // (e.g. the A-RELEASE response in a collision) is looked up in the new state.
    for (const ind of queued) this.#options.user.indication(ind);
    if (to === "Sta1") this.#maybeSignalClosed();
  }

  /** Acceptor: a transport connection was accepted (Evt5); starts reading. */
  acceptTransport(transport: Transport): void {
    this.#transport = transport;
    this.fire("Evt5");
    this.#readLoop(transport);
  }

  /** Requestor: A-ASSOCIATE request (Evt1): opens the transport and sends the RQ. */
  associateRequest(rq: AAssociateRq, connect: () => Promise<Transport>): void {
    this.#pendingRq = rq;
    this.#connect = connect;
    this.fire("Evt1");
  }

  /** Acceptor: A-ASSOCIATE response (accept), Evt7. */
  acceptAssociation(ac: AAssociateAc): void {
    this.fire("Evt7", { send: ac });
  }

  /** Acceptor: A-ASSOCIATE response (reject), Evt8. */
  rejectAssociation(rj: AAssociateRj): void {
    this.fire("Evt8", { send: rj });
  }

  /** P-DATA request (Evt9): sends encoded P-DATA-TF PDUs and waits until written. */
  async sendPData(pdus: Uint8Array): Promise<void> {
    if (pdus.length === 0) return;
    this.fire("Evt9", { pData: pdus });
    await this.#writeChain;
    if (this.#writeError) throw this.#writeError;
  }

  /** A-RELEASE request (Evt11). */
  releaseRequest(): void {
    this.fire("Evt11");
  }

  /** A-RELEASE response (Evt14). */
  releaseResponse(): void {
    this.fire("Evt14");
  }

  /** A-ABORT request (Evt15); ignored when no association is left to abort. */
  abortRequest(): void {
    if (lookupAction(this.#state, "Evt15")) this.fire("Evt15");
    else if (this.#state === "Sta2") this.fire("Evt18");
    else if (this.#state === "Sta13") this.#closeTransport();
  }

  /** Closes the transport at once, whatever the state; the close is then Evt17. */
  destroy(): void {
    this.#stopArtim();
    this.#transport?.close();
    if (this.#state === "Sta4") this.fire("Evt17");
  }

  /** Resolves when every queued write is done. */
  async drain(): Promise<void> {
    await this.#writeChain;
  }

  #indicate(ind: Indication): void {
    if (ind.type === "p-data-indication") this.#deliver = true;
    if (this.#queued) this.#queued.push(ind);
    else this.#options.user.indication(ind);
  }

  #send(pdu: Pdu | Uint8Array): void {
    const bytes = pdu instanceof Uint8Array ? pdu : encodePdu(pdu);
    const transport = this.#transport;
    if (!transport) return;
    this.#touchIdle();
    // With no earlier write queued the PDU goes to the socket now, inside the action that sends
    // it, rather than a promise turn later: a response reaches the peer before any other work.
    this.#writesQueued++;
    this.#writeChain = this.#writesQueued === 1
      ? this.#write(transport, bytes)
      : this.#writeChain.then(() => this.#write(transport, bytes));
  }

  /** Writes one queued PDU; never rejects, keeping the first failure in #writeError. */
  async #write(transport: Transport, bytes: Uint8Array): Promise<void> {
    try {
      if (this.#writeError) return;
      await transport.write(bytes);
      this.#options.user.traffic?.("out", bytes.length);
    } catch (e) {
      this.#writeError = e;
    } finally {
      this.#writesQueued--;
    }
  }

  #openTransport(): void {
    const connect = this.#connect;
    if (!connect) throw new Error("No transport to open");
    connect().then(
      (transport) => {
        this.#transport = transport;
        if (this.#state !== "Sta4") {
          transport.close();
          return;
        }
        this.fire("Evt2", { send: this.#pendingRq });
        this.#readLoop(transport);
      },
      (error) => {
        this.connectError = error;
        this.fire("Evt17");
      },
    );
  }

  /** The error of a failed transport connect, if any. */
  connectError?: unknown;

  #closeTransport(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#stopIdle();
    const transport = this.#transport;
    this.#writeChain.then(() => {
      transport?.close();
      this.#maybeSignalClosed();
    });
  }

  #maybeSignalClosed(): void {
    if (this.#state !== "Sta1" || this.#closedSignalled) return;
    if (this.#transport && !this.#transport.closed) return;
    this.#closedSignalled = true;
    this.#stopArtim();
    this.#stopIdle();
    this.#options.user.indication({ type: "closed" });
    this.#closedResolve();
  }

  #startArtim(): void {
    this.#stopArtim();
    this.#artim = setTimeout(() => {
      this.#artim = undefined;
      this.fire("Evt18");
    }, this.#options.artimTimeoutMs);
  }

  #stopArtim(): void {
    if (this.#artim !== undefined) clearTimeout(this.#artim);
    this.#artim = undefined;
  }

  #touchIdle(): void {
    const ms = this.#options.idleTimeoutMs ?? 0;
    if (ms <= 0 || this.#state !== "Sta6") return;
    this.#stopIdle();
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#state === "Sta6") this.fire("Evt15");
    }, ms);
  }

  #stopIdle(): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    this.#idle = undefined;
  }

  async #readLoop(transport: Transport): Promise<void> {
    const reader = new PduStreamReader({
      maxPDataTfLength: this.#options.maxPduLength,
      maxOtherPduLength: MAX_OTHER_PDU_LENGTH,
    });
    let discarding = false;
    const scratch = new Uint8Array(READ_SIZE);
    while (true) {
      const target = discarding ? scratch : reader.writable(READ_SIZE);
      const n = await transport.read(target);
      if (n === null) {
        this.closedMidPdu = !discarding && reader.midPdu;
        // Evt17 only when the peer closed; after our own close the state is already Sta1.
        this.fire("Evt17");
        transport.close();
        this.#maybeSignalClosed();
        return;
      }
      this.#options.user.traffic?.("in", n);
      this.#touchIdle();
      if (discarding) continue;
      try {
        const events = reader.commit(n);
        for (const ev of events) {
          switch (ev.kind) {
            case "pdu":
              this.#receivePdu(ev.bytes);
              break;
            case "p-data-tf":
              this.#deliver = false;
              this.fire("Evt10", { abortReason: AbortReason.UNEXPECTED_PDU });
              break;
            // The events are fresh objects carrying the header and data fields: handed on as
            // they are, without a copy per PDV.
            case "pdv":
              if (this.#deliver) this.#options.user.pdv(ev);
              break;
            case "pdv-data":
              if (this.#deliver) {
                const waiting = this.#options.user.pdvData(ev);
                if (waiting !== undefined) await waiting;
              }
              break;
          }
          if (this.#state === "Sta1") break;
        }
      } catch (e) {
        if (e instanceof PduError || e instanceof ProtocolError) {
          discarding = true;
          this.#deliver = false;
          this.fire("Evt19", { abortReason: e.abortReason });
        } else {
          discarding = true;
          this.#deliver = false;
          this.fire("Evt19", { abortReason: AbortReason.REASON_NOT_SPECIFIED });
        }
      }
      if (this.#state === "Sta1") {
        // Our own close: keep reading only until the transport reports the end.
        discarding = true;
      }
    }
  }

  #receivePdu(bytes: Uint8Array): void {
    this.#deliver = false;
    const pdu = decodePdu(bytes);
    const unexpected = { pdu, abortReason: AbortReason.UNEXPECTED_PDU };
    switch (pdu.pduType) {
      case PduType.A_ASSOCIATE_RQ:
        this.fire("Evt6", unexpected);
        break;
      case PduType.A_ASSOCIATE_AC:
        this.fire("Evt3", unexpected);
        break;
      case PduType.A_ASSOCIATE_RJ:
        this.fire("Evt4", unexpected);
        break;
      case PduType.A_RELEASE_RQ:
        this.fire("Evt12", unexpected);
        break;
      case PduType.A_RELEASE_RP:
        this.fire("Evt13", unexpected);
        break;
      case PduType.A_ABORT:
        this.fire("Evt16", { pdu });
        break;
      default:
        this.fire("Evt19", { abortReason: AbortReason.UNRECOGNIZED_PDU });
    }
  }
}

function isLocalPrimitive(event: Event): boolean {
  return event === "Evt1" || event === "Evt7" || event === "Evt8" || event === "Evt9" ||
    event === "Evt11" || event === "Evt14" || event === "Evt15";
}
