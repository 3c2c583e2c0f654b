/**
 * The DIMSE message service of one association (PS3.7 §6–§9): sends messages as P-DATA, matches
 * responses to requests by Message ID Being Responded To so that several operations can be
 * outstanding, enforces the asynchronous operations window on both sides (PS3.7 Annex D.3.3.3),
 * delivers pending responses, and routes C-CANCEL-RQ to the operation it cancels.
 *
 * @module
 */
import { CommandField, type CommandSet, isResponse, NO_DATA_SET } from "./command.ts";
import {
  dataSetChunks,
  type DataSetSource,
  type DimseMessage,
  MessageAssembler,
  readWholeDataSet,
} from "./message.ts";
import { statusCategory } from "./status.ts";
import { encodeCommandSetView } from "./_command_set_codec.ts";
import { type PdvData, type PdvHeader, ProtocolError } from "../ul/association.ts";
import type { NegotiatedAssociation } from "../ul/negotiation.ts";
import { PDataWriter } from "../ul/pdata.ts";
import { AbortReason } from "../ul/pdu.ts";

/** A response as handed to the invoker; its data set (identifiers, attribute lists) is small. */
export interface DimseResponse {
  /** Presentation context of the response. */
  presentationContextId: number;
  /** The response command set. */
  command: CommandSet;
  /** The response's data set, read whole. */
  dataSet?: Uint8Array;
}

/** Options of one request. */
export interface RequestOptions {
  /** The request's data set. */
  dataSet?: DataSetSource;
  /** Called for each pending response (status FF00/FF01) before the final one. */
  onPending?: (response: DimseResponse) => void | Promise<void>;
  /**
   * Called once the request, data set included, is written to the connection, while its
   * response is awaited (e.g. to read the next instance meanwhile).
   */
  onSent?: () => void;
  /** Response timeout in ms, restarted by each response; 0 = none. */
  timeoutMs?: number;
}

/** A request being performed, as the performing side sees it. */
export interface IncomingRequest {
  /** The request message; its data set is a stream. */
  message: DimseMessage;
  /** Aborted when a C-CANCEL-RQ arrives for it or the association ends. */
  signal: AbortSignal;
  /** Sends a response (pending or final); fills in command field, message id and data set type. */
  respond(
    command: Omit<CommandSet, "commandField" | "commandDataSetType"> & {
      commandField?: number;
    },
    dataSet?: DataSetSource,
  ): Promise<void>;
}

/** The response did not come within the DIMSE timeout. */
export class DimseTimeoutError extends Error {
  /** The Message ID of the request. */
  readonly messageId: number;
  /** Creates the error. */
  constructor(messageId: number, timeoutMs: number) {
    super(`No response to message ${messageId} within ${timeoutMs} ms`);
    this.name = "DimseTimeoutError";
    this.messageId = messageId;
  }
}

/** The association ended while an operation was outstanding. */
export class AssociationEndedError extends Error {
  /** Creates the error with a reason. */
  constructor(message = "Association ended before the response") {
    super(message);
    this.name = "AssociationEndedError";
  }
}

/** The P-DATA path the dispatcher sends on (the upper layer association). */
export interface PDataSink {
  /** Sends encoded P-DATA-TF PDUs, resolving once written. */
  sendPData(pdus: Uint8Array): Promise<void>;
}

/** Options of a dispatcher. */
export interface DispatcherOptions {
  /** Where P-DATA goes. */
  sink: PDataSink;
  /** The negotiated association (contexts, max PDU, window). */
  negotiated: NegotiatedAssociation;
  /** Performs an incoming request; must respond through `request.respond`. */
  onRequest: (request: IncomingRequest) => Promise<void>;
  /** Called on a response timeout (the association is usually aborted). */
  onTimeout?: (error: DimseTimeoutError) => void;
  /**
   * Called when a message could not be finished after part of it was sent (its data set source
   * failed): the peer holds half a message, so the association must be aborted (PS3.8 Annex E
   * has no way to withdraw one).
   */
  onBrokenMessage?: (error: Error) => void;
  /** Each message received or sent, for events and counters. */
  onMessage?: (
    direction: "in" | "out",
    message: { command: CommandSet; presentationContextId: number },
  ) => void;
  /** Default response timeout in ms; 0 = none. */
  responseTimeoutMs?: number;
}

interface Outstanding {
  messageId: number;
  resolve: (response: DimseResponse) => void;
  reject: (error: Error) => void;
  onPending?: (response: DimseResponse) => void | Promise<void>;
  timeoutMs: number;
  /** When the response is due (performance.now() time); 0 while not awaited. */
  deadline: number;
  /** Responses are delivered in arrival order. */
  chain: Promise<void>;
}

