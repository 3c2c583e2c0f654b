/**
 * Requesting and ending a command's association: the peer, AE titles and timeout parsed by
 * `_args.ts`, one clear line when the association cannot be had. Only the commands that talk
 * to a peer load this (and with it the client).
 *
 * @module
 */
import {
  Association,
  type ConnectOptions,
  type ProposedPresentationContext,
} from "../src/client.ts";
import { TransferSyntax } from "../src/ul/uids.ts";
import { type AssociationArgs, type CliIo, describeError, targetOf } from "./_args.ts";

/** A presentation context proposing explicit, then implicit VR little endian (PS3.5 §10.1). */
export function littleEndianContext(abstractSyntax: string): ProposedPresentationContext {
  return {
    abstractSyntax,
    transferSyntaxes: [
      TransferSyntax.EXPLICIT_VR_LITTLE_ENDIAN,
      TransferSyntax.IMPLICIT_VR_LITTLE_ENDIAN,
    ],
  };
}

/**
 * Requests a command's association: the peer and AE titles of `request`, its timeout as the
 * connect, ARTIM and DIMSE timeouts, and `options` for the rest. On failure prints
 * `dimse COMMAND: cannot associate with CALLED-AE@HOST:PORT: why` and resolves undefined.
 */
export async function associate(
  command: string,
  io: CliIo,
  request: AssociationArgs,
  options: Omit<ConnectOptions, "host" | "port" | "callingAeTitle" | "calledAeTitle" | "timeouts">,
): Promise<Association | undefined> {
  try {
    return await Association.connect({
      host: request.host,
      port: request.port,
      callingAeTitle: request.callingAeTitle,
      calledAeTitle: request.calledAeTitle,
      ...options,
      timeouts: { connect: request.timeoutMs, artim: request.timeoutMs, dimse: request.timeoutMs },
    });
  } catch (error) {
    io.err(`dimse ${command}: cannot associate with ${targetOf(request)}: ${describeError(error)}`);
    return undefined;
  }
}

/** Releases an association (A-RELEASE), aborting it when the release fails. */
export async function releaseOrAbort(association: Association): Promise<void> {
  try {
    await association.release();
  } catch {
    await association.abort().catch(() => {});
  }
}
