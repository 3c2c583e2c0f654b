import assert from "node:assert/strict";
import { listFiles, startStorageScp } from "./_storage_scp.ts";
import { Association } from "../../src/client.ts";
import { CommandField, type CommandSet } from "../../src/dimse/command.ts";
import type { DataSet } from "../../src/dataset/dataset.ts";
import { readWholePart10 } from "../../src/dataset/part10.ts";
import { writeDataSet } from "../../src/dataset/writer.ts";
import { Scp } from "../../src/scp.ts";
import {
  type IncomingInstance,
  isSafeUidForPath,
  storageHandler,
  type StoredInstance,
} from "../../src/services/storage.ts";
import { instanceLocation } from "../../src/services/storage_layout.ts";
import { verification } from "../../src/services/verification.ts";
import type { IndexedInstance, InstanceIndex } from "../../src/store/instance_index.ts";
import { openSqliteIndex } from "../../src/store/sqlite_index.ts";
import { readInstance } from "../../src/store/read_instance.ts";
import { requireDcmtk } from "../interop/_dcmtk.ts";

const FIXTURE = new URL("../fixtures/dcmtk/ct_explicit_le.dcm", import.meta.url).pathname;
const dcmtk = await requireDcmtk(["storescu", "dcmdump"], "tests/services/storage_test.ts");

const CT = "1.2.840.10008.5.1.4.1.1.2";
const MR = "1.2.840.10008.5.1.4.1.1.4";
const EXPLICIT_LE = "1.2.840.10008.1.2.1";
const STUDY = "1.2.826.0.1.3680043.10.9.1";
const SERIES = "1.2.826.0.1.3680043.10.9.1.1";

/** A small CT data set with the given UIDs (undefined leaves the attribute out). */
function ctDataSet(
  uids: { sopClass?: string; sopInstance?: string; study?: string; series?: string },
  patientName = "Doe^John",
): DataSet {
  const ds: DataSet = {
    "00100010": { vr: "PN", Value: [{ Alphabetic: patientName }] },
    "00100020": { vr: "LO", Value: ["P1"] },
    "7FE00010": { vr: "OW", InlineBinary: btoa("\0\0\0\0\0\0\0\0") },
  };
  if (uids.sopClass !== undefined) ds["00080016"] = { vr: "UI", Value: [uids.sopClass] };
  if (uids.sopInstance !== undefined) ds["00080018"] = { vr: "UI", Value: [uids.sopInstance] };
  if (uids.study !== undefined) ds["0020000D"] = { vr: "UI", Value: [uids.study] };
  if (uids.series !== undefined) ds["0020000E"] = { vr: "UI", Value: [uids.series] };
  return ds;
}

/** Opens an association to the SCP proposing CT and MR in explicit VR little endian. */
function connect(port: number): Promise<Association> {
  return Association.connect({
    host: "127.0.0.1",
    port,
    callingAeTitle: "TESTSCU",
    presentationContexts: [CT, MR].map((abstractSyntax) => ({
      abstractSyntax,
      transferSyntaxes: [EXPLICIT_LE],
    })),
  });
}

/** Sends one C-STORE-RQ with the command's UIDs and the given data set bytes; its response. */
/** Stores a CT instance with this SOP Instance UID and patient name; the response status. */
async function storeCt(assoc: Association, uid: string, patientName: string): Promise<number> {
  const bytes = await writeDataSet(ctDataSet({ sopClass: CT, sopInstance: uid }, patientName), {
    transferSyntax: EXPLICIT_LE,
  });
  return (await cStore(assoc, { sopClass: CT, sopInstance: uid }, bytes)).status ?? -1;
}

async function cStore(
  assoc: Association,
  command: { sopClass: string; sopInstance: string },
  dataSet: Uint8Array,
): Promise<CommandSet> {
  const rsp = await assoc.request({
    commandField: CommandField.C_STORE_RQ,
    affectedSopClassUid: command.sopClass,
    affectedSopInstanceUid: command.sopInstance,
    priority: 0,
    commandDataSetType: 0,
  }, { dataSet });
  return rsp.command;
}

