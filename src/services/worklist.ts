/**
 * The Modality Worklist service class as SCP (PS3.4 Annex K): C-FIND on the Modality Worklist
 * Information Model – FIND (PS3.4 K.6.1) answered from worklist items kept in a folder as
 * Part 10 files or DICOM JSON (`.json`) files, read afresh for every query. Matching is
 * {@linkcode matchesIdentifier} of the store (PS3.4 C.2.2.2, K.6.1.2): the Scheduled Procedure
 * Step Sequence key holds one item, matched as sequence matching, with date/time ranges on its
 * Scheduled Procedure Step Start Date and Time.
 *
 * @module
 */
import { CommandField } from "../dimse/command.ts";
import { Status } from "../dimse/status.ts";
import { type DataElement, type DataSet, fromJson } from "../dataset/dataset.ts";
import { readWholePart10 } from "../dataset/part10.ts";
import { readWholeDataSet } from "../dataset/reader.ts";
import { writeDataSet } from "../dataset/writer.ts";
import { matchesIdentifier } from "../store/matching.ts";
import { capped } from "./qr_find.ts";
import {
  DEFAULT_TRANSFER_SYNTAXES,
  type Service,
  type ServiceRequest,
  type ServiceResponse,
} from "./service.ts";
import { logLines } from "../log_line.ts";

/** Modality Worklist Information Model – FIND (PS3.4 K.6.1.1). */
export const MODALITY_WORKLIST_FIND = "1.2.840.10008.5.1.4.31";

/** Status A900: Identifier does not match SOP Class (PS3.4 K.4.1.1.4). */
export const WORKLIST_IDENTIFIER_DOES_NOT_MATCH = 0xa900;

/** Status C000: Unable to process (PS3.4 K.4.1.1.4, failure range Cxxx). */
export const WORKLIST_UNABLE_TO_PROCESS = 0xc000;

/** Options of {@linkcode modalityWorklist}. */
export interface ModalityWorklistOptions {
  /** Folder of worklist items: `*.json` (DICOM JSON) and Part 10 files; read per query. */
  dir: string;
  /**
   * Match Scheduled Procedure Step Start Date and Time (and the other DA/TM pairs) as one
   * date-time range (PS3.4 C.2.2.2.5.1); default true, as worklist queries for "from Monday
   * 14:00 to Tuesday 08:00" expect.
   */
  combinedDateTime?: boolean;
  /** Transfer syntaxes accepted; default explicit and implicit VR little endian. */
  transferSyntaxes?: readonly string[];
  /** Largest item file read, in bytes; larger ones are skipped. Default 1 MiB. */
  maxItemSize?: number;
  /**
   * Where problems with item files go, control characters escaped (see `printable`); default
   * console.error.
   */
  log?: (line: string) => void;
}

const SCHEDULED_PROCEDURE_STEP_SEQUENCE = "00400100";
const SPECIFIC_CHARACTER_SET = "00080005";
const MAX_IDENTIFIER_LENGTH = 1 << 20;

function failure(status: number, text: string, offendingElement?: number): ServiceResponse {
  const command: ServiceResponse["command"] = { errorComment: text.slice(0, 64) };
  if (offendingElement !== undefined) command.offendingElement = [offendingElement];
  return { status, command };
}

/**
 * The attributes of `item` the identifier asks for (PS3.4 C.2.2.1.2, K.6.1.2.2): every key,
 * with the item's value or empty; a sequence key with an item gives the item's matching
 * sequence items reduced to that item's keys, one without gives the whole sequence.
 */
export function worklistResponse(
  identifier: DataSet,
  item: DataSet,
  combinedDateTime: boolean,
): DataSet {
  const out: DataSet = {};
  if (item[SPECIFIC_CHARACTER_SET]) out[SPECIFIC_CHARACTER_SET] = item[SPECIFIC_CHARACTER_SET];
  for (const [tag, key] of Object.entries(identifier)) {
    if (tag.startsWith("0000") || tag.startsWith("0002") || tag === SPECIFIC_CHARACTER_SET) {
      continue;
    }
    const value = item[tag];
    if (key.vr === "SQ") {
      const keyItem = (key.Value ?? [])[0] as DataSet | null | undefined;
      const items = (value?.Value ?? []) as (DataSet | null)[];
      if (!keyItem || Object.keys(keyItem).length === 0) {
        out[tag] = { vr: "SQ", Value: items.map((i) => i ?? {}) };
        continue;
      }
      const matching = items.filter((i) =>
        matchesIdentifier(keyItem, i ?? {}, { combinedDateTime })
      );
      out[tag] = {
        vr: "SQ",
        Value: matching.map((i) => worklistResponse(keyItem, i ?? {}, combinedDateTime)),
      };
      continue;
    }
    out[tag] = value ? { ...value } : { vr: key.vr } as DataElement;
  }
  return out;
}

