// An Scp with the Storage service over a fresh temp folder, for storage tests.
import { Scp } from "../../src/scp.ts";
import { storage, type StorageOptions } from "../../src/services/storage.ts";
import type { Service } from "../../src/services/service.ts";
import { writeDataSet } from "../../src/dataset/writer.ts";

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

/** A CT Image Storage data set in explicit VR little endian, about `pixelBytes` long (zeros). */
export function ctBytes(sopInstanceUid: string, pixelBytes: number): Promise<Uint8Array> {
  return writeDataSet({
    "00080016": { vr: "UI", Value: ["1.2.840.10008.5.1.4.1.1.2"] },
    "00080018": { vr: "UI", Value: [sopInstanceUid] },
    "00100010": { vr: "PN", Value: [{ Alphabetic: "Doe^John" }] },
    "7FE00010": { vr: "OW", InlineBinary: base64Zeros(pixelBytes) },
  }, { transferSyntax: "1.2.840.10008.1.2.1" });
}

/** Base64 of at least n zero bytes, a multiple of 6 (an even length, as OW needs). */
function base64Zeros(n: number): string {
  return "A".repeat(Math.ceil(n / 6) * 8);
}

/** Every file under a folder, relative, sorted. */
export function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const rel = prefix + entry.name;
    if (entry.isDirectory) out.push(...listFiles(`${dir}/${entry.name}`, `${rel}/`));
    else out.push(rel);
  }
  return out.sort();
}
