/**
 * The C-MOVE SCP of Query/Retrieve, Patient Root and Study Root (PS3.4 C.4.2): the identifier
 * selects instances in the store index, and each one is sent with a C-STORE sub-operation on
 * a new association to the Move Destination, looked up by AE title in a configured table.
 *
 * Statuses: A801 for a Move Destination not in the table; A702 when a known destination cannot
 * be reached or refuses the association (or every sub-operation fails); A900/C000 for a bad
 * identifier (see qr_identifier.ts); A701 when the index cannot list the instances; otherwise
 * 0000, or B000 when some sub-operations failed or warned, with the Failed SOP Instance UID
 * List (0008,0058) in the final identifier; FE00 after a C-CANCEL.
 *
 * @module
 */
import { Association, type ProposedPresentationContext } from "../client.ts";
import { CommandField } from "../dimse/command.ts";
import { Status } from "../dimse/status.ts";
import type { Timeouts } from "../scp.ts";
import type { InstanceIndex } from "../store/instance_index.ts";
import type { TlsOptions } from "../ul/transport.ts";
import {
  contextForInstance,
  errorMessageOf,
  finalRetrieveResponse,
  PATIENT_ROOT_QR_MOVE,
  performSubOperations,
  proposableTransferSyntaxes,
  type RetrieveInstance,
  retrieveModelOf,
  retrieveSummary,
  selectRetrieveInstances,
  storeSubOperation,
  STUDY_ROOT_QR_MOVE,
  SubOperationCounts,
} from "./qr_identifier.ts";
import {
  DEFAULT_TRANSFER_SYNTAXES,
  type Service,
  type ServiceRequest,
  type ServiceResponse,
} from "./service.ts";
import { logLines } from "../log_line.ts";

/** Where a Move Destination AE listens. */
export interface MoveDestination {
  /** Host name or address. */
  host: string;
  /** TCP port. */
  port: number;
  /** TLS options, for a destination that expects TLS. */
  tls?: TlsOptions;
}

/** Options of {@linkcode queryRetrieveMove}. */
export interface QueryRetrieveMoveOptions {
  /** The store's index. */
  index: InstanceIndex;
  /** The store folder the index's paths are relative to. */
  dir: string;
  /** Known Move Destinations by AE title (compared without padding spaces). */
  destinations: Readonly<Record<string, MoveDestination>>;
  /** Our AE title: the calling AE title of the associations to the destinations. */
  aeTitle: string;
  /** Maximum PDU length we receive on those associations; default the client's. */
  maxPduLength?: number;
  /** Timeouts of those associations. */
  timeouts?: Timeouts;
  /** Where log lines go, control characters escaped (see `printable`); default stderr. */
  log?: (line: string) => void;
}

/** Presentation contexts an association can carry (PS3.8 §9.3.2.2: odd ids 1–255). */
const MAX_CONTEXTS = 128;

/** Instances grouped so that each group's contexts fit in one association. */
interface Batch {
  contexts: ProposedPresentationContext[];
  instances: RetrieveInstance[];
}

/** One context per SOP class and transfer syntax of the files, at most 128 per association. */
function batchesOf(instances: readonly RetrieveInstance[]): Batch[] {
  const batches: Batch[] = [];
  const where = new Map<string, Batch>();
  for (const instance of instances) {
    const key = `${instance.sopClassUid}|${instance.transferSyntaxUid}`;
    let batch = where.get(key);
    if (!batch) {
      batch = batches[batches.length - 1];
      if (!batch || batch.contexts.length >= MAX_CONTEXTS) {
        batch = { contexts: [], instances: [] };
        batches.push(batch);
      }
      batch.contexts.push({
        abstractSyntax: instance.sopClassUid,
        transferSyntaxes: proposableTransferSyntaxes(instance.transferSyntaxUid),
      });
      where.set(key, batch);
    }
    batch.instances.push(instance);
  }
  return batches;
}

function findDestination(
  destinations: Readonly<Record<string, MoveDestination>>,
  aeTitle: string,
): MoveDestination | undefined {
  for (const [name, destination] of Object.entries(destinations)) {
    if (name.trim() === aeTitle) return destination;
  }
  return undefined;
}

async function endAssociation(association: Association | undefined): Promise<void> {
  if (!association) return;
  try {
    await association.release();
  } catch {
    await association.abort().catch(() => {});
  }
}

/**
 * The Query/Retrieve C-MOVE SCP for the Patient Root and Study Root information models
 * (PS3.4 C.4.2), over the instances of an index.
 */
