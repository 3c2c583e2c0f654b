// A tiny generated archive for the C-MOVE / C-GET tests: Part 10 files written with our own
// writer into a temp store folder and indexed in the store's SQLite index; and a recording
// Storage SCP to act as the far end of the sub-operations.
import { fromKeywords } from "../../src/dataset/dataset.ts";
import { writePart10 } from "../../src/dataset/part10.ts";
import {
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from "../../src/dataset/transfer_syntax.ts";
import type { CommandSet } from "../../src/dimse/command.ts";
import { CommandField } from "../../src/dimse/command.ts";
import { Scp } from "../../src/scp.ts";
import { queryRetrieveGet } from "../../src/services/qr_get.ts";
import { type MoveDestination, queryRetrieveMove } from "../../src/services/qr_move.ts";
import { storage } from "../../src/services/storage.ts";
import { verification } from "../../src/services/verification.ts";
import type { Service, ServiceRequest, ServiceResponse } from "../../src/services/service.ts";
import { openSqliteIndex } from "../../src/store/sqlite_index.ts";
import type { InstanceIndex } from "../../src/store/instance_index.ts";
import { readInstance } from "../../src/store/read_instance.ts";
import { withTempDir } from "../_helpers/temp_dir.ts";

/** SOP classes used by the archive. */
export const CT = "1.2.840.10008.5.1.4.1.1.2";
/** MR Image Storage. */
export const MR = "1.2.840.10008.5.1.4.1.1.4";
/** Secondary Capture Image Storage. */
export const SC = "1.2.840.10008.5.1.4.1.1.7";

const ROOT = "1.2.826.0.1.3680043.10.1234";

/** One instance of the archive. */
export interface ArchiveInstance {
  patientId: string;
  study: string;
  series: string;
  sop: string;
  sopClass: string;
  transferSyntax: string;
}

/**
 * Two patients, three studies, four series, seven instances:
 * PID1 / study 1 (series 1.1: 2 CT, series 1.2: 1 MR), PID1 / study 2 (series 2.1: 1 CT in
 * implicit VR), PID2 / study 3 (series 3.1: 3 SC).
 */
export const ARCHIVE: readonly ArchiveInstance[] = [
  inst("PID1", 1, 1, 1, CT),
  inst("PID1", 1, 1, 2, CT),
  inst("PID1", 1, 2, 1, MR),
  inst("PID1", 2, 1, 1, CT, ImplicitVrLittleEndian),
  inst("PID2", 3, 1, 1, SC),
  inst("PID2", 3, 1, 2, SC),
  inst("PID2", 3, 1, 3, SC),
];

function inst(
  patientId: string,
  study: number,
  series: number,
  n: number,
  sopClass: string,
  transferSyntax = ExplicitVrLittleEndian,
): ArchiveInstance {
  return {
    patientId,
    study: `${ROOT}.${study}`,
    series: `${ROOT}.${study}.${series}`,
    sop: `${ROOT}.${study}.${series}.${n}`,
    sopClass,
    transferSyntax,
  };
}

/** The study UID of study `n` (1–3). */
export function studyUid(n: number): string {
  return `${ROOT}.${n}`;
}

/** The SOP Instance UIDs of the archive instances that satisfy `pick`. */
export function uidsWhere(pick: (i: ArchiveInstance) => boolean): string[] {
  return ARCHIVE.filter(pick).map((i) => i.sop);
}

/** A store folder holding the archive, with its index. */
export interface Archive {
  /** The store folder. */
  dir: string;
  /** Its index. */
  index: InstanceIndex;
  /** Closes the index and removes the folder. */
  close(): Promise<void>;
}

/** Writes the archive into a new temp folder and indexes it. */
export async function makeArchive(): Promise<Archive> {
  const dir = await Deno.makeTempDir({ prefix: "dimse-retrieve-" });
  const index = openSqliteIndex(dir);
  for (const i of ARCHIVE) {
    const dataSet = fromKeywords({
      SOPClassUID: i.sopClass,
      SOPInstanceUID: i.sop,
      StudyDate: "20240102",
      Modality: i.sopClass === CT ? "CT" : i.sopClass === MR ? "MR" : "OT",
      PatientName: i.patientId === "PID1" ? "Alpha^One" : "Beta^Two",
      PatientID: i.patientId,
      StudyInstanceUID: i.study,
      SeriesInstanceUID: i.series,
      StudyID: i.study.slice(-1),
      SeriesNumber: i.series.slice(-1),
      InstanceNumber: i.sop.slice(-1),
      Rows: 2,
      Columns: 2,
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 0,
      SamplesPerPixel: 1,
      PhotometricInterpretation: "MONOCHROME2",
      PixelData: new Uint8Array([1, 0, 2, 0, 3, 0, 4, 0]),
    });
    dataSet["7FE00010"].vr = "OW";
    const bytes = await writePart10(dataSet, { transferSyntaxUid: i.transferSyntax });
    const path = `${i.sop}.dcm`;
    await Deno.writeFile(`${dir}/${path}`, bytes);
    await index.add(await readInstance(dir, path));
  }
  return {
    dir,
    index,
    async close() {
      await index.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A C-STORE the recording SCP received. */
export interface ReceivedStore {
  /** The request command set. */
  command: CommandSet;
  /** Transfer syntax of the context it came on. */
  transferSyntax: string;
  /** The data set bytes. */
  dataSet: Uint8Array;
}

/** Options of the recording Storage service. */
export interface RecordingOptions {
  /** SOP classes accepted; default CT, MR, SC. */
  sopClasses?: string[];
  /** Transfer syntaxes accepted; default explicit then implicit VR little endian. */
  transferSyntaxes?: string[];
  /** Wait this long before answering each C-STORE. */
  delayMs?: number;
  /** The status to answer, per SOP Instance UID; default 0000. */
  statusFor?: (sopInstanceUid: string) => number;
}

/** A Storage service that keeps every C-STORE it receives in `received`. */
export function recordingStorage(
  received: ReceivedStore[],
  options: RecordingOptions = {},
): Service {
  const transferSyntaxes = options.transferSyntaxes ??
    [ExplicitVrLittleEndian, ImplicitVrLittleEndian];
  return {
    name: "recording-storage",
    sopClasses: (options.sopClasses ?? [CT, MR, SC]).map((abstractSyntax) => ({
      abstractSyntax,
      transferSyntaxes,
    })),
    async handle(request: ServiceRequest): Promise<ServiceResponse> {
      if (request.command.commandField !== CommandField.C_STORE_RQ) return { status: 0x0211 };
      const parts: Uint8Array[] = [];
      for await (const chunk of request.dataSet!) parts.push(chunk.slice());
      const dataSet = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        dataSet.set(p, at);
        at += p.length;
      }
      received.push({ command: request.command, transferSyntax: request.transferSyntax, dataSet });
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      const uid = request.command.affectedSopInstanceUid ?? "";
      return { status: options.statusFor?.(uid) ?? 0x0000 };
    },
  };
}

/** A listening SCP with the recording Storage service, as a move destination. */
export interface Destination {
  /** The SCP. */
  scp: Scp;
  /** The C-STOREs it received, in order. */
  received: ReceivedStore[];
  /** Closes the SCP. */
  close(): Promise<void>;
}

/** Starts a {@linkcode Destination} called `aeTitle`. */
export async function startDestination(
  aeTitle: string,
  options: RecordingOptions = {},
): Promise<Destination> {
  const received: ReceivedStore[] = [];
  const scp = new Scp({
    aeTitle,
    port: 0,
    hostname: "127.0.0.1",
    services: [recordingStorage(received, options)],
  });
  await scp.listen();
  return { scp, received, close: () => scp.close({ timeoutMs: 1000 }) };
}

/**
 * Runs `fn` with a listening SCP "QRSCP" over a new archive, with the services `services` makes
 * for it; `log` collects the log lines the services are given.
 */
async function withQrScp(
  services: (archive: Archive, log: string[]) => Service[],
  fn: (port: number, archive: Archive, log: string[]) => Promise<void>,
): Promise<void> {
  const archive = await makeArchive();
  const log: string[] = [];
  const scp = new Scp({
    aeTitle: "QRSCP",
    port: 0,
    hostname: "127.0.0.1",
    services: services(archive, log),
  });
  await scp.listen();
  try {
    await fn(scp.port, archive, log);
  } finally {
    await scp.close({ timeoutMs: 1000 });
    await archive.close();
  }
}

/**
 * Runs `fn` with a listening SCP "QRSCP" (Verification and the C-MOVE service over a new
 * archive) that knows `destinations`; `log` collects the move service's log lines.
 */
export function withMoveScp(
  destinations: Record<string, MoveDestination>,
  fn: (port: number, archive: Archive, log: string[]) => Promise<void>,
): Promise<void> {
  return withQrScp((archive, log) => [
    verification(),
    queryRetrieveMove({
      index: archive.index,
      dir: archive.dir,
      destinations,
      aeTitle: "QRSCP",
      log: (line) => log.push(line),
    }),
  ], fn);
}

/**
 * Runs `fn` with a listening SCP "QRSCP" (Verification, Storage into a temp folder and the
 * C-GET service over a new archive); `log` collects the get service's log lines.
 */
export function withGetScp(
  fn: (port: number, archive: Archive, log: string[]) => Promise<void>,
): Promise<void> {
  return withTempDir(
    (incoming) =>
      // Storage is listed first: its SCP role and the get service's SCU role must add up.
      withQrScp((archive, log) => [
        verification(),
        storage({ dir: incoming }),
        queryRetrieveGet({ index: archive.index, dir: archive.dir, log: (l) => log.push(l) }),
      ], fn),
    { prefix: "dimse-get-in-" },
  );
}

/**
 * Runs `fn` with a {@linkcode Destination} called `aeTitle` and a move SCP (see
 * {@linkcode withMoveScp}) that knows it; closes both after.
 */
export async function withMoveToDestination(
  aeTitle: string,
  fn: (port: number, destination: Destination) => Promise<void>,
  options: RecordingOptions = {},
): Promise<void> {
  const destination = await startDestination(aeTitle, options);
  try {
    await withMoveScp(
      { [aeTitle]: { host: "127.0.0.1", port: destination.scp.port } },
      (port) => fn(port, destination),
    );
  } finally {
    await destination.close();
  }
}
