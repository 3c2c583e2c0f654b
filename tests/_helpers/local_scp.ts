// An SCP of ours on 127.0.0.1 and an association to it, for tests that run both ends.
import { Association, type ConnectOptions } from "../../src/client.ts";
import { Scp, type ScpOptions } from "../../src/scp.ts";
import type { Service } from "../../src/services/service.ts";

/**
 * Starts an SCP called DIMSE on a free port of 127.0.0.1 with `services` and an ARTIM timeout
 * of 500 ms; `options` overrides any of that.
 */
export async function startLocalScp(
  services: Service[],
  options: Partial<ScpOptions> = {},
): Promise<Scp> {
  const scp = new Scp({
    aeTitle: "DIMSE",
    port: 0,
    hostname: "127.0.0.1",
    services,
    timeouts: { artim: 500 },
    ...options,
  });
  await scp.listen();
  return scp;
}

/** Requests an association with `scp`, calling it DIMSE; `options` adds to that. */
export function connectLocal(
  scp: Scp,
  options: Partial<ConnectOptions> = {},
): Promise<Association> {
  return Association.connect({
    host: "127.0.0.1",
    port: scp.port,
    calledAeTitle: "DIMSE",
    ...options,
  });
}