export function queryRetrieveMove(options: QueryRetrieveMoveOptions): Service {
  const log = logLines(options.log);
  const transferSyntaxes = DEFAULT_TRANSFER_SYNTAXES;
  return {
    name: "qr-move",
    sopClasses: [PATIENT_ROOT_QR_MOVE, STUDY_ROOT_QR_MOVE].map(
      (abstractSyntax) => ({ abstractSyntax, transferSyntaxes }),
    ),
    handle(request: ServiceRequest): Promise<ServiceResponse> {
      return move(request, options, log);
    },
  };
}

async function move(
  request: ServiceRequest,
  options: QueryRetrieveMoveOptions,
  log: (line: string) => void,
): Promise<ServiceResponse> {
  const { command } = request;
  if (command.commandField !== CommandField.C_MOVE_RQ) {
    return { status: Status.UNRECOGNIZED_OPERATION };
  }
  const model = retrieveModelOf(request.abstractSyntax);
  if (!model) return { status: Status.SOP_CLASS_NOT_SUPPORTED };
  const originator = request.association.callingAeTitle.trim();
  const destinationAe = (command.moveDestination ?? "").trim();
  const destination = findDestination(options.destinations, destinationAe);
  if (!destination) {
    log(`qr-move: ${originator} asked for unknown move destination "${destinationAe}"`);
    // PS3.4 C.4.2.1.5: A801 carries the counts, all zero here.
    return {
      status: Status.MOVE_DESTINATION_UNKNOWN,
      command: {
        ...new SubOperationCounts(0).fields(false),
        errorComment: `Move destination "${destinationAe}" unknown`.slice(0, 64),
      },
    };
  }
  const selected = await selectRetrieveInstances(request, {
    model,
    index: options.index,
    verb: "move",
    log: (line) => log(`qr-move: ${line}`),
  });
  if ("refusal" in selected) return selected.refusal;
  const { instances } = selected;
  const counts = new SubOperationCounts(instances.length);
  if (instances.length === 0) return { status: Status.SUCCESS, command: counts.fields(false) };

  const where = `${destinationAe} at ${destination.host}:${destination.port}`;
  log(`qr-move: ${originator} -> ${where}: ${instances.length} instance(s)`);
  const batches = batchesOf(instances);
  const connect = (batch: Batch) =>
    Association.connect({
      host: destination.host,
      port: destination.port,
      tls: destination.tls,
      callingAeTitle: options.aeTitle,
      calledAeTitle: destinationAe,
      presentationContexts: batch.contexts,
      maxPduLength: options.maxPduLength,
      timeouts: options.timeouts,
    });
  let current: { batch: Batch; association?: Association; error?: unknown };
  try {
    current = { batch: batches[0], association: await connect(batches[0]) };
  } catch (error) {
    // PS3.4 C.4.2.1.5: a known destination that cannot be reached is A702, not A801.
    log(`qr-move: move destination ${where} unreachable: ${errorMessageOf(error)}`);
    for (const i of instances) counts.record(i.sopInstanceUid, Status.PROCESSING_FAILURE);
    return await finalRetrieveResponse(
      Status.OUT_OF_RESOURCES_UNABLE_TO_PERFORM_SUB_OPERATIONS,
      counts,
      { transferSyntax: request.transferSyntax, errorComment: `Move destination unreachable` },
    );
  }
  const batchOf = new Map<RetrieveInstance, Batch>();
  for (const batch of batches) for (const i of batch.instances) batchOf.set(i, batch);

  const store = async (instance: RetrieveInstance): Promise<number> => {
    const batch = batchOf.get(instance)!;
    if (batch !== current.batch) {
      await endAssociation(current.association);
      current = { batch };
      try {
        current.association = await connect(batch);
      } catch (error) {
        current.error = error;
        log(`qr-move: move destination ${where} unreachable: ${errorMessageOf(error)}`);
      }
    }
    const association = current.association;
    if (!association) throw new Error(`Move destination unreachable`);
    const context = contextForInstance(association.negotiated.accepted, instance);
    if (!context) {
      throw new Error(
        `${destinationAe} accepted no context for ${instance.sopClassUid} in ${instance.transferSyntaxUid}`,
      );
    }
    // PS3.4 C.4.2.2: each sub-operation names the C-MOVE it belongs to.
    return await storeSubOperation(instance, context, {
      dir: options.dir,
      priority: command.priority,
      moveOriginator: { aeTitle: originator, messageId: command.messageId },
      send: (rq, opts) => association.request(rq, opts),
    });
  };
  const ordered = batches.flatMap((b) => b.instances);
  try {
    const response = await performSubOperations(
      request,
      ordered,
      store,
      (line) => log(`qr-move: ${line}`),
      counts,
    );
    log(`qr-move: ${originator} -> ${destinationAe}: ${retrieveSummary(response.status, counts)}`);
    return response;
  } finally {
    await endAssociation(current.association);
  }
}
