/**
 * dimse: a DICOM networking toolkit for Deno — an SCP server and an SCU client speaking the
 * DICOM Upper Layer protocol (PS3.8) and DIMSE (PS3.7).
 *
 * ```ts
 * import { Association, Scp, verification } from "@dimse/dimse";
 *
 * const scp = new Scp({ aeTitle: "DIMSE", port: 0, services: [verification()] });
 * await scp.listen();
 * const assoc = await Association.connect({ host: "127.0.0.1", port: scp.port });
 * await assoc.echo();
 * await assoc.release();
 * await scp.close();
 * ```
 *
 * @module
 */
export * from "./src/ul/pdu.ts";
export * from "./src/ul/errors.ts";
export * from "./src/ul/codec.ts";
export * from "./src/ul/pdata.ts";
export * from "./src/ul/negotiation.ts";
export * from "./src/ul/uids.ts";
export * from "./src/log_line.ts";
export * from "./src/ul/transport.ts";
export * from "./src/ul/state_table.ts";
export type { PdvData, PdvHeader } from "./src/ul/association.ts";
export * from "./src/dimse/command.ts";
export * from "./src/dimse/command_codec.ts";
export * from "./src/dimse/status.ts";
export * from "./src/dimse/dispatcher.ts";
export * from "./src/dimse/message.ts";
export * from "./src/services/service.ts";
export * from "./src/services/verification.ts";
export * from "./src/services/storage.ts";
export * from "./src/services/storage_scu.ts";
export * from "./src/services/storage_layout.ts";
export * from "./src/services/normalized.ts";
export * from "./src/services/normalized_scu.ts";
export * from "./src/services/mpps.ts";
export * from "./src/services/mpps_scu.ts";
export * from "./src/services/storage_commitment.ts";
export * from "./src/services/storage_commitment_scu.ts";
export * from "./src/services/qr_find.ts";
export * from "./src/services/qr_move.ts";
export * from "./src/services/qr_get.ts";
export * from "./src/services/query_retrieve_scu.ts";
export * from "./src/services/worklist.ts";
export {
  PATIENT_ROOT_QR_GET,
  PATIENT_ROOT_QR_MOVE,
  RetrieveIdentifierError,
  retrieveModelOf,
  STUDY_ROOT_QR_GET,
  STUDY_ROOT_QR_MOVE,
} from "./src/services/qr_identifier.ts";
export * from "./src/store/instance_index.ts";
export * from "./src/store/sqlite_index.ts";
export * from "./src/store/reindex.ts";
export * from "./src/store/read_instance.ts";
export * from "./src/store/matching.ts";
export * from "./src/store/query_keys.ts";
export * from "./src/store/commitment_store.ts";
export * from "./src/scp.ts";
export * from "./src/client.ts";
export {
  createStatusApp,
  parsePeerAddress,
  PROMETHEUS_CONTENT_TYPE,
  renderMetrics,
  scpStatusSource,
  serveStatus,
} from "./src/status/mod.ts";
export type {
  AcceptedContextStatus,
  AssociationStatus as StatusAssociation,
  AssociationStatusJson,
  AssociationTotals,
  ListeningAddress,
  MessageTotal,
  ScpStatusSourceOptions,
  ServeStatusOptions,
  StatusApp,
  StatusJson,
  StatusServer,
  StatusSnapshot,
  StatusSource,
  StatusTotals,
} from "./src/status/mod.ts";
export type {
  DataElement,
  DataSet,
  ElementValue,
  KeywordDataSet,
  KeywordValue,
  PersonName,
} from "./src/dataset/dataset.ts";
export type { Vr } from "./src/dataset/vr.ts";
export type { Tag } from "./src/dataset/tag.ts";
/** Data sets: reader, writer, dictionary, DICOM JSON model, Part 10 files. */
export * as dataset from "./src/dataset/mod.ts";