/** Encodes a CT data set matching the command's UIDs. */
function encodeCt(sopInstance: string, extra: Partial<Parameters<typeof ctDataSet>[0]> = {}) {
  return writeDataSet(
    ctDataSet({ sopClass: CT, sopInstance, study: STUDY, series: SERIES, ...extra }),
    { transferSyntax: EXPLICIT_LE },
  );
}

/** Patient Name of a stored file. */
async function patientNameOf(path: string): Promise<string> {
  const { dataSet } = await readWholePart10([await Deno.readFile(path)]);
  const value = dataSet["00100010"]?.Value?.[0];
  return typeof value === "object" && value !== null && "Alphabetic" in value
    ? String(value.Alphabetic)
    : "";
}

/** An in-memory InstanceIndex; `failAdd` makes add reject. */
class MemoryIndex implements InstanceIndex {
  readonly rows = new Map<string, IndexedInstance>();
  failAdd = false;
  failGet = false;
  add(instance: IndexedInstance): Promise<void> {
    if (this.failAdd) return Promise.reject(new Error("Index is read-only"));
    this.rows.set(instance.sopInstanceUid, instance);
    return Promise.resolve();
  }
  remove(sopInstanceUid: string): Promise<void> {
    this.rows.delete(sopInstanceUid);
    return Promise.resolve();
  }
  get(sopInstanceUid: string): Promise<IndexedInstance | undefined> {
    if (this.failGet) return Promise.reject(new Error("Index is unavailable"));
    return Promise.resolve(this.rows.get(sopInstanceUid));
  }
  async *find(): AsyncIterable<DataSet> {
    for (const row of this.rows.values()) yield row.dataSet;
  }
  async *instances(): AsyncIterable<IndexedInstance> {
    yield* this.rows.values();
  }
  counts() {
    return Promise.resolve({ patients: 0, studies: 0, series: 0, instances: this.rows.size });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("UIDs that could escape the store folder are refused as file names", () => {
  assert.equal(isSafeUidForPath("1.2.826.0.1.3680043.10.1.1.1"), true);
  for (const bad of ["", "../etc/passwd", "1.2/3", "1..2", ".1", "1.2.", "a.b", "9".repeat(65)]) {
    assert.equal(isSafeUidForPath(bad), false, bad);
  }
});

Deno.test("the hierarchical layout refuses a study UID with a separator and places a non-patient object at the top", () => {
  assert.throws(
    () =>
      instanceLocation("hierarchical", {
        sopInstanceUid: "1.2.3",
        studyInstanceUid: "../..",
        seriesInstanceUid: "1.2",
      }),
    /Study Instance UID is not a valid UID/,
  );
  assert.deepEqual(
    instanceLocation("hierarchical", { sopInstanceUid: "1.2.3" }),
    { folder: "", stem: "1.2.3" },
  );
  assert.deepEqual(
    instanceLocation("hierarchical", {
      sopInstanceUid: "1.2.3",
      studyInstanceUid: "1.2",
      seriesInstanceUid: "1.2.1",
    }),
    { folder: "1.2/1.2.1", stem: "1.2.3" },
  );
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

Deno.test("the hierarchical layout stores an instance as <study>/<series>/<sop>.dcm", async () => {
  const { scp, dir, close } = await startStorageScp([], { layout: "hierarchical" });
  try {
    const assoc = await connect(scp.port);
    const rsp = await cStore(
      assoc,
      { sopClass: CT, sopInstance: "1.2.3.1" },
      await encodeCt("1.2.3.1"),
    );
    await assoc.release();
    assert.equal(rsp.status, 0x0000);
    assert.deepEqual(listFiles(dir), [`${STUDY}/${SERIES}/1.2.3.1.dcm`]);
  } finally {
    await close();
  }
});

Deno.test("the hierarchical layout answers A900 for a Series Instance UID that is a path, and keeps nothing", async () => {
  const { scp, dir, log, close } = await startStorageScp([], { layout: "hierarchical" });
  try {
    const assoc = await connect(scp.port);
    const rsp = await cStore(
      assoc,
      { sopClass: CT, sopInstance: "1.2.3.2" },
      await encodeCt("1.2.3.2", { series: "../../../tmp" }),
    );
    await assoc.release();
    assert.equal(rsp.status, 0xa900);
    assert.deepEqual(rsp.offendingElement, [0x0020000e]);
    assert.match(rsp.errorComment ?? "", /Series Instance UID/);
    assert.deepEqual(listFiles(dir), []);
    assert.match(log.join("\n"), /1\.2\.3\.2 from TESTSCU@.* not stored, status A900/);
  } finally {
    await close();
  }
});

Deno.test("duplicates overwrite: the second instance replaces the first, both answered 0000", async () => {
  const { scp, dir, log, close } = await startStorageScp([], { duplicates: "overwrite" });
  try {
    const assoc = await connect(scp.port);
    const uid = "1.2.3.10";
    assert.equal(await storeCt(assoc, uid, "First^One"), 0);
    assert.equal(await storeCt(assoc, uid, "Second^Two"), 0);
    await assoc.release();
    assert.deepEqual(listFiles(dir), [`${uid}.dcm`]);
    assert.equal(await patientNameOf(`${dir}/${uid}.dcm`), "Second^Two");
    assert.match(log.join("\n"), /1\.2\.3\.10 from TESTSCU@.* replaced/);
  } finally {
    await close();
  }
});

Deno.test("duplicates keep-first: the second instance is discarded with a log line, answered 0000", async () => {
  const { scp, dir, log, close } = await startStorageScp([], { duplicates: "keep-first" });
  try {
    const assoc = await connect(scp.port);
    const uid = "1.2.3.11";
    assert.equal(await storeCt(assoc, uid, "First^One"), 0);
    assert.equal(await storeCt(assoc, uid, "Second^Two"), 0);
    await assoc.release();
    assert.deepEqual(listFiles(dir), [`${uid}.dcm`]);
    assert.equal(await patientNameOf(`${dir}/${uid}.dcm`), "First^One");
    assert.match(
      log.join("\n"),
      /1\.2\.3\.11 from TESTSCU@.* already stored .*discarded \(duplicates: keep-first\)/,
    );
  } finally {
    await close();
  }
});

Deno.test("duplicates keep-both: the second and third copies are stored as <uid>.1.dcm and <uid>.2.dcm", async () => {
  const { scp, dir, close } = await startStorageScp([], { duplicates: "keep-both" });
  try {
    const assoc = await connect(scp.port);
    const uid = "1.2.3.12";
    for (const name of ["First^One", "Second^Two", "Third^Three"]) {
      assert.equal(await storeCt(assoc, uid, name), 0);
    }
    await assoc.release();
    assert.deepEqual(listFiles(dir), [`${uid}.1.dcm`, `${uid}.2.dcm`, `${uid}.dcm`]);
    assert.equal(await patientNameOf(`${dir}/${uid}.dcm`), "First^One");
    assert.equal(await patientNameOf(`${dir}/${uid}.1.dcm`), "Second^Two");
    assert.equal(await patientNameOf(`${dir}/${uid}.2.dcm`), "Third^Three");
  } finally {
    await close();
  }
});

Deno.test("a data set whose SOP Class or Instance UID disagrees with the command is answered A900 and not kept", async () => {
  const { scp, dir, close } = await startStorageScp();
  try {
    const assoc = await connect(scp.port);
    const wrongClass = await cStore(
      assoc,
      { sopClass: CT, sopInstance: "1.2.3.20" },
      await writeDataSet(ctDataSet({ sopClass: MR, sopInstance: "1.2.3.20" }), {
        transferSyntax: EXPLICIT_LE,
      }),
    );
    const wrongInstance = await cStore(
      assoc,
      { sopClass: CT, sopInstance: "1.2.3.21" },
      await encodeCt("1.2.3.99"),
    );
    await assoc.release();
    assert.equal(wrongClass.status, 0xa900);
    assert.deepEqual(wrongClass.offendingElement, [0x00080016]);
    assert.match(wrongClass.errorComment ?? "", /SOP Class UID differs/);
    assert.equal(wrongInstance.status, 0xa900);
    assert.deepEqual(wrongInstance.offendingElement, [0x00080018]);
    assert.deepEqual(listFiles(dir), []);
  } finally {
    await close();
  }
});

Deno.test("a data set without SOP Class and Instance UIDs is stored as received and answered B007", async () => {
  const { scp, dir, close } = await startStorageScp();
  try {
    const assoc = await connect(scp.port);
    const rsp = await cStore(
      assoc,
      { sopClass: CT, sopInstance: "1.2.3.30" },
      await writeDataSet(ctDataSet({}), { transferSyntax: EXPLICIT_LE }),
    );
    await assoc.release();
    assert.equal(rsp.status, 0xb007);
    assert.deepEqual(rsp.offendingElement, [0x00080016, 0x00080018]);
    assert.deepEqual(listFiles(dir), ["1.2.3.30.dcm"]);
  } finally {
    await close();
  }
});

Deno.test("a data set that cannot be parsed up to Pixel Data is answered C000 and not kept", async () => {
  const { scp, dir, log, close } = await startStorageScp();
  try {
    const assoc = await connect(scp.port);
    // (0010,0010) PN claiming 200 bytes, then the data set ends after 4 of them.
    const truncated = new Uint8Array([
      0x10,
      0x00,
      0x10,
      0x00,
      0x50,
      0x4e,
      200,
      0,
      0x44,
      0x6f,
      0x65,
      0x5e,
    ]);
    const rsp = await cStore(assoc, { sopClass: CT, sopInstance: "1.2.3.40" }, truncated);
    await assoc.release();
    assert.equal(rsp.status, 0xc000);
    assert.match(rsp.errorComment ?? "", /cannot be parsed up to Pixel Data/);
    assert.deepEqual(listFiles(dir), []);
    assert.match(log.join("\n"), /1\.2\.3\.40 from TESTSCU@.* not stored, status C000/);
  } finally {
    await close();
  }
});

Deno.test("an index records each stored instance with its path, size and data set before the response", async () => {
  const index = new MemoryIndex();
  const stored: StoredInstance[] = [];
  const { scp, dir, close } = await startStorageScp([], {
    layout: "hierarchical",
    index,
    onStored: (instance) => {
      stored.push(instance);
    },
  });
  try {
    const assoc = await connect(scp.port);
    const bytes = await encodeCt("1.2.3.50");
    const rsp = await cStore(assoc, { sopClass: CT, sopInstance: "1.2.3.50" }, bytes);
    assert.equal(rsp.status, 0);
    // The response came after add: the row is there already.
    const row = index.rows.get("1.2.3.50");
    assert.ok(row);
    assert.equal(row.path, `${STUDY}/${SERIES}/1.2.3.50.dcm`);
    assert.equal(row.sopClassUid, CT);
    assert.equal(row.transferSyntaxUid, EXPLICIT_LE);
    assert.equal(row.size, (await Deno.stat(`${dir}/${row.path}`)).size);
    assert.deepEqual(row.dataSet["0020000D"], { vr: "UI", Value: [STUDY] });
    assert.equal(row.dataSet["7FE00010"], undefined, "read stops before Pixel Data");
    await assoc.release();
    assert.equal(stored.length, 1);
    assert.equal(stored[0].outcome, "stored");
    assert.equal(stored[0].file, `${dir}/${row.path}`);
    const streamed = new Uint8Array(await new Response(stored[0].dataSetStream()).arrayBuffer());
    assert.deepEqual(streamed, bytes);
  } finally {
    await close();
  }
});

Deno.test("the index row's data set, decoded after the response, is the file's head up to Pixel Data", async () => {
  const index = new MemoryIndex();
  const { scp, dir, close } = await startStorageScp([], { index });
  try {
    const assoc = await connect(scp.port);
    const uid = "1.2.3.52";
    assert.equal(await storeCt(assoc, uid, "Lazy^Row"), 0);
    await assoc.release();
    const row = index.rows.get(uid);
    assert.ok(row);
    const fromFile = await readInstance(dir, row.path, { bulkThreshold: 4096 });
    assert.deepEqual(row.dataSet, fromFile.dataSet);
    assert.deepEqual(row.dataSet["00100010"], {
      vr: "PN",
      Value: [{ Alphabetic: "Lazy^Row" }],
    });
    assert.equal(row.dataSet["7FE00010"], undefined, "read stops before Pixel Data");
  } finally {
    await close();
  }
});

Deno.test("overwrite in the hierarchical layout moves an instance whose series changed and drops the old file", async () => {
  const index = new MemoryIndex();
  const { scp, dir, close } = await startStorageScp([], { layout: "hierarchical", index });
  try {
    const assoc = await connect(scp.port);
    const cmd = { sopClass: CT, sopInstance: "1.2.3.51" };
    assert.equal((await cStore(assoc, cmd, await encodeCt("1.2.3.51"))).status, 0);
    assert.equal(
      (await cStore(assoc, cmd, await encodeCt("1.2.3.51", { series: "1.2.9" }))).status,
      0,
    );
    await assoc.release();
    assert.deepEqual(listFiles(dir), [`${STUDY}/1.2.9/1.2.3.51.dcm`]);
    assert.equal(index.rows.get("1.2.3.51")?.path, `${STUDY}/1.2.9/1.2.3.51.dcm`);
  } finally {
    await close();
  }
});

Deno.test("overwrite replaces a file the index does not know, leaving one file and no temp file", async () => {
  const dir = await Deno.makeTempDir();
  const uid = "1.2.3.52";
  await Deno.writeTextFile(`${dir}/${uid}.dcm`, "not indexed");
  const index = new MemoryIndex();
  const outcomes: string[] = [];
  const { scp, close } = await startStorageScp([], {
    dir,
    index,
    onStored: (instance) => {
      outcomes.push(instance.outcome);
    },
  });
  try {
    const assoc = await connect(scp.port);
    assert.equal(await storeCt(assoc, uid, "New^Copy"), 0);
    await assoc.release();
    assert.deepEqual(listFiles(dir), [`${uid}.dcm`]);
    assert.equal(await patientNameOf(`${dir}/${uid}.dcm`), "New^Copy");
    assert.equal(index.rows.get(uid)?.path, `${uid}.dcm`);
    assert.equal(index.rows.get(uid)?.size, (await Deno.stat(`${dir}/${uid}.dcm`)).size);
    assert.deepEqual(outcomes, ["stored"]);
  } finally {
    await close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an index that fails to add answers A700, removes the new file and restores an overwritten one", async () => {
  const index = new MemoryIndex();
  const { scp, dir, log, close } = await startStorageScp([], { index });
  try {
    const assoc = await connect(scp.port);
    const uid = "1.2.3.60";
    assert.equal(await storeCt(assoc, uid, "First^One"), 0);
    index.failAdd = true;
    const second = ctDataSet({ sopClass: CT, sopInstance: uid }, "Second^Two");
    const replaced = await cStore(
      assoc,
      { sopClass: CT, sopInstance: uid },
      await writeDataSet(second, { transferSyntax: EXPLICIT_LE }),
    );
    const fresh = await cStore(
      assoc,
      { sopClass: CT, sopInstance: "1.2.3.61" },
      await encodeCt("1.2.3.61"),
    );
    await assoc.release();
    assert.equal(replaced.status, 0xa700);
    assert.match(replaced.errorComment ?? "", /could not be indexed/);
    assert.equal(fresh.status, 0xa700);
    assert.deepEqual(listFiles(dir), [`${uid}.dcm`]);
    assert.equal(await patientNameOf(`${dir}/${uid}.dcm`), "First^One");
    assert.match(log.join("\n"), /1\.2\.3\.61 .* not stored, status A700/);
  } finally {
    await close();
  }
});

Deno.test("an index that cannot be asked answers A700, keeps no file and serves the next instance", async () => {
  const index = new MemoryIndex();
  const { scp, dir, log, close } = await startStorageScp([], { index });
  try {
    const assoc = await connect(scp.port);
    index.failGet = true;
    const refused = await cStore(
      assoc,
      { sopClass: CT, sopInstance: "1.2.3.62" },
      await encodeCt("1.2.3.62"),
    );
    assert.equal(refused.status, 0xa700);
    assert.match(refused.errorComment ?? "", /could not be looked up/);
    assert.deepEqual(listFiles(dir), [], "neither the file nor its temp file is left");
    assert.match(log.join("\n"), /1\.2\.3\.62 .*index: Index is unavailable/);
    index.failGet = false;
    assert.equal(await storeCt(assoc, "1.2.3.63", "Next^One"), 0);
    await assoc.release();
    assert.deepEqual(listFiles(dir), ["1.2.3.63.dcm"]);
  } finally {
    await close();
  }
});

Deno.test("the SQLite index holds each acknowledged instance at its path, and a closed index answers A700 keeping no file", async () => {
  const dir = await Deno.makeTempDir();
  const index = openSqliteIndex(dir);
  const { scp, close } = await startStorageScp([], { dir, layout: "hierarchical", index });
  try {
    const assoc = await connect(scp.port);
    const uids = ["1.2.3.80", "1.2.3.81", "1.2.3.82"];
    for (const [i, uid] of uids.entries()) {
      const bytes = await encodeCt(uid, i === 2 ? { series: "1.2.3.8.2" } : {});
      assert.equal((await cStore(assoc, { sopClass: CT, sopInstance: uid }, bytes)).status, 0);
    }
    assert.deepEqual(await index.counts(), { patients: 1, studies: 1, series: 2, instances: 3 });
    assert.equal((await index.get("1.2.3.82"))?.path, `${STUDY}/1.2.3.8.2/1.2.3.82.dcm`);
    const row = await index.get("1.2.3.80");
    assert.equal(row?.path, `${STUDY}/${SERIES}/1.2.3.80.dcm`);
    assert.equal(row?.size, (await Deno.stat(`${dir}/${row?.path}`)).size);
    await index.close();
    const refused = await cStore(
      assoc,
      { sopClass: CT, sopInstance: "1.2.3.83" },
      await encodeCt("1.2.3.83"),
    );
    await assoc.release();
    assert.equal(refused.status, 0xa700);
    assert.deepEqual(listFiles(dir).filter((f) => !f.startsWith(".")), [
      `${STUDY}/1.2.3.8.2/1.2.3.82.dcm`,
      `${STUDY}/${SERIES}/1.2.3.80.dcm`,
      `${STUDY}/${SERIES}/1.2.3.81.dcm`,
    ]);
  } finally {
    await close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("storageHandler hands each instance to the handler as a stream and answers its status", async () => {
  const received: { instance: IncomingInstance; bytes: Uint8Array; meta: DataSet }[] = [];
  const scp = new Scp({
    aeTitle: "DIMSE",
    port: 0,
    hostname: "127.0.0.1",
    services: [
      storageHandler(async (instance) => {
        const bytes = new Uint8Array(await new Response(instance.dataSet).arrayBuffer());
        const { meta } = await readWholePart10([instance.fileMetaInformation, bytes]);
        received.push({ instance, bytes, meta });
        return instance.sopInstanceUid === "1.2.3.71" ? 0xb000 : 0x0000;
      }),
    ],
  });
  await scp.listen();
  try {
    const assoc = await connect(scp.port);
    const a = await encodeCt("1.2.3.70");
    const b = await encodeCt("1.2.3.71");
    const first = await cStore(assoc, { sopClass: CT, sopInstance: "1.2.3.70" }, a);
    const second = await cStore(assoc, { sopClass: CT, sopInstance: "1.2.3.71" }, b);
    await assoc.release();
    assert.equal(first.status, 0x0000);
    assert.equal(second.status, 0xb000);
    assert.equal(second.affectedSopInstanceUid, "1.2.3.71");
    assert.equal(received.length, 2);
    assert.deepEqual(received[0].bytes, a);
    assert.deepEqual(received[1].bytes, b);
    assert.equal(received[0].instance.transferSyntax, EXPLICIT_LE);
    assert.equal(received[0].instance.association.callingAeTitle, "TESTSCU");
    assert.deepEqual(received[0].meta["00020003"], { vr: "UI", Value: ["1.2.3.70"] });
  } finally {
    await scp.close({ timeoutMs: 1000 });
  }
});
