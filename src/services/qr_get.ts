/**
 * The C-GET SCP of Query/Retrieve, Patient Root and Study Root (PS3.4 C.4.3): the identifier
 * selects instances in the store index, and each one is sent back with a C-STORE sub-operation
 * on the same association, on a presentation context of its SOP class for which the requestor
 * asked to be SCP and we agreed (SCP/SCU Role Selection, PS3.7 D.3.3.4; PS3.4 C.4.3.1).
 *
 * The service therefore declares the Storage SOP classes too, with `scuRole: true` (we can be
 * their SCU) and `scpRole: false` (it does not store what it receives), so that role selection
 * is granted for them. An instance with no such context counts as a failed sub-operation.
 * Statuses as for C-MOVE (qr_move.ts), without the destination ones.
 *
 * @module
 */
import { CommandField } from "../dimse/command.ts";
import { Status } from "../dimse/status.ts";
import { STORAGE_SOP_CLASSES } from "../dataset/storage_sop_classes.ts";
import { TRANSFER_SYNTAXES } from "../dataset/transfer_syntax.ts";
import type { InstanceIndex } from "../store/instance_index.ts";
import {
  contextForInstance,
  PATIENT_ROOT_QR_GET,
  performSubOperations,
  type RetrieveInstance,
  retrieveModelOf,
  retrieveSummary,
  selectRetrieveInstances,
  storeSubOperation,
  STUDY_ROOT_QR_GET,
  SubOperationCounts,
} from "./qr_identifier.ts";
import {
  DEFAULT_TRANSFER_SYNTAXES,
  type Service,
  type ServiceRequest,
  type ServiceResponse,
  type SopClassSupport,
} from "./service.ts";
import { logLines } from "../log_line.ts";

/** Options of {@linkcode queryRetrieveGet}. */
export interface QueryRetrieveGetOptions {
  /** The store's index. */
  index: InstanceIndex;
  /** The store folder the index's paths are relative to. */
  dir: string;
  /** Storage SOP classes offered for the sub-operations; default every Storage SOP class. */
  storageSopClasses?: readonly string[];
  /**
   * Transfer syntaxes offered for the sub-operations, in preference order; default every
   * standard one that is not retired, uncompressed first.
   */
  storageTransferSyntaxes?: readonly string[];
  /** Where log lines go, control characters escaped (see `printable`); default stderr. */
  log?: (line: string) => void;
}

/** Every standard transfer syntax that is not retired, uncompressed ones first. */
function defaultStorageTransferSyntaxes(): string[] {
  const active = TRANSFER_SYNTAXES.filter((ts) => !ts.retired);
  return [
    ...active.filter((ts) => !ts.encapsulated && !ts.deflated).map((ts) => ts.uid),
    ...active.filter((ts) => ts.encapsulated || ts.deflated).map((ts) => ts.uid),
  ];
}

/**
 * The Query/Retrieve C-GET SCP for the Patient Root and Study Root information models
 * (PS3.4 C.4.3), over the instances of an index.
 */
export function queryRetrieveGet(options: QueryRetrieveGetOptions): Service {
  const log = logLines(options.log);
  const storageTransferSyntaxes = options.storageTransferSyntaxes ??
    defaultStorageTransferSyntaxes();
  const storageSopClasses = options.storageSopClasses ?? STORAGE_SOP_CLASSES.map((c) => c.uid);
  const sopClasses: SopClassSupport[] = [
    ...[PATIENT_ROOT_QR_GET, STUDY_ROOT_QR_GET].map(
      (abstractSyntax) => ({ abstractSyntax, transferSyntaxes: DEFAULT_TRANSFER_SYNTAXES }),
    ),
    // PS3.4 C.4.3.1: the C-STORE sub-operations need us as SCU of the Storage SOP classes.
    ...storageSopClasses.map((abstractSyntax) => ({
      abstractSyntax,
      transferSyntaxes: storageTransferSyntaxes,
      scpRole: false,
      scuRole: true,
    })),
  ];
  return {
    name: "qr-get",
    sopClasses,
    handle(request: ServiceRequest): Promise<ServiceResponse> {
      return get(request, options, log);
    },
  };
}

async function get(
  request: ServiceRequest,
  options: QueryRetrieveGetOptions,
  log: (line: string) => void,
): Promise<ServiceResponse> {
  const { command } = request;
  if (command.commandField === CommandField.C_STORE_RQ) {
    // A Storage context reached this service: it sends instances, it does not store them.
    return { status: Status.SOP_CLASS_NOT_SUPPORTED };
  }
  if (command.commandField !== CommandField.C_GET_RQ) {
    return { status: Status.UNRECOGNIZED_OPERATION };
  }
  const model = retrieveModelOf(request.abstractSyntax);
  if (!model) return { status: Status.SOP_CLASS_NOT_SUPPORTED };
  const requestor = request.association.callingAeTitle.trim();
  const selected = await selectRetrieveInstances(request, {
    model,
    index: options.index,
    verb: "send",
    log: (line) => log(`qr-get: ${line}`),
  });
  if ("refusal" in selected) return selected.refusal;
  const { instances } = selected;
  const counts = new SubOperationCounts(instances.length);
  if (instances.length === 0) return { status: Status.SUCCESS, command: counts.fields(false) };
  log(`qr-get: ${requestor}: ${instances.length} instance(s)`);

  // PS3.7 D.3.3.4: only contexts on which the requestor was granted the SCP role.
  const usable = request.association.negotiated.accepted.filter((c) => c.requestorIsScp);
  const store = async (instance: RetrieveInstance): Promise<number> => {
    const context = contextForInstance(usable, instance);
    if (!context) {
      throw new Error(
        `no context with the SCP role for ${instance.sopClassUid} in ${instance.transferSyntaxUid}`,
      );
    }
    return await storeSubOperation(instance, context, {
      dir: options.dir,
      priority: command.priority,
      send: (rq, opts) => request.association.invoke(instance.sopClassUid, rq, opts),
    });
  };
  const response = await performSubOperations(
    request,
    instances,
    store,
    (line) => log(`qr-get: ${line}`),
    counts,
  );
  log(`qr-get: ${requestor}: ${retrieveSummary(response.status, counts)}`);
  return response;
}
