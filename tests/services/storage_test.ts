import assert from "node:assert/strict";
import { startStorageScp } from "./_storage_scp.ts";
import { Association } from "../../src/client.ts";
import { CommandField } from "../../src/dimse/command.ts";
import { isSafeUidForPath } from "../../src/services/storage.ts";
import { verification } from "../../src/services/verification.ts";
import { requireDcmtk } from "../interop/_dcmtk.ts";

const FIXTURE = new URL("../fixtures/dcmtk/ct_explicit_le.dcm", import.meta.url).pathname;
const dcmtk = await requireDcmtk(["storescu", "dcmdump"], "tests/services/storage_test.ts");

Deno.test("UIDs that could escape the store folder are refused as file names", () => {
  assert.equal(isSafeUidForPath("1.2.826.0.1.3680043.10.1.1.1"), true);
  for (const bad of ["", "../etc/passwd", "1.2/3", "1..2", ".1", "1.2.", "a.b", "9".repeat(65)]) {
    assert.equal(isSafeUidForPath(bad), false, bad);
  }
});

Deno.test({
  name: "DCMTK: storescu stores an instance whose file dcmdump shows as the sent one",
  ignore: !dcmtk,
  async fn() {
    const { scp, dir, close } = await startStorageScp([verification()]);
    try {
      const out = await new Deno.Command("storescu", {
        args: ["-aet", "STORESCU", "-aec", "DIMSE", "127.0.0.1", String(scp.port), FIXTURE],
        env: { TCP_NODELAY: "1" },
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const files = [...Deno.readDirSync(dir)].map((e) => e.name);
      assert.deepEqual(files, ["1.2.826.0.1.3680043.10.1.1.1.dcm"]);
      const dump = async (path: string) =>
        new TextDecoder().decode(
          (await new Deno.Command("dcmdump", { args: ["+L", path] }).output()).stdout,
        ).split("\n").filter((l) => l.startsWith("(") && !l.startsWith("(0002")).join("\n");
      assert.equal(await dump(`${dir}/${files[0]}`), await dump(FIXTURE));
      const meta = new TextDecoder().decode(
        (await new Deno.Command("dcmdump", { args: [`${dir}/${files[0]}`] }).output()).stdout,
      );
      assert.match(meta, /\(0002,0016\) AE \[STORESCU\]/);
      assert.match(meta, /\(0002,0010\) UI =LittleEndian/);
    } finally {
      await close();
    }
  },
});

Deno.test("an association aborted mid-instance leaves neither a file nor a temp file", async () => {
  const { scp, dir, close } = await startStorageScp();
  try {
    const ct = "1.2.840.10008.5.1.4.1.1.2";
    const assoc = await Association.connect({
      host: "127.0.0.1",
      port: scp.port,
      presentationContexts: [{ abstractSyntax: ct, transferSyntaxes: ["1.2.840.10008.1.2.1"] }],
    });
    let sent = 0;
    const halfADataSet = async function* (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 16; i++) {
        sent += 65536;
        yield new Uint8Array(65536);
      }
      await new Promise(() => {}); // the rest never comes
    };
    const pending = assoc.request({
      commandField: CommandField.C_STORE_RQ,
      affectedSopClassUid: ct,
      affectedSopInstanceUid: "1.2.3.4.5",
      priority: 0,
      commandDataSetType: 0,
    }, { dataSet: halfADataSet() }).catch((e) => e);
    // Wait until the SCP has the temp file open and bytes are flowing into it.
    for (let i = 0; i < 100 && [...Deno.readDirSync(dir)].length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal([...Deno.readDirSync(dir)].length, 1, "a temp file while receiving");
    assert.ok(sent > 0);
    await assoc.abort();
    await pending;
    for (let i = 0; i < 100 && [...Deno.readDirSync(dir)].length > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), []);
  } finally {
    await close();
  }
});
