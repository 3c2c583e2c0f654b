/**
 * Query/Retrieve C-FIND as SCP (PS3.4 C.4.1) for the Patient Root and Study Root information
 * models, over a store index: the identifier is read in the context's transfer syntax, checked
 * against the model (PS3.4 C.4.1.2, hierarchical unless relational queries were negotiated),
 * matched by the index (PS3.4 C.2.2.2), and each match is sent as a pending response in the
 * same transfer syntax. A C-CANCEL-RQ stops the matching between two responses.
 *
 * @module
 */
import { CommandField } from "../dimse/command.ts";
import { Status } from "../dimse/status.ts";
import type { DataSet } from "../dataset/dataset.ts";
import { readWholeDataSet } from "../dataset/reader.ts";
import { writeDataSet } from "../dataset/writer.ts";
import { DeflatedExplicitVrLittleEndian, ExplicitVrBigEndian } from "../dataset/transfer_syntax.ts";
import type { InformationModel, InstanceIndex } from "../store/instance_index.ts";
import type { SopClassExtendedNegotiation } from "../ul/pdu.ts";
import {
  checkIdentifier,
  type IdentifierCheck,
  IdentifierError,
  RETRIEVE_AE_TITLE_TAG,
} from "../store/query_keys.ts";
import {
  DEFAULT_TRANSFER_SYNTAXES,
  type Service,
  type ServiceRequest,
  type ServiceResponse,
} from "./service.ts";

/** Patient Root Query/Retrieve Information Model – FIND (PS3.4 C.6.1). */
export const PATIENT_ROOT_QR_FIND = "1.2.840.10008.5.1.4.1.2.1.1";
/** Study Root Query/Retrieve Information Model – FIND (PS3.4 C.6.2). */
export const STUDY_ROOT_QR_FIND = "1.2.840.10008.5.1.4.1.2.2.1";

/** Instance Availability (0008,0056). */
const INSTANCE_AVAILABILITY_TAG = "00080056";

/** Status C001: unable to process (PS3.4 C.4.1.1.4, failure range Cxxx). */
export const UNABLE_TO_PROCESS = 0xc001;

/** Options of the C-FIND SCP. */
export interface QueryRetrieveFindOptions {
  /** The index queried. */
  index: InstanceIndex;
  /** Information models offered; default both. */
  models?: readonly InformationModel[];
  /**
   * Transfer syntaxes accepted, in preference order; default explicit VR LE, implicit VR LE,
   * deflated explicit VR LE, explicit VR BE.
   */
  transferSyntaxes?: readonly string[];
  /**
   * Retrieve AE Title (0008,0054) given in matches that ask for it, with Instance Availability
   * (0008,0056) ONLINE; default both left empty.
   */
  retrieveAeTitle?: string;
  /** Largest identifier read, in bytes (encoded); longer ones are refused A700. Default 1 MiB. */
  maxIdentifierLength?: number;
}

/** Default of {@linkcode QueryRetrieveFindOptions.maxIdentifierLength}. */
const MAX_IDENTIFIER_LENGTH = 1 << 20;

/** An identifier longer than the service takes (answered A700, out of resources). */
export class IdentifierTooLongError extends RangeError {
  /** Creates the error for the limit, in bytes. */
  constructor(limit: number) {
    super(`Identifier longer than ${limit} bytes`);
    this.name = "IdentifierTooLongError";
  }
}

/**
 * The chunks of a C-FIND identifier, failing with {@linkcode IdentifierTooLongError} once more
 * than `limit` bytes have come.
 */
export async function* capped(
  source: AsyncIterable<Uint8Array>,
  limit: number,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > limit) throw new IdentifierTooLongError(limit);
    yield chunk;
  }
}

/** The transfer syntaxes a C-FIND SCP takes by default, in preference order. */
export const FIND_TRANSFER_SYNTAXES: readonly string[] = [
  ...DEFAULT_TRANSFER_SYNTAXES,
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
];

const MODEL_SOP_CLASSES: Record<InformationModel, string> = {
  patient: PATIENT_ROOT_QR_FIND,
  study: STUDY_ROOT_QR_FIND,
};

/** What the SCU asked for in SOP Class Extended Negotiation (PS3.4 C.5.1.1.4). */
function extendedNegotiation(request: ServiceRequest): {
  relational: boolean;
  combinedDateTime: boolean;
} {
  const item = request.association.negotiated.sopClassExtendedNegotiations.find((x) =>
    x.sopClassUid === request.abstractSyntax
  );
  const info = item?.serviceClassApplicationInformation ?? new Uint8Array(0);
  return { relational: info[0] === 1, combinedDateTime: info[1] === 1 };
}

/**
 * Answers the Query/Retrieve SOP Class Extended Negotiation of the C-FIND SOP classes (PS3.4
 * C.5.1.1.4): relational queries (byte 1) and combined date-time matching (byte 2) are
 * accepted when proposed; fuzzy semantic matching of names, timezone adjustment and enhanced
 * multi-frame conversion (bytes 3–5) are answered 0. Items for other SOP classes are left out.
 * Usable as (part of) the `extendedNegotiation` hook of an SCP (src/scp.ts).
 */
export function answerFindExtendedNegotiation(
  items: readonly SopClassExtendedNegotiation[],
): SopClassExtendedNegotiation[] {
  const answers: SopClassExtendedNegotiation[] = [];
  for (const item of items) {
    if (item.sopClassUid !== PATIENT_ROOT_QR_FIND && item.sopClassUid !== STUDY_ROOT_QR_FIND) {
      continue;
    }
    const asked = item.serviceClassApplicationInformation;
    const answer = new Uint8Array(Math.max(1, Math.min(asked.length, 5)));
    answer[0] = asked[0] === 1 ? 1 : 0;
    if (answer.length > 1) answer[1] = asked[1] === 1 ? 1 : 0;
    answers.push({ sopClassUid: item.sopClassUid, serviceClassApplicationInformation: answer });
  }
  return answers;
}

