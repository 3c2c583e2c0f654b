/**
 * The TCP/TLS transport under the upper layer (PS3.8 §9.1): Deno sockets with Nagle off,
 * writes fully awaited (backpressure), and a listener.
 *
 * Nagle's algorithm is turned off on TLS connections too: a TLS connection is opened or
 * accepted as TCP, `TCP_NODELAY` is set on the TCP socket, and TLS then runs over it
 * (`Deno.startTls` for the requestor, `node:tls` for the acceptor, as a Deno TLS listener hands
 * out connections whose socket options cannot be set). A requestor that presents a client
 * certificate connects with `Deno.connectTls`, which takes one and `Deno.startTls` does not.
 *
 * @module
 */
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";

/** TLS options for a connection or a listener (PS3.15 Annex B). */
export interface TlsOptions {
  /** PEM certificate chain (listener; client for mutual TLS). */
  cert?: string;
  /** PEM private key (listener; client for mutual TLS). */
  key?: string;
  /** PEM CA certificates to trust (client). */
  caCerts?: string[];
  /** Server name to verify (client); defaults to the host. */
  serverName?: string;
}

/** One transport connection. */
export interface Transport {
  /** Peer address as "host:port". */
  readonly peerAddress: string;
  /** Reads into `buffer`; null at end of stream or once closed. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes every byte, awaiting the socket (backpressure). */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes the connection; idempotent. */
  close(): void;
  /** Whether close() was called or the peer closed. */
  readonly closed: boolean;
}

function addressOf(addr: Deno.Addr): string {
  if (addr.transport === "tcp" || addr.transport === "udp") return `${addr.hostname}:${addr.port}`;
  return String(addr.transport);
}

class DenoTransport implements Transport {
  readonly peerAddress: string;
  #conn: Deno.Conn;
  #closed = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.peerAddress = addressOf(conn.remoteAddr);
    // PS3.8 §9.1 does not ask for it, but small PDUs must not wait on Nagle's algorithm. A TLS
    // connection has no setNoDelay: it was set on its TCP socket before the handshake.
    const c = conn as Deno.Conn & { setNoDelay?: (on: boolean) => void };
    try {
      c.setNoDelay?.(true);
    } catch {
      // Not a socket that takes the option.
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) return null;
    try {
      const n = await this.#conn.read(buffer);
      if (n === null) this.#closed = true;
      return n;
    } catch {
      this.#closed = true;
      return null;
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      if (this.#closed) throw new TransportClosedError();
      try {
        offset += await this.#conn.write(bytes.subarray(offset));
      } catch (e) {
        this.#closed = true;
        throw new TransportClosedError(e);
      }
    }
  }

  close(): void {
    if (this.#closed) {
      try {
        this.#conn.close();
      } catch {
        // Already closed.
      }
      return;
    }
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** Writing on a closed transport connection. */
export class TransportClosedError extends Error {
  /** Creates the error, keeping the underlying one as cause. */
  constructor(cause?: unknown) {
    super("Transport connection is closed", { cause });
    this.name = "TransportClosedError";
  }
}

/** The connection could not be opened within the connect timeout. */
export class ConnectTimeoutError extends Error {
  /** Creates the error for a host and port. */
  constructor(host: string, port: number, timeoutMs: number) {
    super(`Connect to ${host}:${port} timed out after ${timeoutMs} ms`);
    this.name = "ConnectTimeoutError";
  }
}

/** Wraps an accepted or opened Deno connection. */
export function wrapConn(conn: Deno.Conn): Transport {
  return new DenoTransport(conn);
}

/** Opens a transport connection (TCP, or TLS when `tls` is given). */
export async function connectTransport(
  options: { hostname: string; port: number; tls?: TlsOptions; timeoutMs?: number },
): Promise<Transport> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const tls = options.tls;
  const connecting: Promise<Deno.Conn> = !tls
    ? Deno.connect({ hostname: options.hostname, port: options.port })
    : tls.cert && tls.key
    ? Deno.connectTls({
      hostname: options.hostname,
      port: options.port,
      caCerts: tls.caCerts,
      cert: tls.cert,
      key: tls.key,
    })
    : startTlsWithNoDelay(options.hostname, options.port, tls);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ConnectTimeoutError(options.hostname, options.port, timeoutMs)),
      timeoutMs,
    );
  });
  try {
    const conn = await Promise.race([connecting, timeout]);
    return wrapConn(conn);
  } catch (e) {
    connecting.then((c) => c.close(), () => {});
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Connects TCP, turns Nagle off, then runs the TLS client handshake over that socket. */
async function startTlsWithNoDelay(
  hostname: string,
  port: number,
  tls: TlsOptions,
): Promise<Deno.Conn> {
  const tcp = await Deno.connect({ hostname, port });
  try {
    tcp.setNoDelay(true);
    return await Deno.startTls(tcp, {
      hostname: tls.serverName ?? hostname,
      caCerts: tls.caCerts,
    });
  } catch (e) {
    try {
      tcp.close();
    } catch {
      // Consumed by startTls or already closed.
    }
    throw e;
  }
}

/** A listening socket handing out transport connections. */
export interface TransportListener {
  /** The bound port. */
  readonly port: number;
  /** The bound hostname. */
  readonly hostname: string;
  /** Accepted connections until closed. */
  accept(): Promise<Transport | null>;
  /** Stops listening. */
  close(): void;
}

/** Listens on a TCP port (TLS when `tls` has a certificate and key); port 0 picks one. */
export function listenTransport(
  options: { hostname?: string; port?: number; tls?: TlsOptions },
): TransportListener {
  const hostname = options.hostname ?? "0.0.0.0";
  const port = options.port ?? 11112;
  const cert = options.tls?.cert;
  const key = options.tls?.key;
  // TLS is served over a plain TCP listener so that each accepted socket gets TCP_NODELAY
  // before the handshake. A certificate or key that cannot be used is refused here, when
  // listening starts, as Deno.listenTls refuses it, rather than on each connection.
  if (cert && key) Deno.listenTls({ hostname, port: 0, cert, key }).close();
  const listener = Deno.listen({ hostname, port, transport: "tcp" });
  const addr = listener.addr as Deno.NetAddr;
  let closed = false;
  return {
    port: addr.port,
    hostname: addr.hostname,
    async accept(): Promise<Transport | null> {
      while (!closed) {
        try {
          const conn = await listener.accept();
          if (!cert || !key) return wrapConn(conn);
          return await acceptTls(conn, cert, key);
        } catch (e) {
          if (closed || e instanceof Deno.errors.BadResource) return null;
          // A failed handshake or a reset before accept affects only that connection.
        }
      }
      return null;
    },
    close(): void {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    },
  };
}

interface NodeTlsClasses {
  TLSSocket: typeof TLSSocket;
  Duplex: typeof Duplex;
}

let nodeTls: Promise<NodeTlsClasses> | undefined;

/** `node:tls` and `node:stream`, loaded on the first TLS connection accepted only. */
function loadNodeTls(): Promise<NodeTlsClasses> {
  nodeTls ??= Promise.all([import("node:tls"), import("node:stream")]).then(([tls, stream]) => ({
    TLSSocket: tls.TLSSocket,
    Duplex: stream.Duplex,
  }));
  return nodeTls;
}

/** Turns Nagle off on an accepted TCP socket and serves TLS over it as the server. */
async function acceptTls(conn: Deno.TcpConn, cert: string, key: string): Promise<Transport> {
  const peerAddress = addressOf(conn.remoteAddr);
  try {
    conn.setNoDelay(true);
    const node = await loadNodeTls();
    const socket = new node.TLSSocket(connDuplex(conn, node.Duplex), {
      isServer: true,
      cert,
      key,
    });
    return new TlsSocketTransport(socket, conn, peerAddress);
  } catch (e) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    throw e;
  }
}

