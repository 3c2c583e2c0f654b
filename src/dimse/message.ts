/**
 * DIMSE messages (PS3.7 §6.3): a command set and an optional data set, assembled from the PDVs
 * of one presentation context (PS3.8 Annex E) and sent as PDVs. The data set is a stream with
 * backpressure: the socket is not read faster than its consumer takes it.
 *
 * @module
 */
import { type CommandSet, hasDataSet } from "./command.ts";
import { decodeCommandSet, encodeCommandSet } from "./command_codec.ts";
import { CommandSetError } from "../ul/errors.ts";
import { AbortReason } from "../ul/pdu.ts";
import { type PdvData, type PdvHeader, ProtocolError } from "../ul/association.ts";
import { releasePdvBytes } from "../ul/pdata.ts";

/** A DIMSE message as received. */
export interface DimseMessage {
  /** Presentation context the message came on. */
  presentationContextId: number;
  /** The decoded command set. */
  command: CommandSet;
  /** The data set, streamed, when the command announces one. */
  dataSet?: ReadableStream<Uint8Array>;
}

/** A data set to send: whole bytes or a stream of chunks. */
export type DataSetSource = Uint8Array | AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

/** Largest command set accepted; command sets are small (PS3.7 §9.3, §10.3). */
const MAX_COMMAND_LENGTH = 1 << 20;

/** Data set chunks buffered ahead of the consumer before reading the socket pauses. */
const DATA_SET_HIGH_WATER_MARK = 4;

/** Counts chunks (the default size of one per chunk); shared, as streams only read it. */
const DATA_SET_STRATEGY: QueuingStrategy<Uint8Array> = { highWaterMark: DATA_SET_HIGH_WATER_MARK };

/**
 * Assembles messages from PDVs as the upper layer delivers them. A message's fragments come on
 * one presentation context, command first then data set, never interleaved with another
 * message (PS3.8 Annex E.2, PS3.7 §6.3.1); a PDV breaking that order is answered with A-ABORT
 * reason 2 "unexpected PDU", as the P-DATA-TF carrying it is not the one the exchange expects.
 * A PDV on a context that was not accepted is an invalid parameter value (reason 6).
 */
export class MessageAssembler {
  #mode: "idle" | "command" | "data" = "idle";
  #pcid = 0;
  #lastFragment = false;
  #commandParts: Uint8Array[] = [];
  #commandLength = 0;
  #controller?: ReadableStreamDefaultController<Uint8Array>;
  #cancelled = false;
  #pullWaiter?: () => void;
  #isAccepted: (pcid: number) => boolean;
  #onMessage: (message: DimseMessage) => void;

  /** Creates an assembler; `onMessage` gets each message as soon as its command is complete. */
  constructor(options: {
    isAccepted: (presentationContextId: number) => boolean;
    onMessage: (message: DimseMessage) => void;
  }) {
    this.#isAccepted = options.isAccepted;
    this.#onMessage = options.onMessage;
  }

  /** Whether a data set is being received. */
  get receivingDataSet(): boolean {
    return this.#mode === "data";
  }

  /** A PDV header; throws ProtocolError when it breaks the message order. */
  pdv(header: PdvHeader): void {
    if (!this.#isAccepted(header.presentationContextId)) {
      throw new ProtocolError(
        `PDV on presentation context ${header.presentationContextId}, which is not accepted`,
        AbortReason.INVALID_PDU_PARAMETER_VALUE,
      );
    }
    if (this.#mode === "idle") {
      if (!header.isCommand) {
        throw new ProtocolError(
          "Data set fragment received before a command",
          AbortReason.UNEXPECTED_PDU,
        );
      }
      this.#mode = "command";
      this.#pcid = header.presentationContextId;
    } else if (header.presentationContextId !== this.#pcid) {
      throw new ProtocolError(
        `PDV on presentation context ${header.presentationContextId} interleaves a message on ${this.#pcid}`,
        AbortReason.UNEXPECTED_PDU,
      );
    } else if (this.#mode === "command" && !header.isCommand) {
      throw new ProtocolError(
        "Data set fragment received before the last command fragment",
        AbortReason.UNEXPECTED_PDU,
      );
    } else if (this.#mode === "data" && header.isCommand) {
      throw new ProtocolError(
        "Command fragment received before the last data set fragment",
        AbortReason.UNEXPECTED_PDU,
      );
    }
    // The fragment ends with the pdv-data piece marked endOfPdv (also for an empty PDV).
    this.#lastFragment = header.isLast;
  }

