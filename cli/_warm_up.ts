/**
 * The warm-up `scp` runs before it listens: the services it is about to serve, built over a
 * scratch folder and index, take instances from our own SCU over loopback, the way a modality's
 * would arrive.
 *
 * The runtime compiles code as it first runs and optimises what runs often. Without a warm-up,
 * the first association a peer makes pays for it: the first A-ASSOCIATE-AC with a hundred
 * presentation contexts took 6 to 70 ms and the first C-STORE 10 to 30 ms, and the next few
 * hundred instances ran slower than the rest. After it, the first peer is served as fast as the
 * thousandth.
 *
 * @module
 */
import { Association } from "../src/client.ts";
import { CommandField } from "../src/dimse/command.ts";
import type { DataSet } from "../src/dataset/dataset.ts";
import { writeDataSet } from "../src/dataset/writer.ts";
import { STORAGE_SOP_CLASSES } from "../src/dataset/storage_sop_classes.ts";
import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from "../src/dataset/transfer_syntax.ts";
import { Scp } from "../src/scp.ts";
import type { Service } from "../src/services/service.ts";
import { openSqliteIndex, type SqliteIndex } from "../src/store/sqlite_index.ts";

const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";
/** The transfer syntaxes the warm-up can write, proposed in this order. */
const TRANSFER_SYNTAXES = [
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
];
/** Presentation contexts proposed, as many as DCMTK's storescu proposes by default. */
const CONTEXTS = 128;
/** A UID root for the warm-up's instances (UUID-derived, PS3.5 B.2). */
const UID_ROOT = "2.25.";

/** What the warm-up did. */
export interface WarmUpResult {
  /** Instances stored. */
  instances: number;
  /** Its duration in ms. */
  ms: number;
}

/**
 * Serves `instances` C-STOREs (half of them 64 KiB in one piece, half 4 KiB) on one
 * association, with the services `makeServices` builds over a scratch folder and its index,
 * then closes them and removes the folder. A failure is thrown: the caller decides whether to
 * serve without the warm-up.
 */
export async function warmUp(
  makeServices: (dir: string, index: SqliteIndex) => Service[],
  options: { instances: number; aeTitle: string; maxPduLength: number },
): Promise<WarmUpResult> {
  const started = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "dimse-warm-up-" });
  let index: SqliteIndex | undefined;
  let scp: Scp | undefined;
  try {
    index = openSqliteIndex(dir);
    scp = new Scp({
      aeTitle: options.aeTitle,
      port: 0,
      hostname: "127.0.0.1",
      services: makeServices(dir, index),
      maxPduLength: options.maxPduLength,
    });
    await scp.listen();
    const assoc = await Association.connect({
      host: "127.0.0.1",
      port: scp.port,
      calledAeTitle: options.aeTitle,
      callingAeTitle: "WARM-UP",
      presentationContexts: STORAGE_SOP_CLASSES.slice(0, CONTEXTS).map((c) => ({
        abstractSyntax: c.uid,
        transferSyntaxes: TRANSFER_SYNTAXES,
      })),
    });
    try {
      // The SCP may be set to take some transfer syntaxes only (--transfer-syntax).
      const context = assoc.negotiated.accepted.find((c) => c.abstractSyntax === CT_IMAGE_STORAGE);
      if (context === undefined) {
        throw new Error("CT Image Storage was not accepted in any transfer syntax it can write");
      }
      const study = `${UID_ROOT}${uidNumber()}`;
      for (let i = 0; i < options.instances; i++) {
        const uid = `${UID_ROOT}${uidNumber()}`;
        const dataSet = await writeDataSet(ctImage(study, uid, i % 2 === 0 ? 65536 : 4096), {
          transferSyntax: context.transferSyntax,
        });
        const response = await assoc.request({
          commandField: CommandField.C_STORE_RQ,
          affectedSopClassUid: CT_IMAGE_STORAGE,
          affectedSopInstanceUid: uid,
          priority: 0,
          commandDataSetType: 0,
        }, { dataSet });
        if (response.command.status !== 0) {
          throw new Error(`Warm-up instance answered status ${response.command.status}`);
        }
      }
    } finally {
      await assoc.release();
    }
    return { instances: options.instances, ms: performance.now() - started };
  } finally {
    await scp?.close({ timeoutMs: 1000 });
    await index?.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A UUID as the decimal number a 2.25 UID takes (PS3.5 B.2). */
function uidNumber(): string {
  return BigInt(`0x${crypto.randomUUID().replaceAll("-", "")}`).toString();
}

/** A small CT image: the attributes a modality sends before Pixel Data, then `pixels` bytes. */
function ctImage(study: string, uid: string, pixels: number): DataSet {
  return {
    "00080016": { vr: "UI", Value: [CT_IMAGE_STORAGE] },
    "00080018": { vr: "UI", Value: [uid] },
    "00080020": { vr: "DA", Value: ["20260101"] },
    "00080060": { vr: "CS", Value: ["CT"] },
    "00100010": { vr: "PN", Value: [{ Alphabetic: "Warm^Up" }] },
    "00100020": { vr: "LO", Value: ["WARM-UP"] },
    "0020000D": { vr: "UI", Value: [study] },
    "0020000E": { vr: "UI", Value: [`${study}.1`] },
    "00200013": { vr: "IS", Value: [1] },
    "00280010": { vr: "US", Value: [pixels / 512] },
    "00280011": { vr: "US", Value: [256] },
    "00280100": { vr: "US", Value: [16] },
    "7FE00010": { vr: "OW", InlineBinary: btoa("\0".repeat(pixels)) },
  };
}