/** The accepted TCP connection as the byte stream `node:tls` runs over. */
function connDuplex(conn: Deno.Conn, DuplexClass: typeof Duplex): Duplex {
  // The socket is read into one buffer and each read handed on as a copy of its own length:
  // a fresh buffer per read would cost its full size each time, however little was read.
  const scratch = new Uint8Array(65536);
  const duplex = new DuplexClass({
    read() {
      conn.read(scratch).then(
        (n) => duplex.push(n === null ? null : scratch.slice(0, n)),
        (e) => duplex.destroy(e),
      );
    },
    write(chunk: Uint8Array, _encoding: string, callback: (error?: Error | null) => void) {
      writeAll(conn, chunk).then(() => callback(), callback);
    },
    final(callback: (error?: Error | null) => void) {
      (conn as Deno.TcpConn).closeWrite().then(() => callback(), () => callback());
    },
    destroy(error: Error | null, callback: (error?: Error | null) => void) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      callback(error);
    },
  });
  // Failures reach the TLS socket on top; the stream itself has nobody else to tell.
  duplex.on("error", () => {});
  return duplex;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** Data received and not yet read at which the TLS socket is paused (backpressure). */
const TLS_READ_HIGH_WATER = 262144;

/** A server-side `node:tls` socket as a transport connection. */
class TlsSocketTransport implements Transport {
  readonly peerAddress: string;
  #socket: TLSSocket;
  #conn: Deno.Conn;
  #chunks: Uint8Array[] = [];
  #offset = 0;
  #buffered = 0;
  #paused = false;
  #ended = false;
  #closed = false;
  #wake?: () => void;

  constructor(socket: TLSSocket, conn: Deno.Conn, peerAddress: string) {
    this.#socket = socket;
    this.#conn = conn;
    this.peerAddress = peerAddress;
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered >= TLS_READ_HIGH_WATER && !this.#paused) {
        this.#paused = true;
        socket.pause();
      }
      this.#notify();
    });
    const end = () => {
      this.#ended = true;
      this.#notify();
    };
    socket.on("end", end);
    socket.on("close", end);
    // A failed handshake or a reset affects only this connection: it reads as closed.
    socket.on("error", end);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#buffered === 0) {
      if (this.#closed || this.#ended) {
        this.#closed = true;
        return null;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    let n = 0;
    while (n < buffer.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const take = Math.min(chunk.length - this.#offset, buffer.length - n);
      buffer.set(chunk.subarray(this.#offset, this.#offset + take), n);
      n += take;
      this.#offset += take;
      if (this.#offset === chunk.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
    }
    this.#buffered -= n;
    if (this.#paused && this.#buffered < TLS_READ_HIGH_WATER / 2) {
      this.#paused = false;
      this.#socket.resume();
    }
    return n;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.#closed || this.#socket.destroyed) throw new TransportClosedError();
    // The caller may reuse its buffer once this resolves; the socket gets bytes of its own.
    const own = bytes.slice();
    await new Promise<void>((resolve, reject) => {
      this.#socket.write(own, (error?: Error | null) => {
        if (!error) return resolve();
        this.#closed = true;
        reject(new TransportClosedError(error));
      });
    });
  }

  close(): void {
    this.#closed = true;
    this.#chunks = [];
    this.#buffered = 0;
    this.#socket.destroy();
    try {
      this.#conn.close();
    } catch {
      // Closed with the socket.
    }
    this.#notify();
  }
}
