// An SCP with Storage and Storage Commitment (PS3.4 J.3) over a store folder, as the tests of
// the commitment service and of `dimse commit` run it.
import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import { Scp } from "../../src/scp.ts";
import { storage } from "../../src/services/storage.ts";
import {
  type AeAddress,
  type DeliveredReport,
  storageCommitment,
  type StorageCommitmentScp,
} from "../../src/services/storage_commitment.ts";
import { inspectFile, storageContexts, storeFile } from "../../src/services/storage_scu.ts";
import type { InstanceIndex } from "../../src/store/instance_index.ts";
import { openSqliteIndex } from "../../src/store/sqlite_index.ts";

/** An SCP with Storage and Storage Commitment over one store folder and its index. */
export interface CommitmentScp {
  /** The listening SCP. */
  scp: Scp;
  /** The store folder. */
  dir: string;
  /** Its index. */
  index: InstanceIndex;
  /** The Storage Commitment service. */
  commitment: StorageCommitmentScp;
  /** Log lines of both services. */
  log: string[];
  /** Reports the commitment service delivered. */
  reports: DeliveredReport[];
  /** Closes the SCP, the service and the index. */
  close(): Promise<void>;
}

/**
 * Starts an SCP called ARCHIVE with Storage and Storage Commitment over `options.dir` (default
 * a new temp folder, which `close` leaves in place) and its index; log lines and delivered
 * reports are collected.
 */
export async function startCommitmentScp(
  options: {
    dir?: string;
    destinations?: Record<string, AeAddress>;
    retryDelaysMs?: number[];
  } = {},
): Promise<CommitmentScp> {
  const dir = options.dir ?? await Deno.makeTempDir();
  const index = await openSqliteIndex(dir);
  const log: string[] = [];
  const reports: DeliveredReport[] = [];
  const commitment = storageCommitment({
    aeTitle: "ARCHIVE",
    dir,
    index,
    destinations: options.destinations,
    retryDelaysMs: options.retryDelaysMs ?? [],
    log: (line) => log.push(line),
    onReport: (report) => reports.push(report),
  });
  const scp = new Scp({
    aeTitle: "ARCHIVE",
    port: 0,
    hostname: "127.0.0.1",
    services: [storage({ dir, index, log: (line) => log.push(line) }), commitment],
  });
  await scp.listen();
  return {
    scp,
    dir,
    index,
    commitment,
    log,
    reports,
    async close() {
      await scp.close({ timeoutMs: 1000 });
      await commitment.close();
      await index.close();
    },
  };
}

/** Stores the files on the SCP with C-STORE; returns their references. */
export async function storeAll(port: number, paths: string[]) {
  const files = [];
  for (const path of paths) files.push((await inspectFile(path))!);
  const association = await Association.connect({
    host: "127.0.0.1",
    port,
    presentationContexts: storageContexts(files),
  });
  try {
    for (const file of files) assert.equal(await storeFile(association, file), 0);
  } finally {
    await association.release();
  }
  return files.map((f) => ({ sopClassUid: f.sopClassUid, sopInstanceUid: f.sopInstanceUid }));
}