  /** A piece of the current PDV; resolves when the consumer can take more. */
  async pdvData(data: PdvData): Promise<void> {
    if (this.#mode === "command") {
      this.#commandLength += data.bytes.length;
      if (this.#commandLength > MAX_COMMAND_LENGTH) {
        throw new ProtocolError("Command set too long", AbortReason.INVALID_PDU_PARAMETER_VALUE);
      }
      this.#commandParts.push(data.bytes);
      if (data.endOfPdv && this.#lastFragment) this.#endFragment();
      return;
    }
    if (this.#mode === "data") {
      if (data.bytes.length > 0 && !this.#cancelled) {
        this.#controller!.enqueue(data.bytes);
      }
      if (data.endOfPdv && this.#lastFragment) {
        this.#endFragment();
        return;
      }
      if (!this.#cancelled && (this.#controller!.desiredSize ?? 1) <= 0) {
        await new Promise<void>((resolve) => (this.#pullWaiter = resolve));
      }
    }
  }

  /** Ends the data set stream with an error (the association ended). */
  fail(error: Error): void {
    if (this.#mode === "data" && !this.#cancelled) {
      try {
        this.#controller?.error(error);
      } catch {
        // Already closed.
      }
    }
    this.#pullWaiter?.();
    this.#mode = "idle";
  }

  #endFragment(): void {
    if (this.#mode === "command") {
      const parts = this.#commandParts;
      const bytes = concat(parts, this.#commandLength);
      this.#commandParts = [];
      this.#commandLength = 0;
      let command: CommandSet;
      try {
        command = decodeCommandSet(bytes);
        // Decoded into values of its own: the received bytes can take a later read.
        for (const part of parts) releasePdvBytes(part);
      } catch (e) {
        if (e instanceof CommandSetError) {
          // PS3.7 §9.3: without a decodable command there is no message to answer.
          throw new ProtocolError(e.message, AbortReason.INVALID_PDU_PARAMETER_VALUE);
        }
        throw e;
      }
      const presentationContextId = this.#pcid;
      if (hasDataSet(command)) {
        this.#mode = "data";
        this.#cancelled = false;
        // A stream keeps its controller: once its data set has ended (received whole, maybe
        // not read) it can still be cancelled, which must leave alone the data set of a later
        // message being received meanwhile (with an asynchronous operations window).
        let own: ReadableStreamDefaultController<Uint8Array> | undefined;
        const dataSet = new ReadableStream<Uint8Array>({
          start: (controller) => {
            own = controller;
            this.#controller = controller;
          },
          pull: () => {
            if (own !== this.#controller) return;
            const waiter = this.#pullWaiter;
            this.#pullWaiter = undefined;
            waiter?.();
          },
          cancel: () => {
            if (own !== this.#controller) return;
            this.#cancelled = true;
            const waiter = this.#pullWaiter;
            this.#pullWaiter = undefined;
            waiter?.();
          },
        }, DATA_SET_STRATEGY);
        this.#onMessage({ presentationContextId, command, dataSet });
      } else {
        this.#mode = "idle";
        this.#onMessage({ presentationContextId, command });
      }
      return;
    }
    if (this.#mode === "data") {
      if (!this.#cancelled) {
        try {
          this.#controller!.close();
        } catch {
          // Cancelled meanwhile.
        }
      }
      this.#controller = undefined;
      this.#mode = "idle";
    }
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Reads a whole data set into memory. Only for small data sets (C-FIND identifiers, N-GET
 * attribute lists), never on the storage path.
 */
export async function readWholeDataSet(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of stream) {
    parts.push(chunk);
    length += chunk.length;
  }
  return concat(parts, length);
}

/** Encodes a command set for sending (implicit VR little endian, PS3.7 §6.3.1). */
export function encodeCommand(command: CommandSet): Uint8Array {
  return encodeCommandSet(command);
}

/** Iterates a data set source as chunks. */
export async function* dataSetChunks(source: DataSetSource): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  yield* source as AsyncIterable<Uint8Array>;
}