interface Performing {
  messageId: number;
  controller: AbortController;
}

/** Message exchange over one established association. */
export class Dispatcher {
  #options: DispatcherOptions;
  #assembler: MessageAssembler;
  #writer: PDataWriter;
  #sendLock: Promise<void> = Promise.resolve();
  /** Messages passed to sendMessage and not yet settled. */
  #sending = 0;
  #sent = (): void => {
    this.#sending--;
  };
  #nextMessageId = 1;
  #outstanding = new Map<number, Outstanding>();
  #performing = new Map<number, Performing>();
  /** Operations performed whose final response is queued or being written. */
  #answered = 0;
  #slotWaiters: (() => void)[] = [];
  #timer?: ReturnType<typeof setTimeout>;
  /** When #timer fires (performance.now() time). */
  #timerAt = 0;
  #slotsUsed = 0;
  #idleWaiters: (() => void)[] = [];
  #ended?: Error;
  #accepted: Set<number>;

  /** Creates the dispatcher for a negotiated association. */
  constructor(options: DispatcherOptions) {
    this.#options = options;
    this.#accepted = new Set(options.negotiated.accepted.map((c) => c.presentationContextId));
    this.#writer = new PDataWriter({ maxPduLength: options.negotiated.peerMaxPduLength });
    this.#assembler = new MessageAssembler({
      isAccepted: (id) => this.#accepted.has(id),
      onMessage: (message) => this.#received(message),
    });
  }

  /** Operations this end has outstanding as invoker. */
  get outstandingCount(): number {
    return this.#outstanding.size;
  }

  /** Operations this end is performing. */
  get performingCount(): number {
    return this.#performing.size;
  }

  /** Upper layer hook: a PDV header. */
  pdv(header: PdvHeader): void {
    this.#assembler.pdv(header);
  }

  /** Upper layer hook: a piece of a PDV. */
  pdvData(data: PdvData): Promise<void> {
    return this.#assembler.pdvData(data);
  }

  /** Allocates a Message ID not in use (PS3.7 §9.3.1.2: unique among outstanding ones). */
  nextMessageId(): number {
    for (let i = 0; i < 0x10000; i++) {
      const id = this.#nextMessageId;
      this.#nextMessageId = id >= 0xffff ? 1 : id + 1;
      if (!this.#outstanding.has(id)) return id;
    }
    throw new Error("No Message ID available");
  }

  /**
   * Invokes an operation: sends the request (its Message ID is assigned when absent) and
   * resolves with the final response. Waits for a slot when the negotiated window is full.
   */
  async request(
    presentationContextId: number,
    command: CommandSet,
    options: RequestOptions = {},
  ): Promise<DimseResponse> {
    // A free slot is taken without a promise turn, so that the request goes out at once.
    if (!this.#tryAcquireSlot()) await this.#acquireSlot();
    if (this.#ended) throw this.#ended;
    const messageId = command.messageId ?? this.nextMessageId();
    if (this.#outstanding.has(messageId)) {
      this.#releaseSlot();
      throw new Error(`Message ID ${messageId} is already outstanding`);
    }
    const full: CommandSet = {
      ...command,
      messageId,
      commandDataSetType: options.dataSet ? 0x0000 : NO_DATA_SET,
    };
    const timeoutMs = options.timeoutMs ?? this.#options.responseTimeoutMs ?? 0;
    const response = new Promise<DimseResponse>((resolve, reject) => {
      this.#outstanding.set(messageId, {
        messageId,
        resolve,
        reject,
        onPending: options.onPending,
        timeoutMs,
        deadline: 0,
        chain: Promise.resolve(),
      });
    });
    // The response may be settled by shutdown while the data set is still being sent: mark it
    // handled here (the caller still gets it) and stop waiting for the sender once it is.
    response.catch(() => {});
    const sending = this.sendMessage(presentationContextId, full, options.dataSet);
    sending.catch(() => {});
    const onSent = options.onSent;
    if (onSent) sending.then(onSent, () => {});
    try {
      await Promise.race([sending, response]);
    } catch (e) {
      this.#finishOutstanding(messageId);
      throw e;
    }
    const entry = this.#outstanding.get(messageId);
    if (entry) this.#armTimer(entry);
    return response;
  }

  /** Sends a C-CANCEL-RQ for an outstanding request (PS3.7 §9.3.2.3). */
  async cancel(presentationContextId: number, messageId: number): Promise<void> {
    await this.sendMessage(presentationContextId, {
      commandField: CommandField.C_CANCEL_RQ,
      messageIdBeingRespondedTo: messageId,
      commandDataSetType: NO_DATA_SET,
    });
  }

  /** Sends one message; messages never interleave on the wire (PS3.8 Annex E.2). */
  sendMessage(
    presentationContextId: number,
    command: CommandSet,
    dataSet?: DataSetSource,
  ): Promise<void> {
    // With nothing being sent the message starts at once, not a promise turn later.
    const idle = this.#sending === 0;
    this.#sending++;
    const run = idle
      ? this.#send(presentationContextId, command, dataSet)
      : this.#sendLock.then(() => this.#send(presentationContextId, command, dataSet));
    this.#sendLock = run.then(this.#sent, this.#sent);
    return run;
  }

  async #send(
    presentationContextId: number,
    command: CommandSet,
    dataSet?: DataSetSource,
  ): Promise<void> {
    if (this.#ended) throw this.#ended;
    const sink = this.#options.sink;
    // A view of the shared codec's memory, which the writer below copies into the PDU it
    // builds before anything else uses that codec: no copy of the command set of its own.
    const bytes = encodeCommandSetView(command);
    const writer = this.#writer;
    if (!dataSet) {
      await sink.sendPData(writer.writeAndFlush(presentationContextId, true, bytes, true));
    } else {
      // The command stays in the PDU being filled, so that it goes out with the first data
      // set fragment; the last fragment and the flush are one write.
      let started = false;
      try {
        const commandPdus = writer.write(presentationContextId, true, bytes, true);
        started = commandPdus.length > 0;
        if (started) await sink.sendPData(commandPdus);
        let previous: Uint8Array | undefined;
        for await (const chunk of dataSetChunks(dataSet)) {
          if (chunk.length === 0) continue;
          if (previous) {
            const pdus = writer.write(presentationContextId, false, previous, false);
            started ||= pdus.length > 0;
            await sink.sendPData(pdus);
          }
          previous = chunk;
        }
        const last = previous ?? new Uint8Array(0);
        started = true;
        await sink.sendPData(writer.writeAndFlush(presentationContextId, false, last, true));
      } catch (e) {
        const error = e instanceof Error ? e : new Error(String(e));
        // Nothing of the message left: it is dropped whole and the association goes on.
        if (!started) writer.reset();
        else this.#options.onBrokenMessage?.(error);
        throw error;
      }
    }
    this.#options.onMessage?.("out", { command, presentationContextId });
  }

  /** Resolves when no operation is being performed (before answering A-RELEASE-RQ). */
  idle(): Promise<void> {
    if (this.#performing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Ends every operation: outstanding requests reject, performing ones are signalled. */
  shutdown(error: Error = new AssociationEndedError()): void {
    if (this.#ended) return;
    this.#ended = error;
    this.#assembler.fail(error);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const entry of this.#outstanding.values()) entry.reject(error);
    this.#outstanding.clear();
    for (const op of this.#performing.values()) op.controller.abort(error);
    this.#performing.clear();
    for (const w of this.#slotWaiters.splice(0)) w();
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  #tryAcquireSlot(): boolean {
    const limit = this.#options.negotiated.maxOperationsInvoked;
    if (!this.#ended && limit !== 0 && this.#slotsUsed >= limit) return false;
    this.#slotsUsed++;
    return true;
  }

  async #acquireSlot(): Promise<void> {
    const limit = this.#options.negotiated.maxOperationsInvoked;
    while (!this.#ended && limit !== 0 && this.#slotsUsed >= limit) {
      await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
    }
    // Taken synchronously after the check, so concurrent callers cannot overrun the window.
    this.#slotsUsed++;
  }

  // Response timeouts are deadlines checked by one timer per dispatcher, set for the earliest
  // of them, rather than a timer set and cleared per request: arming one is then a clock read.
  // The timer outlives the requests it was set for until it fires or the association ends.

  #armTimer(entry: Outstanding): void {
    if (entry.timeoutMs <= 0) {
      entry.deadline = 0;
      return;
    }
    entry.deadline = performance.now() + entry.timeoutMs;
    this.#scheduleTimer(entry.deadline);
  }

  #scheduleTimer(at: number): void {
    if (this.#ended) return;
    if (this.#timer !== undefined) {
      if (this.#timerAt <= at) return;
      clearTimeout(this.#timer);
    }
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => this.#checkDeadlines(),
      Math.max(0, Math.ceil(at - performance.now())),
    );
  }

  #checkDeadlines(): void {
    this.#timer = undefined;
    const now = performance.now();
    let next = Infinity;
    for (const entry of [...this.#outstanding.values()]) {
      if (entry.deadline === 0) continue;
      if (entry.deadline > now) {
        next = Math.min(next, entry.deadline);
        continue;
      }
      const error = new DimseTimeoutError(entry.messageId, entry.timeoutMs);
      this.#finishOutstanding(entry.messageId);
      entry.reject(error);
      this.#options.onTimeout?.(error);
    }
    if (next !== Infinity) this.#scheduleTimer(next);
  }

  #finishOutstanding(messageId: number): void {
    const entry = this.#outstanding.get(messageId);
    if (!entry) return;
    entry.deadline = 0;
    this.#outstanding.delete(messageId);
    this.#releaseSlot();
  }

  #releaseSlot(): void {
    this.#slotsUsed = Math.max(0, this.#slotsUsed - 1);
    const waiter = this.#slotWaiters.shift();
    waiter?.();
  }

  #received(message: DimseMessage): void {
    this.#options.onMessage?.("in", message);
    const command = message.command;
    if (isResponse(command.commandField)) {
      this.#receivedResponse(message);
      return;
    }
    if (command.commandField === CommandField.C_CANCEL_RQ) {
      // PS3.7 §9.3.2.3: routed to the operation it names; a finished one ignores it.
      const op = this.#performing.get(command.messageIdBeingRespondedTo ?? -1);
      op?.controller.abort(new Error("Cancelled by C-CANCEL-RQ"));
      message.dataSet?.cancel();
      return;
    }
    const limit = this.#options.negotiated.maxOperationsPerformed;
    if (limit !== 0 && this.#performing.size - this.#answered >= limit) {
      // PS3.7 Annex D.3.3.3: the invoker may not exceed the negotiated window; exceeding it is
      // a protocol violation, answered with A-ABORT (reason 2, the P-DATA-TF was unexpected).
      throw new ProtocolError(
        `Request beyond the asynchronous operations window of ${limit}`,
        AbortReason.UNEXPECTED_PDU,
      );
    }
    const messageId = command.messageId ?? 0;
    const controller = new AbortController();
    const op: Performing = { messageId, controller };
    this.#performing.set(messageId, op);
    let finalSent = false;
    const incoming: IncomingRequest = {
      message,
      signal: controller.signal,
      respond: async (rsp, dataSet) => {
        const full: CommandSet = {
          ...rsp,
          commandField: rsp.commandField ?? (command.commandField | 0x8000),
          messageIdBeingRespondedTo: messageId,
          commandDataSetType: dataSet ? 0x0000 : NO_DATA_SET,
        };
        if (full.affectedSopClassUid === undefined && command.affectedSopClassUid) {
          full.affectedSopClassUid = command.affectedSopClassUid;
        }
        const pending = statusCategory(full.status ?? 0) === "pending";
        // PS3.7 Annex D.3.3.3: the invoker may send its next request as soon as it has the final
        // response, so the operation leaves the window once that response is queued; it stays
        // performing (for release) until the response is written.
        if (!pending) {
          finalSent = true;
          this.#answered++;
        }
        try {
          await this.sendMessage(message.presentationContextId, full, dataSet);
        } finally {
          if (!pending) {
            this.#answered--;
            this.#finishPerforming(op);
          }
        }
      },
    };
    this.#options.onRequest(incoming).catch(() => {}).finally(() => {
      // A stream its handler still holds cannot be cancelled (the call would only build an
      // error to reject with); one it let go of is, so that the rest is discarded.
      const dataSet = message.dataSet;
      if (dataSet !== undefined && !dataSet.locked) dataSet.cancel().catch(() => {});
      if (!finalSent) this.#finishPerforming(op);
    });
  }

  #finishPerforming(op: Performing): void {
    if (this.#performing.get(op.messageId) !== op) return;
    this.#performing.delete(op.messageId);
    if (this.#performing.size === 0) {
      for (const w of this.#idleWaiters.splice(0)) w();
    }
  }

  #receivedResponse(message: DimseMessage): void {
    const id = message.command.messageIdBeingRespondedTo ?? -1;
    const entry = this.#outstanding.get(id);
    if (!entry) {
      // A response to nothing outstanding (e.g. after a timeout) is dropped.
      message.dataSet?.cancel();
      return;
    }
    const pending = statusCategory(message.command.status ?? 0) === "pending";
    if (pending) this.#armTimer(entry);
    else this.#finishOutstanding(id);
    const deliver = async () => {
      const response: DimseResponse = {
        presentationContextId: message.presentationContextId,
        command: message.command,
        dataSet: message.dataSet ? await readWholeDataSet(message.dataSet) : undefined,
      };
      if (pending) await entry.onPending?.(response);
      else entry.resolve(response);
    };
    entry.chain = entry.chain.then(deliver).catch((e) => {
      if (!pending) entry.reject(e instanceof Error ? e : new Error(String(e)));
    });
  }
}
