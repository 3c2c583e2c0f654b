// DCMTK's dcmqrscp as the Q/R SCP of the interop tests: a generated archive of small Part 10
// files written into its storage area, registered with dcmqridx, and a dcmqrscp.cfg in a temp
// folder naming the AE, its storage area and the move destinations.
import { fromKeywords } from "../../src/dataset/dataset.ts";
import { writePart10 } from "../../src/dataset/part10.ts";
import { type DcmtkServer, freePort, runDcmtk, startDcmtkServer } from "./_dcmtk.ts";

/** CT Image Storage. */
export const CT = "1.2.840.10008.5.1.4.1.1.2";
/** MR Image Storage. */
export const MR = "1.2.840.10008.5.1.4.1.1.4";

const ROOT = "1.2.826.0.1.3680043.10.4321";

/** One instance of the generated archive. */
export interface QrInstance {
  /** Patient ID. */
  patientId: string;
  /** Patient's Name. */
  patientName: string;
  /** Study Instance UID. */
  study: string;
  /** Series Instance UID. */
  series: string;
  /** SOP Instance UID. */
  sop: string;
  /** SOP Class UID. */
  sopClass: string;
  /** Modality. */
  modality: string;
}

function instance(
  p: number,
  study: number,
  series: number,
  n: number,
  sopClass: string,
): QrInstance {
  return {
    patientId: `QRPID${p}`,
    patientName: `Patient^Number${p}`,
    study: `${ROOT}.${study}`,
    series: `${ROOT}.${study}.${series}`,
    sop: `${ROOT}.${study}.${series}.${n}`,
    sopClass,
    modality: sopClass === CT ? "CT" : "MR",
  };
}

/**
 * Two patients, three studies, four series, eight instances: QRPID1 / study 1 (series 1: 3 CT,
 * series 2: 2 MR), QRPID1 / study 2 (series 1: 1 CT), QRPID2 / study 3 (series 1: 2 MR).
 */
export const QR_ARCHIVE: readonly QrInstance[] = [
  instance(1, 1, 1, 1, CT),
  instance(1, 1, 1, 2, CT),
  instance(1, 1, 1, 3, CT),
  instance(1, 1, 2, 1, MR),
  instance(1, 1, 2, 2, MR),
  instance(1, 2, 1, 1, CT),
  instance(2, 3, 1, 1, MR),
  instance(2, 3, 1, 2, MR),
];

/** A Part 10 file of a generated instance: a tiny 2×2 image. */
export function encodeInstance(i: QrInstance): Promise<Uint8Array> {
  const studyNumber = i.study.split(".").pop()!;
  return writePart10(fromKeywords({
    SOPClassUID: i.sopClass,
    SOPInstanceUID: i.sop,
    StudyDate: `2024010${studyNumber}`,
    StudyTime: "101500",
    AccessionNumber: `ACC${studyNumber}`,
    Modality: i.modality,
    ReferringPhysicianName: "",
    PatientName: i.patientName,
    PatientID: i.patientId,
    PatientBirthDate: "19700101",
    PatientSex: "O",
    StudyInstanceUID: i.study,
    SeriesInstanceUID: i.series,
    StudyID: studyNumber,
    SeriesNumber: i.series.split(".").pop()!,
    InstanceNumber: i.sop.split(".").pop()!,
    SamplesPerPixel: 1,
    PhotometricInterpretation: "MONOCHROME2",
    Rows: 2,
    Columns: 2,
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 0,
    PixelData: new Uint8Array(8),
  }));
}

/** A move destination of dcmqrscp's HostTable. */
export interface QrDestination {
  /** AE title. */
  aeTitle: string;
  /** Port on 127.0.0.1. */
  port: number;
}

/** A running dcmqrscp over the generated archive. */
export interface Dcmqrscp extends DcmtkServer {
  /** Its AE title. */
  aeTitle: string;
  /** The temp folder holding the config and the storage area. */
  root: string;
}

/**
 * Writes the archive into a storage area, registers it with dcmqridx, and starts dcmqrscp
 * with AE title QRSCP accepting any peer, moves going to `destinations`.
 */
export async function startDcmqrscp(destinations: QrDestination[] = []): Promise<Dcmqrscp> {
  const root = await Deno.makeTempDir({ prefix: "dimse-dcmqrscp-" });
  const area = `${root}/QRSCP`;
  await Deno.mkdir(area);
  const files: string[] = [];
  for (const i of QR_ARCHIVE) {
    const path = `${area}/${i.sop}.dcm`;
    await Deno.writeFile(path, await encodeInstance(i));
    files.push(path);
  }
  const index = await runDcmtk("dcmqridx", [area, ...files]);
  if (index.code !== 0) throw new Error(`dcmqridx failed: ${index.stderr || index.stdout}`);
  const hosts = destinations.map((d) =>
    `${d.aeTitle.toLowerCase()} = (${d.aeTitle}, 127.0.0.1, ${d.port})`
  );
  const config = [
    `NetworkTCPPort = ${freePort()}`,
    "MaxPDUSize = 16384",
    "MaxAssociations = 16",
    "",
    "HostTable BEGIN",
    ...hosts,
    "HostTable END",
    "",
    "VendorTable BEGIN",
    "VendorTable END",
    "",
    "AETable BEGIN",
    `QRSCP ${area} RW (100, 64mb) ANY`,
    "AETable END",
    "",
  ].join("\n");
  await Deno.writeTextFile(`${root}/dcmqrscp.cfg`, config);
  // --disable-host-lookup: no reverse DNS on 127.0.0.1; the port is appended by the starter.
  const server = await startDcmtkServer("dcmqrscp", [
    "-c",
    `${root}/dcmqrscp.cfg`,
    "--disable-host-lookup",
    ...(Deno.env.get("DCMQRSCP_DEBUG") ? ["-d"] : []),
  ]);
  return {
    ...server,
    aeTitle: "QRSCP",
    root,
    async stop() {
      await server.stop();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Runs `body` with a dcmqrscp over the archive that knows `destinations`; stops it after, and
 * prints its output when `body` fails.
 */
export async function withDcmqrscp(
  destinations: QrDestination[],
  body: (server: Dcmqrscp) => Promise<void>,
): Promise<void> {
  const server = await startDcmqrscp(destinations);
  try {
    await body(server);
  } catch (error) {
    console.error(`dcmqrscp output:\n${server.output()}`);
    throw error;
  } finally {
    await server.stop();
  }
}