/** Whether an error says the machine ran out of memory or disk (answered A700). */
function isOutOfResources(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /out of memory|SQLITE_(FULL|NOMEM)|disk is full|ENOSPC|RangeError/i.test(message) ||
    error instanceof RangeError;
}

/** An Error Comment (LO, at most 64 characters, PS3.7 C.4). */
function comment(text: string): string {
  return text.length <= 64 ? text : `${text.slice(0, 61)}...`;
}

function failure(status: number, text: string, offendingElement?: number): ServiceResponse {
  const command: ServiceResponse["command"] = { errorComment: comment(text) };
  if (offendingElement !== undefined) command.offendingElement = [offendingElement];
  return { status, command };
}

/**
 * The C-FIND SCP of the Patient Root and Study Root Query/Retrieve information models.
 * Responses: FF00 per match (FF01 when the identifier holds keys below its level, which are
 * returned zero length), then 0000; FE00 after a C-CANCEL-RQ; A900 when the identifier does not
 * fit the model (no or unknown Query/Retrieve Level, unique keys above the level missing in a
 * hierarchical query); A700 when out of resources (or the identifier is longer than
 * `maxIdentifierLength`); C000 when the identifier cannot be read;
 * C001 when the query fails otherwise. Failures carry an Error Comment.
 */
export function queryRetrieveFind(options: QueryRetrieveFindOptions): Service {
  const models = options.models ?? ["patient", "study"];
  const transferSyntaxes = options.transferSyntaxes ?? FIND_TRANSFER_SYNTAXES;
  const modelOf = new Map<string, InformationModel>(
    models.map((m) => [MODEL_SOP_CLASSES[m], m]),
  );
  return {
    name: "qr-find",
    sopClasses: models.map((m) => ({ abstractSyntax: MODEL_SOP_CLASSES[m], transferSyntaxes })),
    async handle(request: ServiceRequest): Promise<ServiceResponse> {
      if (request.command.commandField !== CommandField.C_FIND_RQ) {
        await request.dataSet?.cancel();
        return { status: Status.UNRECOGNIZED_OPERATION };
      }
      const model = modelOf.get(request.abstractSyntax);
      if (model === undefined) {
        await request.dataSet?.cancel();
        return { status: Status.SOP_CLASS_NOT_SUPPORTED };
      }
      if (!request.dataSet) {
        return failure(Status.CANNOT_UNDERSTAND, "C-FIND-RQ has no identifier");
      }
      let identifier: DataSet;
      try {
        ({ dataSet: identifier } = await readWholeDataSet(
          capped(request.dataSet, options.maxIdentifierLength ?? MAX_IDENTIFIER_LENGTH),
          { transferSyntax: request.transferSyntax },
        ));
      } catch (error) {
        if (error instanceof IdentifierTooLongError) {
          await request.dataSet.cancel().catch(() => {});
          return failure(Status.OUT_OF_RESOURCES, error.message);
        }
        return failure(
          Status.CANNOT_UNDERSTAND,
          `Identifier cannot be read: ${(error as Error).message}`,
        );
      }
      const negotiated = extendedNegotiation(request);
      let check: IdentifierCheck;
      try {
        check = checkIdentifier(identifier, model, { relational: negotiated.relational });
      } catch (error) {
        if (error instanceof IdentifierError) {
          return failure(error.status, error.message, error.offendingElement);
        }
        throw error;
      }
      const pendingStatus = check.unsupported.length > 0 ? Status.PENDING_WARNING : Status.PENDING;
      const wantsRetrieveAe = RETRIEVE_AE_TITLE_TAG in identifier;
      const wantsAvailability = INSTANCE_AVAILABILITY_TAG in identifier;
      const matches = options.index.find({
        model,
        level: check.level,
        identifier,
        combinedDateTime: negotiated.combinedDateTime,
      })[Symbol.asyncIterator]();
      try {
        while (true) {
          // PS3.4 C.4.1.3.1: a C-CANCEL-RQ ends the matching; the final response is Cancel.
          if (request.signal.aborted) return { status: Status.CANCEL };
          const next = await matches.next();
          if (next.done) break;
          if (request.signal.aborted) return { status: Status.CANCEL };
          const match = next.value;
          if (wantsRetrieveAe && options.retrieveAeTitle) {
            match[RETRIEVE_AE_TITLE_TAG] = { vr: "AE", Value: [options.retrieveAeTitle] };
          }
          if (wantsAvailability && options.retrieveAeTitle) {
            // PS3.3 C.4.23.1.1: the store keeps every instance it indexes on line.
            match[INSTANCE_AVAILABILITY_TAG] = { vr: "CS", Value: ["ONLINE"] };
          }
          const bytes = await writeDataSet(match, { transferSyntax: request.transferSyntax });
          await request.sendPending({ status: pendingStatus, dataSet: bytes });
        }
      } catch (error) {
        if (request.signal.aborted) return { status: Status.CANCEL };
        if (error instanceof IdentifierError) {
          return failure(error.status, error.message, error.offendingElement);
        }
        if (isOutOfResources(error)) {
          return failure(Status.OUT_OF_RESOURCES, `Out of resources: ${(error as Error).message}`);
        }
        return failure(UNABLE_TO_PROCESS, `Unable to process: ${(error as Error).message}`);
      } finally {
        await matches.return?.();
      }
      return { status: Status.SUCCESS };
    },
  };
}
