// The C-MOVE SCP over real sockets: our client sends C-MOVE-RQ to an Scp with the move service
// over a generated archive; the destination is another Scp that records the C-STOREs it gets.
import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import { fromKeywords } from "../../src/dataset/dataset.ts";
import { readPart10Header, writePart10 } from "../../src/dataset/part10.ts";
import { readWholeDataSet } from "../../src/dataset/reader.ts";
import { readInstance } from "../../src/store/read_instance.ts";
import {
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from "../../src/dataset/transfer_syntax.ts";
import { writeDataSet } from "../../src/dataset/writer.ts";
import { CommandField, type CommandSet } from "../../src/dimse/command.ts";
import type { DimseResponse } from "../../src/dimse/dispatcher.ts";
import {
  PATIENT_ROOT_QR_MOVE,
  readRetrieveIdentifier,
  RetrieveIdentifierError,
  STUDY_ROOT_QR_MOVE,
} from "../../src/services/qr_identifier.ts";
import {
  ARCHIVE,
  CT,
  SC,
  startDestination,
  studyUid,
  uidsWhere,
  withMoveScp,
  withMoveToDestination,
} from "./_retrieve_archive.ts";
import { freePort } from "../interop/_dcmtk.ts";

interface MoveRun {
  final: DimseResponse;
  pending: CommandSet[];
  failedUids?: string[];
}

function connect(port: number): Promise<Association> {
  return Association.connect({
    host: "127.0.0.1",
    port,
    callingAeTitle: "MOVESCU",
    calledAeTitle: "QRSCP",
    presentationContexts: [
      {
        abstractSyntax: STUDY_ROOT_QR_MOVE,
        transferSyntaxes: [ExplicitVrLittleEndian],
      },
      {
        abstractSyntax: PATIENT_ROOT_QR_MOVE,
        transferSyntaxes: [ImplicitVrLittleEndian],
      },
    ],
  });
}

async function failedUidsOf(response: DimseResponse, transferSyntax: string) {
  if (!response.dataSet) return undefined;
  const { dataSet } = await readWholeDataSet([response.dataSet], { transferSyntax });
  return (dataSet["00080058"]?.Value ?? []).map(String);
}

async function move(
  association: Association,
  sopClass: string,
  keys: Record<string, string>,
  destination: string,
  options: { onPending?: (c: CommandSet, messageId: number) => void } = {},
): Promise<MoveRun> {
  const transferSyntax = sopClass === STUDY_ROOT_QR_MOVE
    ? ExplicitVrLittleEndian
    : ImplicitVrLittleEndian;
  const pending: CommandSet[] = [];
  const messageId = 41;
  const final = await association.request({
    commandField: CommandField.C_MOVE_RQ,
    affectedSopClassUid: sopClass,
    messageId,
    priority: 0,
    moveDestination: destination,
    commandDataSetType: 0,
  }, {
    dataSet: await writeDataSet(fromKeywords(keys), { transferSyntax }),
    onPending: (r) => {
      pending.push(r.command);
      options.onPending?.(r.command, messageId);
    },
  });
  return { final, pending, failedUids: await failedUidsOf(final, transferSyntax) };
}

Deno.test("C-MOVE of a study sends its instances to the destination with Move Originator set, pending counts and Success", async () => {
  await withMoveToDestination("DEST", async (port, dest) => {
    const association = await connect(port);
    const run = await move(association, STUDY_ROOT_QR_MOVE, {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: studyUid(1),
    }, "DEST");
    await association.release();
    assert.equal(run.final.command.status, 0x0000);
    assert.equal(run.final.command.numberOfCompletedSuboperations, 3);
    assert.equal(run.final.command.numberOfFailedSuboperations, 0);
    assert.equal(run.final.command.numberOfWarningSuboperations, 0);
    assert.equal(run.final.dataSet, undefined);
    assert.deepEqual(
      run.pending.map((
        c,
      ) => [c.status, c.numberOfRemainingSuboperations, c.numberOfCompletedSuboperations]),
      [[0xff00, 2, 1], [0xff00, 1, 2]],
    );
    const got = dest.received.map((r) => r.command.affectedSopInstanceUid).sort();
    assert.deepEqual(got, uidsWhere((i) => i.study === studyUid(1)).sort());
    for (const r of dest.received) {
      assert.equal(r.command.moveOriginatorApplicationEntityTitle, "MOVESCU");
      assert.equal(r.command.moveOriginatorMessageId, 41);
      assert.ok(r.dataSet.length > 0);
    }
  });
});

Deno.test("C-MOVE to an AE title not in the table is refused with A801", async () => {
  await withMoveScp({}, async (port, _archive, log) => {
    const association = await connect(port);
    const run = await move(association, STUDY_ROOT_QR_MOVE, {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: studyUid(1),
    }, "NOWHERE");
    await association.release();
    assert.equal(run.final.command.status, 0xa801);
    assert.match(run.final.command.errorComment ?? "", /NOWHERE/);
    assert.equal(run.pending.length, 0);
    assert.ok(log.some((l) => /unknown move destination "NOWHERE"/.test(l)), log.join("\n"));
  });
});

Deno.test("C-MOVE to a known destination that is down fails with A702 listing every instance", async () => {
  const port = freePort();
  await withMoveScp({ DOWN: { host: "127.0.0.1", port } }, async (scpPort, _archive, log) => {
    const association = await connect(scpPort);
    const run = await move(association, PATIENT_ROOT_QR_MOVE, {
      QueryRetrieveLevel: "PATIENT",
      PatientID: "PID2",
    }, "DOWN");
    await association.release();
    assert.equal(run.final.command.status, 0xa702);
    assert.equal(run.final.command.numberOfFailedSuboperations, 3);
    assert.equal(run.final.command.numberOfCompletedSuboperations, 0);
    assert.deepEqual(run.failedUids?.sort(), uidsWhere((i) => i.patientId === "PID2").sort());
    assert.ok(log.some((l) => l.includes(`DOWN at 127.0.0.1:${port} unreachable`)), log.join("\n"));
  });
});

Deno.test("C-MOVE at STUDY level in the patient root model without Patient ID is refused with A900 naming (0010,0020)", async () => {
  await withMoveScp({ DEST: { host: "127.0.0.1", port: 1 } }, async (port) => {
    const association = await connect(port);
    const run = await move(association, PATIENT_ROOT_QR_MOVE, {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: studyUid(1),
    }, "DEST");
    await association.release();
    assert.equal(run.final.command.status, 0xa900);
    assert.deepEqual(run.final.command.offendingElement, [0x00100020]);
    assert.match(run.final.command.errorComment ?? "", /Patient ID/);
  });
});

Deno.test("C-MOVE at PATIENT level in the study root model is refused with A900 naming the level", async () => {
  await withMoveScp({ DEST: { host: "127.0.0.1", port: 1 } }, async (port) => {
    const association = await connect(port);
    const run = await move(association, STUDY_ROOT_QR_MOVE, {
      QueryRetrieveLevel: "PATIENT",
      PatientID: "PID1",
    }, "DEST");
    await association.release();
    assert.equal(run.final.command.status, 0xa900);
    assert.deepEqual(run.final.command.offendingElement, [0x00080052]);
  });
});

Deno.test("C-MOVE of a list of series UIDs moves exactly those series", async () => {
  await withMoveToDestination("DEST", async (port, dest) => {
    const association = await connect(port);
    const series = [ARCHIVE[2].series, ARCHIVE[4].series];
    const run = await move(association, STUDY_ROOT_QR_MOVE, {
      QueryRetrieveLevel: "SERIES",
      StudyInstanceUID: ARCHIVE[2].study,
      SeriesInstanceUID: series.join("\\"),
    }, "DEST");
    await association.release();
    // Series 3.1 belongs to another study than the one given: hierarchical, so not moved.
    assert.equal(run.final.command.status, 0x0000);
    const got = dest.received.map((r) => r.command.affectedSopInstanceUid).sort();
    assert.deepEqual(got, [ARCHIVE[2].sop]);
  });
});

Deno.test("C-MOVE where the destination takes CT only ends with B000 and lists the other instances as failed", async () => {
  await withMoveToDestination("CTONLY", async (port, dest) => {
    const association = await connect(port);
    const run = await move(association, PATIENT_ROOT_QR_MOVE, {
      QueryRetrieveLevel: "PATIENT",
      PatientID: "PID1",
    }, "CTONLY");
    await association.release();
    assert.equal(run.final.command.status, 0xb000);
    assert.equal(run.final.command.numberOfCompletedSuboperations, 3);
    assert.equal(run.final.command.numberOfFailedSuboperations, 1);
    assert.deepEqual(run.failedUids, [ARCHIVE[2].sop]);
    assert.equal(dest.received.length, 3);
  }, { sopClasses: [CT] });
});

Deno.test("C-MOVE to a destination that only takes implicit VR sends explicit VR files converted", async () => {
  await withMoveToDestination("IMPL", async (port, dest) => {
    const association = await connect(port);
    const run = await move(association, STUDY_ROOT_QR_MOVE, {
      QueryRetrieveLevel: "IMAGE",
      StudyInstanceUID: ARCHIVE[0].study,
      SeriesInstanceUID: ARCHIVE[0].series,
      SOPInstanceUID: ARCHIVE[0].sop,
    }, "IMPL");
    await association.release();
    assert.equal(run.final.command.status, 0x0000);
    assert.equal(dest.received.length, 1);
    const r = dest.received[0];
    assert.equal(r.transferSyntax, ImplicitVrLittleEndian);
    const { dataSet } = await readWholeDataSet([r.dataSet], {
      transferSyntax: ImplicitVrLittleEndian,
    });
    assert.deepEqual(dataSet["00080018"].Value, [ARCHIVE[0].sop]);
    assert.deepEqual(dataSet["00100020"].Value, ["PID1"]);
  }, { transferSyntaxes: [ImplicitVrLittleEndian] });
});

Deno.test("C-CANCEL during a C-MOVE stops between sub-operations and answers FE00 with the counts and the rest listed", async () => {
  await withMoveToDestination("SLOW", async (port, dest) => {
    const association = await connect(port);
    const pcid = association.presentationContextFor(PATIENT_ROOT_QR_MOVE);
    let cancelled = false;
    const run = await move(
      association,
      PATIENT_ROOT_QR_MOVE,
      {
        QueryRetrieveLevel: "PATIENT",
        PatientID: "PID1",
      },
      "SLOW",
      {
        onPending: (_c, messageId) => {
          if (cancelled) return;
          cancelled = true;
          association.cancel(messageId, pcid);
        },
      },
    );
    await association.release();
    assert.equal(run.final.command.status, 0xfe00);
    const c = run.final.command;
    assert.equal(c.numberOfCompletedSuboperations, dest.received.length);
    assert.ok((c.numberOfRemainingSuboperations ?? 0) >= 1, JSON.stringify(c));
    assert.equal(
      (c.numberOfCompletedSuboperations ?? 0) + (c.numberOfRemainingSuboperations ?? 0),
      4,
    );
    const sent = new Set(dest.received.map((r) => r.command.affectedSopInstanceUid));
    const notSent = uidsWhere((i) => i.patientId === "PID1").filter((u) => !sent.has(u));
    assert.deepEqual(run.failedUids?.sort(), notSent.sort());
  }, { delayMs: 250 });
});

Deno.test("C-MOVE matching nothing answers Success with zero counts and opens no association", async () => {
  const dest = await startDestination("DEST");
  let accepted = 0;
  dest.scp.on("association-accepted", () => accepted++);
  try {
    await withMoveScp({ DEST: { host: "127.0.0.1", port: dest.scp.port } }, async (port) => {
      const association = await connect(port);
      const run = await move(association, STUDY_ROOT_QR_MOVE, {
        QueryRetrieveLevel: "STUDY",
        StudyInstanceUID: "1.2.3.4.5.6.7",
      }, "DEST");
      await association.release();
      assert.equal(run.final.command.status, 0x0000);
      assert.equal(run.final.command.numberOfCompletedSuboperations, 0);
      assert.equal(accepted, 0);
    });
  } finally {
    await dest.close();
  }
});

Deno.test("C-MOVE where the destination answers a warning for one instance ends with B000 and an empty failed list", async () => {
  const dest = await startDestination("WARN", {
    statusFor: (uid) => uid === ARCHIVE[4].sop ? 0xb000 : 0,
  });
  try {
    await withMoveScp({ WARN: { host: "127.0.0.1", port: dest.scp.port } }, async (port) => {
      const association = await connect(port);
      const run = await move(association, STUDY_ROOT_QR_MOVE, {
        QueryRetrieveLevel: "STUDY",
        StudyInstanceUID: studyUid(3),
      }, "WARN");
      await association.release();
      assert.equal(run.final.command.status, 0xb000);
      assert.equal(run.final.command.numberOfWarningSuboperations, 1);
      assert.equal(run.final.command.numberOfCompletedSuboperations, 2);
      assert.deepEqual(run.failedUids, []);
      assert.ok(dest.received.every((r) => r.command.affectedSopClassUid === SC));
    });
  } finally {
    await dest.close();
  }
});

const IDENTIFIER_CASES: {
  name: string;
  model: "patient" | "study";
  keys: Record<string, string>;
  status?: number;
  offending?: number;
  query?: Record<string, string[]>;
}[] = [
  {
    name: "a list of study UIDs at STUDY level in the study root model is a query on that list",
    model: "study",
    keys: { QueryRetrieveLevel: "STUDY", StudyInstanceUID: "1.2.3\\1.2.4", PatientName: "X*" },
    query: { "00080052": ["STUDY"], "0020000D": ["1.2.3", "1.2.4"] },
  },
  {
    name: "IMAGE level in the patient root model keeps every unique key down to SOP Instance UID",
    model: "patient",
    keys: {
      QueryRetrieveLevel: "IMAGE",
      PatientID: "P",
      StudyInstanceUID: "1.2",
      SeriesInstanceUID: "1.2.3",
      SOPInstanceUID: "1.2.3.4\\1.2.3.5",
    },
    query: {
      "00080052": ["IMAGE"],
      "00100020": ["P"],
      "0020000D": ["1.2"],
      "0020000E": ["1.2.3"],
      "00080018": ["1.2.3.4", "1.2.3.5"],
    },
  },
  {
    name: "a list of study UIDs above SERIES level is refused",
    model: "study",
    keys: {
      QueryRetrieveLevel: "SERIES",
      StudyInstanceUID: "1.2\\1.3",
      SeriesInstanceUID: "1.2.3",
    },
    status: 0xa900,
    offending: 0x0020000d,
  },
  {
    name: "a list of Patient IDs is refused",
    model: "patient",
    keys: { QueryRetrieveLevel: "PATIENT", PatientID: "A\\B" },
    status: 0xa900,
    offending: 0x00100020,
  },
  {
    name: "an identifier without Query/Retrieve Level is refused",
    model: "study",
    keys: { StudyInstanceUID: "1.2" },
    status: 0xa900,
    offending: 0x00080052,
  },
  {
    name: "SERIES level without the series UID is refused",
    model: "study",
    keys: { QueryRetrieveLevel: "SERIES", StudyInstanceUID: "1.2" },
    status: 0xa900,
    offending: 0x0020000e,
  },
];

for (const c of IDENTIFIER_CASES) {
  Deno.test(`Retrieve identifier: ${c.name}`, async () => {
    const bytes = await writeDataSet(fromKeywords(c.keys), {
      transferSyntax: ExplicitVrLittleEndian,
    });
    const read = readRetrieveIdentifier([bytes], {
      transferSyntax: ExplicitVrLittleEndian,
      model: c.model,
    });
    if (c.status !== undefined) {
      const error = await read.then(() => undefined, (e) => e);
      assert.ok(error instanceof RetrieveIdentifierError, String(error));
      assert.equal(error.status, c.status);
      assert.equal(error.offendingElement, c.offending);
      return;
    }
    const query = await read;
    const got: Record<string, string[]> = {};
    for (const [tag, element] of Object.entries(query.identifier)) {
      got[tag] = (element.Value ?? []).map(String);
    }
    assert.deepEqual(got, c.query);
  });
}

Deno.test("Retrieve identifier: bytes that are no data set are refused with C000", async () => {
  const error = await readRetrieveIdentifier([new Uint8Array([8, 0, 0x52, 0, 0x43, 0x53, 0xff])], {
    transferSyntax: ExplicitVrLittleEndian,
    model: "study",
  }).then(() => undefined, (e) => e);
  assert.ok(error instanceof RetrieveIdentifierError, String(error));
  assert.equal(error.status, 0xc000);
});

Deno.test("C-MOVE streams a 3 MiB instance to the destination byte for byte", async () => {
  const dest = await startDestination("BIG");
  try {
    await withMoveScp(
      { BIG: { host: "127.0.0.1", port: dest.scp.port } },
      async (port, archive) => {
        const pixels = new Uint8Array(3 * 1024 * 1024);
        for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7) & 0xff;
        const uid = `${studyUid(3)}.9.9`;
        const dataSet = fromKeywords({
          SOPClassUID: SC,
          SOPInstanceUID: uid,
          PatientID: "PID2",
          StudyInstanceUID: studyUid(3),
          SeriesInstanceUID: `${studyUid(3)}.9`,
          PixelData: pixels,
        });
        dataSet["7FE00010"].vr = "OB";
        const file = await writePart10(dataSet);
        await Deno.writeFile(`${archive.dir}/big.dcm`, file);
        await archive.index.add(await readInstance(archive.dir, "big.dcm"));
        const association = await connect(port);
        const run = await move(association, STUDY_ROOT_QR_MOVE, {
          QueryRetrieveLevel: "IMAGE",
          StudyInstanceUID: studyUid(3),
          SeriesInstanceUID: `${studyUid(3)}.9`,
          SOPInstanceUID: uid,
        }, "BIG");
        await association.release();
        assert.equal(run.final.command.status, 0x0000);
        assert.equal(dest.received.length, 1);
        const header = await readPart10Header([file]);
        assert.deepEqual(dest.received[0].dataSet, file.subarray(header.dataSetOffset));
      },
    );
  } finally {
    await dest.close();
  }
});

Deno.test("A requestor that aborts during a C-MOVE makes the SCP stop and release the destination association", async () => {
  const dest = await startDestination("SLOW", { delayMs: 250 });
  let released = 0;
  let aborted = 0;
  dest.scp.on("association-released", () => released++);
  dest.scp.on("association-aborted", () => aborted++);
  try {
    await withMoveScp({ SLOW: { host: "127.0.0.1", port: dest.scp.port } }, async (port) => {
      const association = await connect(port);
      let aborting: Promise<void> | undefined;
      const outcome = await move(
        association,
        PATIENT_ROOT_QR_MOVE,
        {
          QueryRetrieveLevel: "PATIENT",
          PatientID: "PID1",
        },
        "SLOW",
        {
          onPending: () => {
            aborting ??= association.abort();
          },
        },
      ).then(() => "answered", (e) => (e instanceof Error ? e.name : String(e)));
      await aborting;
      assert.notEqual(outcome, "answered");
      const deadline = Date.now() + 5000;
      while (released + aborted === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(released, 1);
      assert.equal(aborted, 0);
      assert.ok(dest.received.length < 4, `${dest.received.length} sent`);
    });
  } finally {
    await dest.close();
  }
});
