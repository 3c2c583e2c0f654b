// The Storage SCP's receive path: the file bytes it writes, the data set it indexes when the
// head before Pixel Data does not fit in memory, and which index rows it asks to be flushed.
import assert from "node:assert/strict";
import { startStorageScp } from "./_storage_scp.ts";
import { Association } from "../../src/client.ts";
import { CommandField, type CommandSet } from "../../src/dimse/command.ts";
import type { DataSet } from "../../src/dataset/dataset.ts";
import { encodeFileMetaInformation } from "../../src/dataset/part10.ts";
import { writeDataSet } from "../../src/dataset/writer.ts";
import type {
  IndexAddOptions,
  IndexedInstance,
  InstanceIndex,
} from "../../src/store/instance_index.ts";
import { openSqliteIndex, type SqliteIndex } from "../../src/store/sqlite_index.ts";

const CT = "1.2.840.10008.5.1.4.1.1.2";
const EXPLICIT_LE = "1.2.840.10008.1.2.1";
const IMPLICIT_LE = "1.2.840.10008.1.2";

function connect(port: number, transferSyntax = EXPLICIT_LE): Promise<Association> {
  return Association.connect({
    host: "127.0.0.1",
    port,
    callingAeTitle: "RECVSCU",
    presentationContexts: [{ abstractSyntax: CT, transferSyntaxes: [transferSyntax] }],
  });
}

async function cStore(assoc: Association, uid: string, dataSet: Uint8Array): Promise<CommandSet> {
  const rsp = await assoc.request({
    commandField: CommandField.C_STORE_RQ,
    affectedSopClassUid: CT,
    affectedSopInstanceUid: uid,
    priority: 0,
    commandDataSetType: 0,
  }, { dataSet });
  return rsp.command;
}

/** Asserts that the file stored for `uid` is the Part 10 encoder's meta, then `dataSet`. */
async function assertStoredFile(
  dir: string,
  uid: string,
  transferSyntax: string,
  dataSet: Uint8Array,
  label: string,
): Promise<void> {
  const file = await Deno.readFile(`${dir}/${uid}.dcm`);
  const meta = encodeFileMetaInformation({
    mediaStorageSopClassUid: CT,
    mediaStorageSopInstanceUid: uid,
    transferSyntaxUid: transferSyntax,
    sourceApplicationEntityTitle: "RECVSCU",
  });
  assert.equal(file.length, meta.length + dataSet.length, `size of ${label}`);
  assert.deepEqual(file.subarray(0, meta.length), meta, `meta of ${label}`);
  assert.deepEqual(file.subarray(meta.length), dataSet, `data set of ${label}`);
}

function ct(uid: string, extra: DataSet = {}, pixelBytes = 64): DataSet {
  return {
    "00080016": { vr: "UI", Value: [CT] },
    "00080018": { vr: "UI", Value: [uid] },
    "00100010": { vr: "PN", Value: [{ Alphabetic: "Doe^John" }] },
    "00100020": { vr: "LO", Value: ["P7"] },
    "0020000D": { vr: "UI", Value: ["1.2.3.900"] },
    "0020000E": { vr: "UI", Value: ["1.2.3.900.1"] },
    ...extra,
    "7FE00010": { vr: "OW", InlineBinary: btoa("\0".repeat(pixelBytes)) },
  };
}

/** A real SQLite index that remembers the options of each add. */
class RecordingIndex implements InstanceIndex {
  readonly adds: { uid: string; durable: boolean | undefined }[] = [];
  readonly #inner: SqliteIndex;
  constructor(inner: SqliteIndex) {
    this.#inner = inner;
  }
  add(instance: IndexedInstance, options?: IndexAddOptions): Promise<void> {
    this.adds.push({ uid: instance.sopInstanceUid, durable: options?.durable });
    return this.#inner.add(instance, options);
  }
  flushes = 0;
  flush(): Promise<void> {
    this.flushes++;
    return this.#inner.flush();
  }
  remove(uid: string) {
    return this.#inner.remove(uid);
  }
  get(uid: string) {
    return this.#inner.get(uid);
  }
  find(query: Parameters<InstanceIndex["find"]>[0]) {
    return this.#inner.find(query);
  }
  instances(query: Parameters<InstanceIndex["instances"]>[0]) {
    return this.#inner.instances(query);
  }
  counts() {
    return this.#inner.counts();
  }
  close() {
    return this.#inner.close();
  }
}

