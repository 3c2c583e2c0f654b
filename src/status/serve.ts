/**
 * Serves the status app over HTTP with `Deno.serve`, and closes it.
 *
 * @module
 */
import type { StatusApp } from "./app.ts";
import type { ListeningAddress } from "./source.ts";

/** Where to serve the status endpoint. */
export interface ServeStatusOptions {
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Address to bind. Default "127.0.0.1" (the endpoint is not meant to be public). */
  hostname?: string;
}

/** A running status server. */
export interface StatusServer {
  /** The address actually bound (the real port when 0 was asked). */
  readonly address: ListeningAddress;
  /** The URL of the page, e.g. "http://127.0.0.1:8080/". */
  readonly url: string;
  /** Stops accepting requests, lets requests in flight finish, and resolves when closed. */
  close(): Promise<void>;
}

/** Starts serving `app`; resolves once the socket is bound. */
export function serveStatus(
  app: StatusApp,
  options: ServeStatusOptions = {},
): Promise<StatusServer> {
  const port = options.port ?? 8080;
  const hostname = options.hostname ?? "127.0.0.1";
  return new Promise(function start(resolve, reject) {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        port,
        hostname,
        onListen() {},
      }, function handle(request) {
        return app.fetch(request);
      });
    } catch (error) {
      reject(error);
      return;
    }
    const address = { hostname: server.addr.hostname, port: server.addr.port };
    const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
    let closing: Promise<void> | undefined;
    resolve({
      address,
      url: `http://${host}:${address.port}/`,
      close() {
        closing ??= server.shutdown();
        return closing;
      },
    });
  });
}
