// ServiceResponse.afterSend: work a service does once its final response is on its way.
import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import { Scp } from "../../src/scp.ts";
import type { Service } from "../../src/services/service.ts";

const VERIFICATION = "1.2.840.10008.1.1";

Deno.test("afterSend runs once per request after the response is handed over, and a failing one changes nothing", async () => {
  const calls: string[] = [];
  let n = 0;
  const service: Service = {
    name: "verification",
    sopClasses: [{ abstractSyntax: VERIFICATION, transferSyntaxes: ["1.2.840.10008.1.2"] }],
    handle() {
      const k = ++n;
      calls.push(`handled ${k}`);
      return Promise.resolve({
        status: 0,
        afterSend: () => {
          calls.push(`after ${k}`);
          if (k === 2) throw new Error("after-send failure");
        },
      });
    },
  };
  const scp = new Scp({ aeTitle: "ANY-SCP", port: 0, hostname: "127.0.0.1", services: [service] });
  await scp.listen();
  try {
    const assoc = await Association.connect({
      host: "127.0.0.1",
      port: scp.port,
      presentationContexts: [{
        abstractSyntax: VERIFICATION,
        transferSyntaxes: ["1.2.840.10008.1.2"],
      }],
    });
    for (let i = 0; i < 3; i++) assert.equal(await assoc.echo(), 0);
    await assoc.release();
  } finally {
    await scp.close();
  }
  assert.deepEqual(calls, [
    "handled 1",
    "after 1",
    "handled 2",
    "after 2",
    "handled 3",
    "after 3",
  ]);
});