/**
 * An SCP storing with fsync off into a temp folder, indexed by a recording SQLite index, and a
 * second connection to the same database file, which sees only rows the SCP has written.
 */
async function withIndexedScp(
  run: (scp: { port: number }, index: RecordingIndex, other: SqliteIndex) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const index = new RecordingIndex(openSqliteIndex(dir));
  const { scp, close } = await startStorageScp([], { dir, index, fsync: false });
  const other = openSqliteIndex(dir);
  try {
    await run(scp, index, other);
  } finally {
    await other.close();
    await close();
    await index.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("each stored file starts with the File Meta Information of the Part 10 encoder, for odd and even UID lengths and both transfer syntaxes", async () => {
  const { scp, dir, close } = await startStorageScp();
  try {
    for (const ts of [EXPLICIT_LE, IMPLICIT_LE]) {
      const assoc = await connect(scp.port, ts);
      for (const uid of ["1.2.3.41", "1.2.3.412", `1.2.3.${ts.length}3`]) {
        const dataSet = await writeDataSet(ct(uid), { transferSyntax: ts });
        assert.equal((await cStore(assoc, uid, dataSet)).status, 0);
        await assertStoredFile(dir, uid, ts, dataSet, `${uid} in ${ts}`);
      }
      await assoc.release();
    }
  } finally {
    await close();
  }
});

Deno.test("an instance with 300 KiB before Pixel Data is indexed with the attributes after it, read back from the file", async () => {
  const dir = await Deno.makeTempDir();
  const index = openSqliteIndex(dir);
  const { scp, close } = await startStorageScp([], { dir, index });
  try {
    const assoc = await connect(scp.port);
    const uid = "1.2.3.42";
    const blob: DataSet = { "00091010": { vr: "OB", InlineBinary: btoa("b".repeat(300 * 1024)) } };
    const bytes = await writeDataSet(
      ct(uid, { "00090010": { vr: "LO", Value: ["ACME"] }, ...blob }, 1 << 20),
      { transferSyntax: EXPLICIT_LE },
    );
    assert.equal((await cStore(assoc, uid, bytes)).status, 0);
    await assoc.release();
    const row = await index.get(uid);
    assert.ok(row, "indexed");
    assert.equal(row.size, (await Deno.stat(`${dir}/${uid}.dcm`)).size);
    assert.deepEqual(row.dataSet["00091010"], { vr: "OB" }, "the bulk value is left out");
    assert.deepEqual(row.dataSet["00100010"]?.Value, [{ Alphabetic: "Doe^John" }]);
    assert.deepEqual(row.dataSet["0020000E"]?.Value, ["1.2.3.900.1"]);
  } finally {
    await close();
    await index.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with fsync on, a new instance's index row is not flushed on its own and a replacing one is; with fsync off none is", async () => {
  for (const fsync of [true, false]) {
    const dir = await Deno.makeTempDir();
    const index = new RecordingIndex(openSqliteIndex(dir));
    const { scp, close } = await startStorageScp([], { dir, index, fsync });
    try {
      const assoc = await connect(scp.port);
      const bytes = await writeDataSet(ct("1.2.3.43"), { transferSyntax: EXPLICIT_LE });
      assert.equal((await cStore(assoc, "1.2.3.43", bytes)).status, 0);
      assert.equal((await cStore(assoc, "1.2.3.43", bytes)).status, 0);
      await assoc.release();
      assert.deepEqual(index.adds, [
        { uid: "1.2.3.43", durable: false },
        { uid: "1.2.3.43", durable: fsync },
      ]);
      assert.ok(await index.get("1.2.3.43"));
    } finally {
      await close();
      await index.close();
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("a data set of several megabytes arrives whole, byte for byte, with fsync on", async () => {
  const { scp, dir, close } = await startStorageScp([], { fsync: true, maxPduLength: 16384 });
  try {
    const assoc = await connect(scp.port);
    const uid = "1.2.3.44";
    const pixels: DataSet = {
      "7FE00010": {
        vr: "OW",
        InlineBinary: btoa(
          Array.from({ length: 3 * 1024 * 1024 + 6 }, (_, i) => String.fromCharCode(i % 251))
            .join(""),
        ),
      },
    };
    const bytes = await writeDataSet({ ...ct(uid), ...pixels }, { transferSyntax: EXPLICIT_LE });
    assert.equal((await cStore(assoc, uid, bytes)).status, 0);
    await assoc.release();
    const file = await Deno.readFile(`${dir}/${uid}.dcm`);
    assert.deepEqual(file.subarray(file.length - bytes.length), bytes);
    await scp.close({ timeoutMs: 1000 });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [`${uid}.dcm`]);
  } finally {
    await close();
  }
});

Deno.test("with fsync off, data sets in one piece and in many, through PDUs of 4 KiB to 1 MiB, are stored byte for byte behind their meta", async () => {
  // Pieces of 32 KiB or more are written as they arrive, smaller ones gathered first: PDUs of
  // every size, and a data set larger than the 1 MiB gathering buffer, take both paths.
  const pixels = (length: number): DataSet => ({
    "7FE00010": {
      vr: "OW",
      InlineBinary: btoa(
        Array.from({ length }, (_, i) => String.fromCharCode((i * 7) % 253)).join(""),
      ),
    },
  });
  for (const maxPduLength of [4096, 16384, 65536, 262144, 1048576]) {
    const { scp, dir, close } = await startStorageScp([], { fsync: false, maxPduLength });
    try {
      const assoc = await connect(scp.port);
      for (const [n, length] of [[1, 200], [2, 40_000], [3, 70_002], [4, 2_500_000]]) {
        const uid = `1.2.3.45.${maxPduLength}.${n}`;
        const bytes = await writeDataSet({ ...ct(uid), ...pixels(length) }, {
          transferSyntax: EXPLICIT_LE,
        });
        assert.equal((await cStore(assoc, uid, bytes)).status, 0);
        await assertStoredFile(dir, uid, EXPLICIT_LE, bytes, uid);
      }
      await assoc.release();
      // Closed, the SCP leaves no temp file (nor the one it made ahead for a next instance).
      await scp.close({ timeoutMs: 1000 });
      assert.deepEqual([...Deno.readDirSync(dir)].filter((e) => e.name.startsWith(".")), []);
    } finally {
      await close();
    }
  }
});

/** A temp file made ahead of its instance: `.<uuid>.tmp`. */
const SPARE = /^\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp$/;

Deno.test("once an instance is answered an empty temp file is made ahead, the next instance is written into it, and closing the SCP removes the one left", async () => {
  for (const fsync of [false, true]) {
    const { scp, dir, close } = await startStorageScp([], { fsync, spareTempFile: true });
    const spares = () => [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => SPARE.test(n));
    try {
      const assoc = await connect(scp.port);
      const first = await writeDataSet(ct("1.2.3.61"), { transferSyntax: EXPLICIT_LE });
      assert.equal((await cStore(assoc, "1.2.3.61", first)).status, 0);
      // With fsync on it is made by the runtime's I/O threads: it may take a moment.
      for (let i = 0; i < 100 && spares().length === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      // The file shows on disk before the SCP has taken the completed create: give it a turn.
      await new Promise((r) => setTimeout(r, 20));
      const [spare, ...more] = spares();
      assert.ok(spare, `fsync ${fsync}: a spare after the first instance`);
      assert.deepEqual(more, []);
      const made = Deno.statSync(`${dir}/${spare}`);
      assert.equal(made.size, 0);

      const second = await writeDataSet(ct("1.2.3.62"), { transferSyntax: EXPLICIT_LE });
      assert.equal((await cStore(assoc, "1.2.3.62", second)).status, 0);
      await assertStoredFile(dir, "1.2.3.62", EXPLICIT_LE, second, `fsync ${fsync}`);
      // The same file (inode), now under the instance's name; the spare's name is gone.
      assert.equal(Deno.statSync(`${dir}/1.2.3.62.dcm`).ino, made.ino, `fsync ${fsync}`);
      assert.ok(!spares().includes(spare));
      await assertStoredFile(dir, "1.2.3.61", EXPLICIT_LE, first, `fsync ${fsync}`);

      await assoc.release();
      await scp.close({ timeoutMs: 1000 });
      assert.deepEqual(
        [...Deno.readDirSync(dir)].filter((e) =>
          e.name.startsWith(".") &&
          !e.name.startsWith(".dimse-index")
        ),
        [],
      );
    } finally {
      await close();
    }
  }
});

Deno.test("with fsync on, instances arriving at once on several associations are all stored whole, in the flat and hierarchical layouts", async () => {
  for (const layout of ["flat", "hierarchical"] as const) {
    const { scp, dir, close } = await startStorageScp([], { fsync: true, layout });
    try {
      const sent = new Map<string, Uint8Array>();
      await Promise.all([0, 1, 2, 3].map(async (a) => {
        const assoc = await connect(scp.port);
        for (let i = 0; i < 6; i++) {
          const uid = `1.2.3.45.${a}.${i}`;
          const bytes = await writeDataSet(ct(uid, {}, 2000 + 2 * i), {
            transferSyntax: EXPLICIT_LE,
          });
          sent.set(uid, bytes);
          assert.equal((await cStore(assoc, uid, bytes)).status, 0);
        }
        await assoc.release();
      }));
      const folder = layout === "flat" ? dir : `${dir}/1.2.3.900/1.2.3.900.1`;
      const names = [...Deno.readDirSync(folder)].map((e) => e.name).sort();
      assert.deepEqual(names, [...sent.keys()].map((uid) => `${uid}.dcm`).sort());
      for (const [uid, bytes] of sent) {
        const file = await Deno.readFile(`${folder}/${uid}.dcm`);
        assert.deepEqual(file.subarray(file.length - bytes.length), bytes);
      }
    } finally {
      await close();
    }
  }
});

Deno.test("new instances' index rows are seen by the SCP at once and reach the database file by themselves once the instances pause", async () => {
  await withIndexedScp(async (scp, index, other) => {
    const assoc = await connect(scp.port);
    const uids = ["1.2.3.46", "1.2.3.47"];
    for (const uid of uids) {
      const bytes = await writeDataSet(ct(uid), { transferSyntax: EXPLICIT_LE });
      assert.equal((await cStore(assoc, uid, bytes)).status, 0);
      // The SCP's own index has the row as the response arrives (queued rows are read too).
      assert.equal((await index.get(uid))?.path, `${uid}.dcm`);
    }
    // Another connection reads the database file itself: the rows are written with no query
    // asking for them, while the association is still open.
    let written = 0;
    for (let i = 0; i < 200 && written < uids.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      written = 0;
      for (const uid of uids) if ((await other.get(uid))?.path === `${uid}.dcm`) written++;
    }
    assert.equal(written, uids.length);
    await assoc.release();
  });
});

Deno.test("the SCP asks the index to write its queue once the rows it queued hold more than 32 MiB of data set heads", async () => {
  await withIndexedScp(async (scp, index, other) => {
    const assoc = await connect(scp.port);
    // 240 KiB before Pixel Data: each queued row holds that much until it is written.
    const big = {
      "00090010": { vr: "LO" as const, Value: ["DIMSE TEST"] },
      "00091001": { vr: "OB" as const, InlineBinary: btoa("\0".repeat(240 * 1024)) },
    };
    const uidOf = (n: number) => `1.2.3.77.${n}`;
    // 136 heads of 240 KiB and a little are just under 32 MiB.
    for (let n = 0; n < 136; n++) {
      const bytes = await writeDataSet(ct(uidOf(n), big), { transferSyntax: EXPLICIT_LE });
      assert.equal((await cStore(assoc, uidOf(n), bytes)).status, 0);
    }
    assert.equal(index.flushes, 0);
    const bytes = await writeDataSet(ct(uidOf(136), big), { transferSyntax: EXPLICIT_LE });
    assert.equal((await cStore(assoc, uidOf(136), bytes)).status, 0);
    // Asked once the response is on its way: the rows are in the database file without a pause.
    for (let i = 0; i < 100 && index.flushes === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    assert.equal(index.flushes, 1);
    assert.equal((await other.get(uidOf(0)))?.path, `${uidOf(0)}.dcm`);
    assert.equal((await other.get(uidOf(136)))?.path, `${uidOf(136)}.dcm`);
    await assoc.release();
  });
});
