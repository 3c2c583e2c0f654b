/**
 * A scripted peer on a raw TCP socket: sends hand-built bytes and reads whole PDUs back, so tests
 * can assert the exact bytes the other end answers with and when it closes the connection.
 *
 * @module
 */
import { concatBytes } from "../../src/dataset/writer.ts";

/** A raw TCP peer. */
export class RawPeer {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(0);
  #eof = false;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    conn.setNoDelay(true);
  }

  /** Connects to a port on localhost. */
  static async connect(port: number): Promise<RawPeer> {
    return new RawPeer(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Listens on an ephemeral port; accept() yields the next connection. */
  static listen(): { port: number; accept(): Promise<RawPeer>; close(): void } {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return {
      port: (listener.addr as Deno.NetAddr).port,
      accept: async () => new RawPeer(await listener.accept()),
      close: () => listener.close(),
    };
  }

  /** Sends bytes. */
  async send(bytes: Uint8Array | number[]): Promise<void> {
    const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    let off = 0;
    while (off < data.length) off += await this.#conn.write(data.subarray(off));
  }

  async #fill(timeoutMs: number): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = new Uint8Array(65536);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((
      r,
    ) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
    let n: number | null | "timeout";
    try {
      n = await Promise.race([this.#conn.read(chunk), timeout]);
    } catch {
      n = null;
    } finally {
      clearTimeout(timer);
    }
    if (n === "timeout") throw new Error(`No bytes within ${timeoutMs} ms`);
    if (n === null) {
      this.#eof = true;
      return false;
    }
    const next = new Uint8Array(this.#buffer.length + n);
    next.set(this.#buffer);
    next.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = next;
    return true;
  }

  /** Reads one whole PDU (header included); null when the connection closes first. */
  async readPdu(timeoutMs = 2000): Promise<Uint8Array | null> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      if (this.#buffer.length >= 6) {
        const len = new DataView(this.#buffer.buffer, this.#buffer.byteOffset).getUint32(2);
        if (this.#buffer.length >= 6 + len) {
          const pdu = this.#buffer.slice(0, 6 + len);
          this.#buffer = this.#buffer.slice(6 + len);
          return pdu;
        }
      }
      if (!(await this.#fill(Math.max(1, deadline - Date.now())))) return null;
    }
  }

  /** Reads PDUs until one of `pduType` arrives (skipping P-DATA-TF and others); null on close. */
  async readPduOfType(pduType: number, timeoutMs = 2000): Promise<Uint8Array | null> {
    while (true) {
      const pdu = await this.readPdu(timeoutMs);
      if (!pdu || pdu[0] === pduType) return pdu;
    }
  }

  /** Resolves true when the other end closes within the time (bytes in between are dropped). */
  async waitClosed(timeoutMs = 2000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    try {
      while (await this.#fill(Math.max(1, deadline - Date.now()))) {
        this.#buffer = new Uint8Array(0);
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Closes our end. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** A-RELEASE-RQ PDU bytes (PS3.8 §9.3.6). */
export const A_RELEASE_RQ: number[] = [0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0];
/** A-RELEASE-RP PDU bytes (PS3.8 §9.3.7). */
export const A_RELEASE_RP: number[] = [0x06, 0, 0, 0, 0, 4, 0, 0, 0, 0];

/** A-ABORT PDU bytes (PS3.8 §9.3.8). */
export function aAbort(source: number, reason: number): number[] {
  return [0x07, 0, 0, 0, 0, 4, 0, 0, source, reason];
}

/** A P-DATA-TF PDU with one PDV (PS3.8 §9.3.5, Annex E.2). */
export function pDataTf(
  presentationContextId: number,
  isCommand: boolean,
  isLast: boolean,
  data: Uint8Array,
): Uint8Array {
  const pdvLength = data.length + 2;
  const out = new Uint8Array(6 + 4 + pdvLength);
  const view = new DataView(out.buffer);
  out[0] = 0x04;
  view.setUint32(2, 4 + pdvLength);
  view.setUint32(6, pdvLength);
  out[10] = presentationContextId;
  out[11] = (isCommand ? 1 : 0) | (isLast ? 2 : 0);
  out.set(data, 12);
  return out;
}

/** A C-ECHO-RQ command set, hand-encoded in implicit VR little endian (PS3.7 §9.3.5). */
export function cEchoRqCommand(messageId: number): Uint8Array {
  const uid = "1.2.840.10008.1.1\0";
  const elements: [number, Uint8Array][] = [
    [0x0002, new TextEncoder().encode(uid)],
    [0x0100, u16(0x0030)],
    [0x0110, u16(messageId)],
    [0x0800, u16(0x0101)],
  ];
  const body = elements.reduce((n, [, v]) => n + 8 + v.length, 0);
  const out = new Uint8Array(12 + body);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0, true);
  view.setUint16(2, 0, true);
  view.setUint32(4, 4, true);
  view.setUint32(8, body, true);
  let off = 12;
  for (const [element, value] of elements) {
    view.setUint16(off, 0, true);
    view.setUint16(off + 2, element, true);
    view.setUint32(off + 4, value.length, true);
    out.set(value, off + 8);
    off += 8 + value.length;
  }
  return out;
}

function u16(v: number): Uint8Array {
  return new Uint8Array([v & 0xff, v >> 8]);
}

/**
 * Hand-built A-ASSOCIATE-RQ proposing one abstract syntax (default Verification) in one transfer
 * syntax (default implicit VR little endian) on the given odd context ids.
 */
export function aAssociateRqBytes(
  options: {
    presentationContextIds?: number[];
    calledAeTitle?: string;
    callingAeTitle?: string;
    asyncWindow?: [number, number];
    abstractSyntax?: string;
    transferSyntax?: string;
  } = {},
): Uint8Array {
  const enc = new TextEncoder();
  const ae = (s: string) => enc.encode(s.padEnd(16, " "));
  const item = (type: number, value: Uint8Array) => {
    const out = new Uint8Array(4 + value.length);
    out[0] = type;
    new DataView(out.buffer).setUint16(2, value.length);
    out.set(value, 4);
    return out;
  };
  const cat = (...parts: Uint8Array[]) => concatBytes(parts);
  const contexts = (options.presentationContextIds ?? [1]).map((id) =>
    item(
      0x20,
      cat(
        new Uint8Array([id, 0, 0, 0]),
        item(0x30, enc.encode(options.abstractSyntax ?? "1.2.840.10008.1.1")),
        item(0x40, enc.encode(options.transferSyntax ?? "1.2.840.10008.1.2")),
      ),
    )
  );
  const maxLength = new Uint8Array(4);
  new DataView(maxLength.buffer).setUint32(0, 16384);
  const userItems = [
    item(0x51, maxLength),
    item(0x52, enc.encode("1.2.3.4")),
  ];
  if (options.asyncWindow) {
    const w = new Uint8Array(4);
    new DataView(w.buffer).setUint16(0, options.asyncWindow[0]);
    new DataView(w.buffer).setUint16(2, options.asyncWindow[1]);
    userItems.push(item(0x53, w));
  }
  const variable = cat(
    item(0x10, enc.encode("1.2.840.10008.3.1.1.1")),
    ...contexts,
    item(0x50, cat(...userItems)),
  );
  const fixed = new Uint8Array(68);
  new DataView(fixed.buffer).setUint16(0, 1);
  fixed.set(ae(options.calledAeTitle ?? "DIMSE"), 4);
  fixed.set(ae(options.callingAeTitle ?? "RAWPEER"), 20);
  const body = cat(fixed, variable);
  const header = new Uint8Array(6);
  header[0] = 0x01;
  new DataView(header.buffer).setUint32(2, body.length);
  return cat(header, body);
}

/** Connects and associates; returns the peer after the A-ASSOCIATE-AC has been read. */
export async function associateRaw(
  port: number,
  options: Parameters<typeof aAssociateRqBytes>[0] = {},
): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  await peer.send(aAssociateRqBytes(options));
  const ac = await peer.readPdu();
  if (!ac || ac[0] !== 0x02) throw new Error(`Expected A-ASSOCIATE-AC, got ${ac?.[0]}`);
  return peer;
}

/** A C-ECHO-RSP command set, hand-encoded in implicit VR little endian (PS3.7 §9.3.5.2). */
export function cEchoRspCommand(messageIdBeingRespondedTo: number, status = 0): Uint8Array {
  const uid = "1.2.840.10008.1.1\0";
  const elements: [number, Uint8Array][] = [
    [0x0002, new TextEncoder().encode(uid)],
    [0x0100, u16(0x8030)],
    [0x0120, u16(messageIdBeingRespondedTo)],
    [0x0800, u16(0x0101)],
    [0x0900, u16(status)],
  ];
  const body = elements.reduce((n, [, v]) => n + 8 + v.length, 0);
  const out = new Uint8Array(12 + body);
  const view = new DataView(out.buffer);
  view.setUint32(4, 4, true);
  view.setUint32(8, body, true);
  let off = 12;
  for (const [element, value] of elements) {
    view.setUint16(off + 2, element, true);
    view.setUint32(off + 4, value.length, true);
    out.set(value, off + 8);
    off += 8 + value.length;
  }
  return out;
}