/** Reads one item file; undefined (and a log line) when it is not a worklist item. */
async function readItem(
  path: string,
  maxSize: number,
  log: (line: string) => void,
): Promise<DataSet | undefined> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile || info.size > maxSize) return undefined;
    if (path.toLowerCase().endsWith(".json")) {
      const parsed = JSON.parse(await Deno.readTextFile(path));
      // A file may hold one data set or, as a DICOMweb response does, an array of one.
      return fromJson(Array.isArray(parsed) ? parsed[0] : parsed);
    }
    const bytes = await Deno.readFile(path);
    const { dataSet } = await readWholePart10([bytes]);
    return dataSet;
  } catch (error) {
    log(`worklist: skipping ${path}: ${(error as Error).message}`);
    return undefined;
  }
}

/** The item files of the folder, sorted by name (none when the folder is missing). */
async function itemPaths(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && !entry.name.startsWith(".")) names.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return names.sort().map((name) => `${dir.replace(/\/+$/, "")}/${name}`);
}

/**
 * Checks an identifier against the Modality Worklist model (PS3.4 K.6.1.2): the Scheduled
 * Procedure Step Sequence, when present, is a sequence of at most one item. Returns a failure
 * response, or undefined when it is fine.
 */
function checkWorklistIdentifier(identifier: DataSet): ServiceResponse | undefined {
  const sps = identifier[SCHEDULED_PROCEDURE_STEP_SEQUENCE];
  if (sps === undefined) return undefined;
  if (sps.vr !== "SQ") {
    return failure(
      WORKLIST_IDENTIFIER_DOES_NOT_MATCH,
      "Scheduled Procedure Step Sequence is not a sequence",
      0x00400100,
    );
  }
  if ((sps.Value ?? []).length > 1) {
    return failure(
      WORKLIST_IDENTIFIER_DOES_NOT_MATCH,
      "Scheduled Procedure Step Sequence key has more than one item",
      0x00400100,
    );
  }
  return undefined;
}

/**
 * The Modality Worklist SCP (PS3.4 K.4.1.3): for a C-FIND on 1.2.840.10008.5.1.4.31 it reads
 * the item files of `options.dir`, answers each matching item with a pending response (FF00)
 * holding the keys asked for, then success; FE00 when a C-CANCEL-RQ arrives, A900 when the
 * identifier does not fit the model, A700 when it is too long, C000 when it cannot be read or
 * the folder cannot be listed.
 */
export function modalityWorklist(options: ModalityWorklistOptions): Service {
  const transferSyntaxes = options.transferSyntaxes ?? DEFAULT_TRANSFER_SYNTAXES;
  const combinedDateTime = options.combinedDateTime ?? true;
  const maxItemSize = options.maxItemSize ?? 1 << 20;
  const log = logLines(options.log);
  return {
    name: "worklist",
    sopClasses: [{ abstractSyntax: MODALITY_WORKLIST_FIND, transferSyntaxes }],
    async handle(request: ServiceRequest): Promise<ServiceResponse> {
      if (request.command.commandField !== CommandField.C_FIND_RQ) {
        await request.dataSet?.cancel();
        return { status: Status.UNRECOGNIZED_OPERATION };
      }
      if (!request.dataSet) {
        return failure(WORKLIST_UNABLE_TO_PROCESS, "C-FIND-RQ has no identifier");
      }
      let identifier: DataSet;
      try {
        ({ dataSet: identifier } = await readWholeDataSet(
          capped(request.dataSet, MAX_IDENTIFIER_LENGTH),
          { transferSyntax: request.transferSyntax },
        ));
      } catch (error) {
        if (error instanceof RangeError) {
          await request.dataSet.cancel().catch(() => {});
          return failure(Status.OUT_OF_RESOURCES, error.message);
        }
        return failure(
          WORKLIST_UNABLE_TO_PROCESS,
          `Identifier cannot be read: ${(error as Error).message}`,
        );
      }
      const refusal = checkWorklistIdentifier(identifier);
      if (refusal) return refusal;
      let paths: string[];
      try {
        paths = await itemPaths(options.dir);
      } catch (error) {
        return failure(
          WORKLIST_UNABLE_TO_PROCESS,
          `Worklist cannot be read: ${(error as Error).message}`,
        );
      }
      for (const path of paths) {
        // PS3.4 K.4.1.3.1: a C-CANCEL-RQ ends the matching; the final response is Cancel.
        if (request.signal.aborted) return { status: Status.CANCEL };
        const item = await readItem(path, maxItemSize, log);
        if (!item || !matchesIdentifier(identifier, item, { combinedDateTime })) continue;
        const match = worklistResponse(identifier, item, combinedDateTime);
        const bytes = await writeDataSet(match, { transferSyntax: request.transferSyntax });
        if (request.signal.aborted) return { status: Status.CANCEL };
        await request.sendPending({ status: Status.PENDING, dataSet: bytes });
      }
      if (request.signal.aborted) return { status: Status.CANCEL };
      return { status: Status.SUCCESS };
    },
  };
}
