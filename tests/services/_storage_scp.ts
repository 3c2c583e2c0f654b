// An Scp with the Storage service over a fresh temp folder, for storage tests.
import { Scp } from "../../src/scp.ts";
import { storage } from "../../src/services/storage.ts";
import type { Service } from "../../src/services/service.ts";

/** A listening Storage SCP on an ephemeral port, and its folder. */
export interface StorageScp {
  /** The SCP, listening on 127.0.0.1. */
  scp: Scp;
  /** The store folder. */
  dir: string;
  /** Closes the SCP and removes the folder. */
  close(): Promise<void>;
}

/** Starts a Storage SCP (plus `extra` services) storing into a new temp folder. */
export async function startStorageScp(extra: Service[] = []): Promise<StorageScp> {
  const dir = await Deno.makeTempDir();
  const scp = new Scp({
    aeTitle: "DIMSE",
    port: 0,
    hostname: "127.0.0.1",
    services: [...extra, storage({ dir })],
  });
  await scp.listen();
  return {
    scp,
    dir,
    async close() {
      await scp.close({ timeoutMs: 1000 });
      await Deno.remove(dir, { recursive: true });
    },
  };
}
