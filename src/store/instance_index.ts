/**
 * The contract between the store and the services that read it: an index of the instances in
 * a store folder, kept by the Storage SCP as instances land and read by Query/Retrieve, Storage
 * Commitment and the status page. Any backend (node:sqlite here, another database for a store
 * shared by several SCPs) implements {@linkcode InstanceIndex}.
 *
 * @module
 */
import type { DataSet } from "../dataset/dataset.ts";

/** Query/Retrieve Level (0008,0052) values (PS3.4 C.6). */
export type QueryRetrieveLevel = "PATIENT" | "STUDY" | "SERIES" | "IMAGE";

/** Query/Retrieve information models (PS3.4 C.6.1, C.6.2). */
export type InformationModel = "patient" | "study";

/** One stored instance, as the index records it. */
export interface IndexedInstance {
  /** Path of the Part 10 file, relative to the store folder, with "/" separators. */
  path: string;
  /** SOP Class UID. */
  sopClassUid: string;
  /** SOP Instance UID. */
  sopInstanceUid: string;
  /** Transfer syntax the file is stored in. */
  transferSyntaxUid: string;
  /** Size of the file in bytes. */
  size: number;
  /**
   * The instance's top level attributes before Pixel Data, in the DICOM JSON model (the reader
   * stops before (7FE0,0010)); the index keeps the patient, study, series and instance keys.
   */
  dataSet: DataSet;
}

/** A query: the identifier of a C-FIND, C-MOVE or C-GET request, with its level and model. */
export interface IndexQuery {
  /** The information model the query is asked in. */
  model: InformationModel;
  /** Query/Retrieve Level. */
  level: QueryRetrieveLevel;
  /** The identifier: matching keys with values, return keys empty (PS3.4 C.2.2). */
  identifier: DataSet;
  /**
   * Combined date-time matching (PS3.4 C.2.2.2.5.1), when the SCU asked for it in extended
   * negotiation (PS3.4 C.5.1.1.4, byte 2); default false.
   */
  combinedDateTime?: boolean;
}

/** Options of {@linkcode InstanceIndex.add}. */
export interface IndexAddOptions {
  /**
   * Whether the row must survive a power loss once `add` resolves; default true. The Storage
   * SCP passes false when the start check could rebuild the row from the file (or nothing is
   * flushed at all), so that a backend may skip its own flush.
   */
  durable?: boolean;
}

/** An index of the instances in one store. */
export interface InstanceIndex {
  /**
   * Records an instance whose file is now in place (replacing any row with the same SOP
   * Instance UID). Called after the file is renamed into place and before the success response.
   */
  add(instance: IndexedInstance, options?: IndexAddOptions): Promise<void>;
  /**
   * Writes now what `add` queued without durability, if the backend queues; optional. The
   * Storage SCP calls it (after the response) once the rows it queued since its last call hold
   * more than 32 MiB of data set heads, so that what waits in memory stays bounded.
   */
  flush?(): Promise<void>;
  /** Forgets an instance (its file was removed or replaced under another path). */
  remove(sopInstanceUid: string): Promise<void>;
  /** The instance with this SOP Instance UID, if stored. */
  get(sopInstanceUid: string): Promise<IndexedInstance | undefined>;
  /**
   * C-FIND matching (PS3.4 C.2.2.2): one data set per matching entity at the query's level,
   * holding the requested keys (zero length when unknown). Yields lazily, so the caller can
   * stop (C-CANCEL) between matches.
   */
  find(query: IndexQuery): AsyncIterable<DataSet>;
  /** C-MOVE / C-GET: every instance below the entities that match the query. */
  instances(query: IndexQuery): AsyncIterable<IndexedInstance>;
  /** Number of patients, studies, series and instances stored. */
  counts(): Promise<{ patients: number; studies: number; series: number; instances: number }>;
  /** Closes the index. */
  close(): Promise<void>;
}
