/**
 * The Verification service (PS3.4 Annex A): C-ECHO SCP.
 *
 * @module
 */
import { CommandField } from "../dimse/command.ts";
import { Status } from "../dimse/status.ts";
import { VERIFICATION_SOP_CLASS } from "../ul/uids.ts";
import {
  DEFAULT_TRANSFER_SYNTAXES,
  type Service,
  type ServiceRequest,
  type ServiceResponse,
} from "./service.ts";

/** Options of the Verification service. */
export interface VerificationOptions {
  /** Transfer syntaxes accepted, in preference order; default explicit then implicit VR LE. */
  transferSyntaxes?: readonly string[];
}

/** The Verification SOP Class as SCP: answers C-ECHO-RQ with Success (PS3.4 A.4, PS3.7 §9.1.5). */
export function verification(options: VerificationOptions = {}): Service {
  return {
    name: "verification",
    sopClasses: [{
      abstractSyntax: VERIFICATION_SOP_CLASS,
      transferSyntaxes: options.transferSyntaxes ?? DEFAULT_TRANSFER_SYNTAXES,
    }],
    handle(request: ServiceRequest): Promise<ServiceResponse> {
      if (request.command.commandField !== CommandField.C_ECHO_RQ) {
        return Promise.resolve({ status: Status.UNRECOGNIZED_OPERATION });
      }
      return Promise.resolve({
        status: Status.SUCCESS,
        command: { affectedSopClassUid: VERIFICATION_SOP_CLASS },
      });
    },
  };
}
