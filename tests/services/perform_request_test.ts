// performRequest finds the accepted presentation context a request came on, and with it the
// abstract and transfer syntax the service is told and the SOP class the response names.
import assert from "node:assert/strict";
import { CommandField, type CommandSet, NO_DATA_SET } from "../../src/dimse/command.ts";
import type { IncomingRequest } from "../../src/dimse/dispatcher.ts";
import {
  type AssociationInfo,
  performRequest,
  type Service,
  type ServiceRequest,
} from "../../src/services/service.ts";
import type {
  AcceptedPresentationContext,
  NegotiatedAssociation,
} from "../../src/ul/negotiation.ts";

/** The n-th SOP class and transfer syntax of the test, both made up. */
const sopClass = (n: number) => `1.2.826.0.1.3680043.10.7.${n}`;
const transferSyntax = (n: number) => `1.2.826.0.1.3680043.10.8.${n}`;

/** Accepted contexts 1, 3, 5… for the SOP classes `first`, `first + 1`… */
function contexts(count: number, first = 0): AcceptedPresentationContext[] {
  return Array.from({ length: count }, (_, i) => ({
    presentationContextId: 2 * i + 1,
    abstractSyntax: sopClass(first + i),
    transferSyntax: transferSyntax(first + i),
    requestorIsScu: true,
    requestorIsScp: false,
  }));
}

/** A service for SOP classes 0–299 that notes what it is told. */
function recordingService(seen: { abstractSyntax: string; transferSyntax: string }[]): Service {
  return {
    name: "recording",
    sopClasses: Array.from({ length: 300 }, (_, n) => ({
      abstractSyntax: sopClass(n),
      transferSyntaxes: [transferSyntax(n)],
    })),
    handle(request: ServiceRequest) {
      seen.push({ abstractSyntax: request.abstractSyntax, transferSyntax: request.transferSyntax });
      return Promise.resolve({ status: 0 });
    },
  };
}

/** Performs a C-ECHO-RQ-like request without an Affected SOP Class UID on a context. */
async function perform(
  services: Service[],
  accepted: AcceptedPresentationContext[],
  presentationContextId: number,
): Promise<Omit<CommandSet, "commandField" | "commandDataSetType">> {
  const responses: Omit<CommandSet, "commandField" | "commandDataSetType">[] = [];
  const incoming: IncomingRequest = {
    message: {
      presentationContextId,
      command: {
        commandField: CommandField.C_ECHO_RQ,
        messageId: 1,
        commandDataSetType: NO_DATA_SET,
      },
    },
    signal: new AbortController().signal,
    respond: (command) => {
      responses.push(command);
      return Promise.resolve();
    },
  };
  const association = {
    negotiated: { accepted } as unknown as NegotiatedAssociation,
  } as AssociationInfo;
  await performRequest(services, incoming, {
    association,
    invoke: () => Promise.reject(new Error("Not used")),
  });
  assert.equal(responses.length, 1);
  return responses[0];
}

Deno.test("a request on any of 128 accepted contexts is performed with that context's syntaxes", async () => {
  const seen: { abstractSyntax: string; transferSyntax: string }[] = [];
  const services = [recordingService(seen)];
  const accepted = contexts(128);
  for (const id of [1, 3, 127, 129, 253, 255, 3]) {
    const response = await perform(services, accepted, id);
    const n = (id - 1) / 2;
    assert.deepEqual(seen.pop(), {
      abstractSyntax: sopClass(n),
      transferSyntax: transferSyntax(n),
    });
    assert.equal(response.affectedSopClassUid, sopClass(n), "named in the response");
    assert.equal(response.status, 0);
  }
});

Deno.test("an accepted context list that grows is indexed afresh, and the first context of an id wins", async () => {
  const seen: { abstractSyntax: string; transferSyntax: string }[] = [];
  const services = [recordingService(seen)];
  const accepted = contexts(2);
  await perform(services, accepted, 3);
  assert.equal(seen.pop()?.abstractSyntax, sopClass(1));
  // Contexts added to the same list after a first request.
  accepted.push(...contexts(3, 100).slice(2), { ...contexts(2, 200)[1] });
  await perform(services, accepted, 5);
  assert.equal(seen.pop()?.abstractSyntax, sopClass(102));
  await perform(services, accepted, 3);
  assert.equal(seen.pop()?.abstractSyntax, sopClass(1), "the first context with id 3");
  // A request on a context that is not in the list is refused by nobody's service.
  const refused = await perform(services, accepted, 7);
  assert.equal(seen.length, 0);
  assert.equal(refused.status, 0x0122);
  assert.equal(refused.affectedSopClassUid, "");
});
