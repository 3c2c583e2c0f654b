// The performing side's asynchronous operations window (PS3.7 Annex D.3.3.3), with the SCP in a
// process of its own so that its writes and the SCU's next request really race.
import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import { CommandField } from "../../src/dimse/command.ts";
import { ImplicitVrLittleEndian } from "../../src/dataset/transfer_syntax.ts";
import { VERIFICATION_SOP_CLASS } from "../../src/ul/uids.ts";

const SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7";

const SCP = new URL("./_window_scp.ts", import.meta.url).pathname;

Deno.test("an SCU keeping the whole window busy with C-STOREs and C-ECHOs is never aborted: a request sent as soon as a final response arrives fits the SCP's window", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCP, "16"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    reader.releaseLock();
    const port = Number(text.trim());
    const association = await Association.connect({
      host: "127.0.0.1",
      port,
      calledAeTitle: "DIMSE",
      asyncOpsWindow: { maxOperationsInvoked: 16, maxOperationsPerformed: 1 },
      presentationContexts: [
        { abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [ImplicitVrLittleEndian] },
        { abstractSyntax: SECONDARY_CAPTURE, transferSyntaxes: [ImplicitVrLittleEndian] },
      ],
    });
    assert.equal(association.negotiated.maxOperationsInvoked, 16);
    const dataSet = new Uint8Array(65536);
    let started = 0;
    const worker = async (): Promise<void> => {
      while (started < 4000) {
        const n = started++;
        if (n % 2) {
          assert.equal(await association.echo(), 0);
          continue;
        }
        const response = await association.request({
          commandField: CommandField.C_STORE_RQ,
          affectedSopClassUid: SECONDARY_CAPTURE,
          affectedSopInstanceUid: `1.2.826.0.1.3680043.10.1.960.${n}`,
          priority: 0,
          commandDataSetType: 0,
        }, { dataSet });
        assert.equal(response.command.status, 0);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    await association.release();
    assert.equal(association.released, true);
  } finally {
    child.kill();
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
});
