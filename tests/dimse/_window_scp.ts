// An SCP performing up to N operations at once (Verification and Storage kept in memory), run
// as a process of its own by tests: prints its port, serves until killed.
import { Scp } from "../../src/scp.ts";
import { storageHandler } from "../../src/services/storage.ts";
import { verification } from "../../src/services/verification.ts";

const window = Number(Deno.args[0] ?? "2");
const scp = new Scp({
  aeTitle: "DIMSE",
  port: 0,
  hostname: "127.0.0.1",
  asyncOpsWindow: { maxOperationsInvoked: 1, maxOperationsPerformed: window },
  services: [
    verification(),
    storageHandler(async (instance) => {
      for await (const _ of instance.dataSet) { /* drained */ }
      return 0;
    }),
  ],
});
await scp.listen();
console.log(scp.port);
