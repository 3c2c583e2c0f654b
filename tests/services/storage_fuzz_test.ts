// Mutated C-STORE traffic from a scripted raw peer (a fixed seed, so every run sends the same
// bytes): whatever arrives, the SCP answers with a response, an A-ABORT or a release, goes on
// serving, and leaves no temp file and no instance other than one it received whole.
import assert from "node:assert/strict";
import { ctBytes, listFiles, startStorageScp } from "./_storage_scp.ts";
import { mulberry32, randomInt } from "../ul/_pdu_random.ts";
import { A_RELEASE_RQ, aAssociateRqBytes, pDataTf, RawPeer } from "../peers/raw_peer.ts";
import { Association } from "../../src/client.ts";
import { CommandField } from "../../src/dimse/command.ts";
import { encodeCommandSet } from "../../src/dimse/command_codec.ts";
import { readPart10Header } from "../../src/dataset/part10.ts";
import { concatBytes } from "../../src/dataset/writer.ts";

const CT = "1.2.840.10008.5.1.4.1.1.2";
const EXPLICIT_LE = "1.2.840.10008.1.2.1";
const ITERATIONS = 160;

/** The message's PDUs: the command, then the data set in PDVs of `fragment` bytes. */
function message(
  command: Uint8Array,
  dataSet: Uint8Array,
  fragment: (at: number) => number,
  control: (last: boolean) => number,
  presentationContextId = 1,
): Uint8Array {
  const pdus = [pDataTf(presentationContextId, true, true, command)];
  for (let at = 0; at < dataSet.length;) {
    const n = Math.max(1, fragment(at));
    const piece = dataSet.subarray(at, at + n);
    at += piece.length;
    const bits = control(at >= dataSet.length);
    pdus.push(pDataTf(presentationContextId, (bits & 1) !== 0, (bits & 2) !== 0, piece));
  }
  return concatBytes(pdus);
}

for (const options of [{ fsync: false, spareTempFile: true }, { fsync: true }]) {
  Deno.test(`mutated C-STORE traffic gets the standard's answers, the SCP goes on serving, and nothing partial is left (${JSON.stringify(options)})`, async () => {
    const dir = await Deno.makeTempDir();
    const { scp, close } = await startStorageScp([], { dir, ...options });
    // The same mutations in every run.
    const rng = mulberry32(20261129);
    const rnd = (n: number) => randomInt(rng, 0, n - 1);
    const flip = (bytes: Uint8Array, count: number, span: number) => {
      const copy = bytes.slice();
      for (let k = 0; k < count; k++) copy[rnd(Math.min(span, copy.length))] = rnd(256);
      return copy;
    };
    // The data sets sent whole in a message that ends as the protocol says, by SOP Instance UID.
    const sentWhole = new Map<string, Uint8Array>();
    const answers = new Map<string, number>();
    try {
      for (let i = 0; i < ITERATIONS; i++) {
        const kind = i % 8;
        const uid = `1.2.826.0.1.3680043.10.99.${i}`;
        let dataSet = await ctBytes(uid, 40000);
        let command = encodeCommandSet({
          commandField: CommandField.C_STORE_RQ,
          messageId: i + 1,
          priority: 0,
          commandDataSetType: 0,
          affectedSopClassUid: CT,
          affectedSopInstanceUid: uid,
        });
        if (kind === 0) command = flip(command, 1 + rnd(4), command.length);
        if (kind === 1) dataSet = flip(dataSet, 1 + rnd(8), 2048);
        if (kind === 2) dataSet = dataSet.subarray(0, rnd(dataSet.length));
        let bytes = message(
          command,
          dataSet,
          () => kind === 3 ? 1 + rnd(20000) : 16000,
          (last) => kind === 4 && rnd(8) === 0 ? rnd(4) : last ? 2 : 0,
          kind === 5 ? [0, 2, 3, 255][rnd(4)] : 1,
        );
        if (kind === 6) bytes = flip(bytes, 1 + rnd(3), 64);
        if (kind === 7) bytes = bytes.subarray(0, rnd(bytes.length));
        if (kind === 1 || kind === 2 || kind === 3) sentWhole.set(uid, dataSet);

        const peer = await RawPeer.connect(scp.port);
        try {
          await peer.send(aAssociateRqBytes({ abstractSyntax: CT, transferSyntax: EXPLICIT_LE }));
          assert.equal((await peer.readPdu())?.[0], 0x02, "A-ASSOCIATE-AC");
          await peer.send(bytes);
          if (kind === 7) continue; // the peer goes away mid-message
          let answer: Uint8Array | null;
          try {
            answer = await peer.readPdu(300);
          } catch {
            answer = null; // still waiting for the rest of the message
          }
          const type = answer?.[0] ?? 0;
          answers.set(`${kind}:${type}`, (answers.get(`${kind}:${type}`) ?? 0) + 1);
          // A response (P-DATA-TF), an A-ABORT, or nothing yet for a message left unfinished.
          assert.ok([0, 0x04, 0x07].includes(type), `kind ${kind}: PDU type ${type}`);
          if (kind === 2 || kind === 3) assert.equal(type, 0x04, `kind ${kind} is answered`);
          if (type === 0x04) {
            await peer.send(A_RELEASE_RQ);
            assert.equal((await peer.readPdu())?.[0], 0x06, "A-RELEASE-RP");
          }
        } finally {
          peer.close();
        }
      }

      // Still serving: a clean instance is stored.
      const assoc = await Association.connect({
        host: "127.0.0.1",
        port: scp.port,
        presentationContexts: [{ abstractSyntax: CT, transferSyntaxes: [EXPLICIT_LE] }],
      });
      const clean = await ctBytes("1.2.826.0.1.3680043.10.99.1000", 40000);
      const rsp = await assoc.request({
        commandField: CommandField.C_STORE_RQ,
        priority: 0,
        commandDataSetType: 0,
        affectedSopClassUid: CT,
        affectedSopInstanceUid: "1.2.826.0.1.3680043.10.99.1000",
      }, { dataSet: clean });
      assert.equal(rsp.command.status, 0x0000);
      sentWhole.set("1.2.826.0.1.3680043.10.99.1000", clean);
      await assoc.release();
      await close();
      assert.ok(answers.size > 4, `answers seen: ${[...answers.keys()].join(" ")}`);
      const files = listFiles(dir).filter((f) => !f.startsWith(".dimse-index"));
      assert.deepEqual(files.filter((f) => !f.endsWith(".dcm")), [], "only instances are left");
      let compared = 0;
      for (const path of files) {
        const bytes = await Deno.readFile(`${dir}/${path}`);
        const header = await readPart10Header([bytes]);
        const uid = String((header.meta["00020003"]?.Value ?? [])[0] ?? "");
        const sent = sentWhole.get(uid);
        if (sent === undefined) continue;
        assert.deepEqual(bytes.subarray(header.dataSetOffset), sent, `${path} holds what was sent`);
        compared++;
      }
      assert.ok(compared >= 2, `${compared} stored instance(s) compared`);
    } finally {
      await close().catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  });
}
