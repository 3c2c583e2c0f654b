// An Scp with the Storage service over a fresh temp folder, for storage tests.
import { Scp } from "../../src/scp.ts";
import { storage, type StorageOptions } from "../../src/services/storage.ts";
import type { Service } from "../../src/services/service.ts";

/** A listening Storage SCP on an ephemeral port, and its folder. */
export interface StorageScp {
  /** The SCP, listening on 127.0.0.1. */
  scp: Scp;
  /** The store folder. */
  dir: string;
  /** Log lines of the Storage service. */
  log: string[];
  /** Closes the SCP and removes the folder. */
  close(): Promise<void>;
}

/**
 * Starts a Storage SCP (plus `extra` services) storing into a new temp folder, or into
 * `options.dir` (then left in place); `options` go to the Storage service, `maxPduLength` to
 * the SCP.
 */
export async function startStorageScp(
  extra: Service[] = [],
  options: Partial<StorageOptions> & { maxPduLength?: number } = {},
): Promise<StorageScp> {
  const { maxPduLength, ...storageOptions } = options;
  const ownDir = storageOptions.dir === undefined;
  const dir = storageOptions.dir ?? await Deno.makeTempDir();
  const log: string[] = [];
  const scp = new Scp({
    aeTitle: "DIMSE",
    port: 0,
    hostname: "127.0.0.1",
    maxPduLength,
    services: [
      ...extra,
      storage({ log: (line) => log.push(line), ...storageOptions, dir }),
    ],
  });
  await scp.listen();
  return {
    scp,
    dir,
    log,
    async close() {
      await scp.close({ timeoutMs: 1000 });
      if (ownDir) await Deno.remove(dir, { recursive: true });
    },
  };
}
