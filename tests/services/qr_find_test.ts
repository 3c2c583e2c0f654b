import assert from "node:assert/strict";
import { Association } from "../../src/client.ts";
import { fromKeywords, type KeywordDataSet, toKeywords } from "../../src/dataset/dataset.ts";
import { readWholeDataSet } from "../../src/dataset/reader.ts";
import {
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from "../../src/dataset/transfer_syntax.ts";
import { writeDataSet } from "../../src/dataset/writer.ts";
import { CommandField } from "../../src/dimse/command.ts";
import type { DimseResponse } from "../../src/dimse/dispatcher.ts";
import { Scp } from "../../src/scp.ts";
import {
  answerFindExtendedNegotiation,
  PATIENT_ROOT_QR_FIND,
  queryRetrieveFind,
  STUDY_ROOT_QR_FIND,
} from "../../src/services/qr_find.ts";
import type { SqliteIndex } from "../../src/store/sqlite_index.ts";
import { slowIndex, studyUid, TOTALS, withIndexedArchive } from "../store/_archive.ts";
import { mulberry32, randomInt } from "../ul/_pdu_random.ts";

/** An SCP with the C-FIND service over a generated archive. */
interface FindScp {
  scp: Scp;
  index: SqliteIndex;
}

/** Runs `fn` with a new C-FIND SCP over the archive; closes it after. */
async function withFindScp(
  fn: (server: FindScp) => Promise<void>,
  options: { delayMs?: number; maxIdentifierLength?: number } = {},
): Promise<void> {
  await withIndexedArchive("dimse-qr-find-", async (index) => {
    const scp = new Scp({
      aeTitle: "DIMSE",
      port: 0,
      hostname: "127.0.0.1",
      services: [
        queryRetrieveFind({
          index: options.delayMs ? slowIndex(index, options.delayMs) : index,
          retrieveAeTitle: "DIMSE",
          maxIdentifierLength: options.maxIdentifierLength,
          transferSyntaxes: [ExplicitVrLittleEndian, ImplicitVrLittleEndian, ExplicitVrBigEndian],
        }),
      ],
      extendedNegotiation: (items) =>
        answerFindExtendedNegotiation(items.sopClassExtendedNegotiations),
    });
    await scp.listen();
    try {
      await fn({ scp, index });
    } finally {
      await scp.close({ timeoutMs: 1000 });
    }
  });
}

async function connect(
  scp: Scp,
  transferSyntax = ExplicitVrLittleEndian,
  extended: Uint8Array | undefined = undefined,
): Promise<Association> {
  return await Association.connect({
    host: "127.0.0.1",
    port: scp.port,
    calledAeTitle: "DIMSE",
    presentationContexts: [
      { abstractSyntax: STUDY_ROOT_QR_FIND, transferSyntaxes: [transferSyntax] },
      { abstractSyntax: PATIENT_ROOT_QR_FIND, transferSyntaxes: [transferSyntax] },
    ],
    sopClassExtendedNegotiations: extended
      ? [{ sopClassUid: STUDY_ROOT_QR_FIND, serviceClassApplicationInformation: extended }]
      : undefined,
  });
}

/** Runs `fn` on an association to a new C-FIND SCP; releases it and closes the SCP after. */
async function withFindAssociation(
  fn: (association: Association, server: FindScp) => Promise<void>,
  options: { delayMs?: number; maxIdentifierLength?: number } = {},
): Promise<void> {
  await withFindScp(async (server) => {
    const association = await connect(server.scp);
    try {
      await fn(association, server);
    } finally {
      await association.release();
    }
  }, options);
}

interface FindResult {
  final: DimseResponse;
  pending: { status: number; identifier: KeywordDataSet }[];
}

async function cFind(
  association: Association,
  sopClass: string,
  keys: KeywordDataSet | Uint8Array,
  options: { transferSyntax?: string; messageId?: number; onMatch?: (n: number) => void } = {},
): Promise<FindResult> {
  const transferSyntax = options.transferSyntax ?? ExplicitVrLittleEndian;
  const pending: FindResult["pending"] = [];
  const data = keys instanceof Uint8Array
    ? keys
    : await writeDataSet(fromKeywords(keys), { transferSyntax });
  const final = await association.request({
    commandField: CommandField.C_FIND_RQ,
    affectedSopClassUid: sopClass,
    messageId: options.messageId,
    priority: 0,
    commandDataSetType: 0,
  }, {
    dataSet: data,
    onPending: async (response) => {
      const { dataSet } = await readWholeDataSet([response.dataSet ?? new Uint8Array(0)], {
        transferSyntax,
      });
      pending.push({ status: response.command.status ?? -1, identifier: toKeywords(dataSet) });
      options.onMatch?.(pending.length);
    },
  });
  return { final, pending };
}

Deno.test("Study Root C-FIND streams one FF00 pending response per matching study, then Success", async () => {
  await withFindAssociation(async (association) => {
    const { final, pending } = await cFind(association, STUDY_ROOT_QR_FIND, {
      QueryRetrieveLevel: "STUDY",
      StudyDate: "20230101-20231231",
      PatientName: "",
      StudyInstanceUID: "",
      RetrieveAETitle: "",
    });
    assert.equal(final.command.status, 0x0000);
    assert.equal(final.dataSet, undefined, "the final response has no identifier");
    assert.equal(pending.length, 3);
    for (const p of pending) {
      assert.equal(p.status, 0xff00);
      assert.equal(p.identifier.QueryRetrieveLevel, "STUDY");
      assert.equal(p.identifier.RetrieveAETitle, "DIMSE");
      assert.equal(p.identifier.SpecificCharacterSet, "ISO_IR 100");
      assert.match(String(p.identifier.StudyDate), /^2023/);
    }
    assert.deepEqual(
      pending.map((p) => p.identifier.PatientName).sort(),
      ["Doe^Jane", "Doe^John", "Doe^John"],
    );
  });
});

Deno.test("Patient Root C-FIND answers at every level, hierarchically, in each transfer syntax", async () => {
  await withFindScp(async (server) => {
    for (const ts of [ExplicitVrLittleEndian, ImplicitVrLittleEndian, ExplicitVrBigEndian]) {
      const association = await connect(server.scp, ts);
      try {
        const cases: [KeywordDataSet, number][] = [
          [{ QueryRetrieveLevel: "PATIENT", PatientID: "", PatientName: "Doe*" }, 2],
          [{ QueryRetrieveLevel: "STUDY", PatientID: "PID001", StudyInstanceUID: "" }, 2],
          [
            { QueryRetrieveLevel: "SERIES", PatientID: "PID001", StudyInstanceUID: studyUid(1) },
            2,
          ],
          [
            {
              QueryRetrieveLevel: "IMAGE",
              PatientID: "PID001",
              StudyInstanceUID: studyUid(0),
              SeriesInstanceUID: `${studyUid(0)}.1`,
              SOPInstanceUID: "",
            },
            3,
          ],
        ];
        for (const [keys, expected] of cases) {
          const { final, pending } = await cFind(association, PATIENT_ROOT_QR_FIND, keys, {
            transferSyntax: ts,
          });
          assert.equal(final.command.status, 0, `${ts} ${keys.QueryRetrieveLevel}`);
          assert.equal(pending.length, expected, `${ts} ${keys.QueryRetrieveLevel}`);
        }
      } finally {
        await association.release();
      }
    }
  });
});

Deno.test("Keys below the query level give FF01 pending responses with those keys zero length", async () => {
  await withFindAssociation(async (association) => {
    const { final, pending } = await cFind(association, STUDY_ROOT_QR_FIND, {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: studyUid(0),
      SOPInstanceUID: "",
      Modality: "CT",
    });
    assert.equal(final.command.status, 0);
    assert.equal(pending.length, 1, "the series-level Modality key is not matched on");
    assert.equal(pending[0].status, 0xff01);
    assert.equal(pending[0].identifier.SOPInstanceUID, null);
    assert.equal(pending[0].identifier.Modality, null);
  });
});

Deno.test("An identifier without Query/Retrieve Level is refused with A900 and an Error Comment", async () => {
  await withFindAssociation(async (association) => {
    const { final, pending } = await cFind(association, STUDY_ROOT_QR_FIND, { PatientName: "" });
    assert.equal(pending.length, 0);
    assert.equal(final.command.status, 0xa900);
    assert.match(final.command.errorComment ?? "", /Query\/Retrieve Level/);
    assert.deepEqual(final.command.offendingElement, [0x00080052]);
    const wrongLevel = await cFind(association, STUDY_ROOT_QR_FIND, {
      QueryRetrieveLevel: "PATIENT",
    });
    assert.equal(wrongLevel.final.command.status, 0xa900, "PATIENT is not a Study Root level");
  });
});

Deno.test("A hierarchical SERIES query without Study Instance UID is refused with A900 unless relational queries were negotiated", async () => {
  await withFindScp(async (server) => {
    const keys = { QueryRetrieveLevel: "SERIES", Modality: "CT", SeriesInstanceUID: "" };
    const hierarchical = await connect(server.scp);
    try {
      const { final } = await cFind(hierarchical, STUDY_ROOT_QR_FIND, keys);
      assert.equal(final.command.status, 0xa900);
      assert.deepEqual(final.command.offendingElement, [0x0020000d]);
    } finally {
      await hierarchical.release();
    }
    const relational = await connect(server.scp, ExplicitVrLittleEndian, new Uint8Array([1]));
    try {
      assert.deepEqual(
        Array.from(
          relational.negotiated.sopClassExtendedNegotiations[0]
            .serviceClassApplicationInformation,
        ),
        [1],
      );
      const { final, pending } = await cFind(relational, STUDY_ROOT_QR_FIND, keys);
      assert.equal(final.command.status, 0);
      assert.equal(pending.length, 2);
    } finally {
      await relational.release();
    }
  });
});

Deno.test("Combined date-time matching applies when negotiated (extended negotiation byte 2)", async () => {
  await withFindScp(async (server) => {
    // Separately, the time range 10:00-09:30 holds no time; combined with the dates it means
    // 2023-01-05 10:00 to 2023-03-01 09:30.
    const keys = {
      QueryRetrieveLevel: "STUDY",
      StudyDate: "20230105-20230301",
      StudyTime: "1000-0930",
    };
    const plain = await connect(server.scp);
    try {
      const { pending } = await cFind(plain, STUDY_ROOT_QR_FIND, keys);
      assert.equal(pending.length, 0, "a time range ending before it starts matches no time");
    } finally {
      await plain.release();
    }
    const combined = await connect(server.scp, ExplicitVrLittleEndian, new Uint8Array([0, 1]));
    try {
      const { pending } = await cFind(combined, STUDY_ROOT_QR_FIND, keys);
      // 0105 10:15 (after 0105 10:00), 0220 14:00, 0301 09:00 (before 0301 09:30).
      assert.equal(pending.length, 3);
    } finally {
      await combined.release();
    }
  });
});

Deno.test("C-CANCEL-RQ between pending responses ends the C-FIND with Cancel (FE00)", async () => {
  await withFindAssociation(async (association) => {
    const pcid = association.presentationContextFor(STUDY_ROOT_QR_FIND);
    const { final, pending } = await cFind(association, STUDY_ROOT_QR_FIND, {
      QueryRetrieveLevel: "IMAGE",
      StudyInstanceUID: studyUid(0),
      SeriesInstanceUID: `${studyUid(0)}.1`,
      SOPInstanceUID: "",
    }, {
      messageId: 77,
      onMatch: (n) => {
        if (n === 1) void association.cancel(77, pcid);
      },
    });
    assert.equal(final.command.status, 0xfe00);
    assert.ok(pending.length < 3, `${pending.length} matches sent before the cancel`);
    // The association still works after a cancelled query.
    const after = await cFind(association, STUDY_ROOT_QR_FIND, {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: "",
    });
    assert.equal(after.pending.length, TOTALS.studies);
  }, { delayMs: 50 });
});

Deno.test("An identifier that cannot be read is answered C000 with an Error Comment", async () => {
  await withFindAssociation(async (association) => {
    // (0010,0010) PN with a length running past the end of the data set.
    const broken = new Uint8Array([0x10, 0x00, 0x10, 0x00, 0x50, 0x4e, 0x40, 0x00, 0x41, 0x42]);
    const { final } = await cFind(association, STUDY_ROOT_QR_FIND, broken);
    assert.equal(final.command.status, 0xc000);
    assert.match(final.command.errorComment ?? "", /Identifier cannot be read/);
  });
});

Deno.test("A query the index cannot run is answered C001 (unable to process) with an Error Comment", async () => {
  await withFindAssociation(async (association, server) => {
    await server.index.close();
    const { final, pending } = await cFind(association, STUDY_ROOT_QR_FIND, {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: "",
    });
    assert.equal(pending.length, 0);
    assert.equal(final.command.status, 0xc001);
    assert.match(final.command.errorComment ?? "", /^Unable to process: .*closed/);
  });
});

Deno.test("An identifier longer than the service takes is refused with A700 (out of resources)", async () => {
  await withFindAssociation(async (association) => {
    const { final, pending } = await cFind(association, STUDY_ROOT_QR_FIND, {
      QueryRetrieveLevel: "STUDY",
      StudyDescription: "x".repeat(2000),
    });
    assert.equal(pending.length, 0);
    assert.equal(final.command.status, 0xa700);
    assert.match(final.command.errorComment ?? "", /longer than 1024 bytes/);
    const after = await cFind(association, STUDY_ROOT_QR_FIND, {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: "",
    });
    assert.equal(after.pending.length, TOTALS.studies, "the association still works");
  }, { maxIdentifierLength: 1024 });
});

Deno.test("C-FIND identifiers mutated from a fixed seed each get a final status of PS3.4 C.4.1.1.4, and the SCP goes on answering", async () => {
  await withFindScp(async ({ scp }) => {
    const query: KeywordDataSet = {
      QueryRetrieveLevel: "STUDY",
      StudyDate: "20230101-20231231",
      PatientName: "",
      StudyInstanceUID: "",
      RetrieveAETitle: "",
    };
    const valid = await writeDataSet(fromKeywords(query), {
      transferSyntax: ExplicitVrLittleEndian,
    });
    // The same mutations in every run.
    const rng = mulberry32(20261129);
    const rnd = (n: number) => randomInt(rng, 0, n - 1);
    const finals = new Map<string, number>();
    for (let i = 0; i < 120; i++) {
      let bytes = valid.slice();
      for (let k = 0, n = 1 + rnd(6); k < n; k++) bytes[rnd(bytes.length)] = rnd(256);
      if (i % 5 === 4) bytes = bytes.subarray(0, rnd(bytes.length));
      const association = await connect(scp);
      const { final } = await cFind(association, STUDY_ROOT_QR_FIND, bytes);
      await association.release();
      const status = final.command.status ?? -1;
      const key = status.toString(16).padStart(4, "0");
      finals.set(key, (finals.get(key) ?? 0) + 1);
      assert.ok(
        status === 0x0000 || status === 0xa700 || status === 0xa900 ||
          (status >= 0xc000 && status <= 0xcfff),
        `query ${i}: status ${key}`,
      );
    }
    assert.ok(finals.size >= 2, `statuses: ${[...finals.keys()].join(" ")}`);
    const association = await connect(scp);
    const { final, pending } = await cFind(association, STUDY_ROOT_QR_FIND, query);
    await association.release();
    assert.equal(final.command.status, 0x0000);
    assert.equal(pending.length, 3);
  });
});
