/**
 * The TCP/TLS transport under the upper layer (PS3.8 §9.1): Deno sockets with Nagle off,
 * writes fully awaited (backpressure), and a listener.
 *
 * @module
 */

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
    // PS3.8 §9.1 does not ask for it, but small PDUs must not wait on Nagle's algorithm.
    const c = conn as Deno.Conn & { setNoDelay?: (on: boolean) => void };
    try {
      c.setNoDelay?.(true);
    } catch {
      // Not a TCP socket (TLS over TCP handles it itself).
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
  const connecting: Promise<Deno.Conn> = options.tls
    ? Deno.connectTls({
      hostname: options.hostname,
      port: options.port,
      caCerts: options.tls.caCerts,
      ...(options.tls.cert && options.tls.key
        ? { cert: options.tls.cert, key: options.tls.key }
        : {}),
    })
    : Deno.connect({ hostname: options.hostname, port: options.port });
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
  const listener: Deno.Listener = options.tls?.cert && options.tls.key
    ? Deno.listenTls({ hostname, port, cert: options.tls.cert, key: options.tls.key })
    : Deno.listen({ hostname, port, transport: "tcp" });
  const addr = listener.addr as Deno.NetAddr;
  let closed = false;
  return {
    port: addr.port,
    hostname: addr.hostname,
    async accept(): Promise<Transport | null> {
      while (!closed) {
        try {
          return wrapConn(await listener.accept());
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
