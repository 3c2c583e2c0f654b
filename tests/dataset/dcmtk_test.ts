// Needs DCMTK (dump2dcm, dcmdump): skipped loudly when missing, a failure under CI=true.
import assert from "node:assert/strict";
import { readWholePart10, writePart10 } from "../../src/dataset/part10.ts";
import {
  DeflatedExplicitVrLittleEndian,
  ExplicitVrBigEndian,
  ExplicitVrLittleEndian,
  ImplicitVrLittleEndian,
} from "../../src/dataset/transfer_syntax.ts";
import { dcmtkAvailable, dumpLines, parseDcmdump, runDcmtk } from "./_dcmdump.ts";
import { everyVrDataSet } from "./_every_vr.ts";
import { withTempDir } from "../_helpers/temp_dir.ts";

const DCMTK = dcmtkAvailable();

const DUMP = `
(0008,0005) CS [ISO_IR 192]
(0008,0008) CS [DERIVED\\SECONDARY]
(0008,0016) UI [1.2.840.10008.5.1.4.1.1.7]
(0008,0018) UI [1.2.826.0.1.3680043.2.1125.9.1]
(0008,0020) DA [20251231]
(0008,0030) TM [235959.123]
(0008,0054) AE [ARCHIVE]
(0008,0081) ST [Somewhere 1]
(0009,0010) LO [ACME 1.0]
(0009,1001) UN 0a\\0b\\0c\\0d
(0010,0010) PN [Doe^Jane=ドウ^ジェーン]
(0010,0020) LO [PID-42]
(0010,0030) DA (no value available)
(0010,1010) AS [033Y]
(0018,0050) DS [1.25]
(0018,6020) SL -7\\8
(0018,9219) SS -1
(0008,1163) FD 1.5\\2.25
(0008,9459) FL 0.5
(0020,0013) IS [12]
(0028,0009) AT (0018,1063)
(0028,0010) US 2
(0028,0011) US 2
(0028,1201) OW 0102\\0304
(0040,0275) SQ (Sequence with undefined length #=2)
  (fffe,e000) na (Item with undefined length #=2)
    (0040,0008) SQ (Sequence with undefined length #=1)
      (fffe,e000) na (Item with undefined length #=2)
        (0008,0100) SH [C1]
        (0008,0104) LO [Code one]
      (fffe,e00d) na (ItemDelimitationItem)
    (fffe,e0dd) na (SequenceDelimitationItem)
    (0040,1001) SH [RP1]
  (fffe,e00d) na (ItemDelimitationItem)
  (fffe,e000) na (Item with undefined length #=1)
    (0040,1001) SH [RP2]
  (fffe,e00d) na (ItemDelimitationItem)
(fffe,e0dd) na (SequenceDelimitationItem)
(0040,a160) UT [Unlimited text]
(0072,0082) SV -5\\7
(0072,0083) UV 9
(7fe0,0010) OW 0102\\0304\\0506\\0708
`;

const DUMP_OPTIONS = [
  ["explicit VR little endian", "+te"],
  ["implicit VR little endian", "+ti"],
  ["explicit VR big endian", "+tb"],
  ["deflated explicit VR little endian", "+td"],
] as const;

for (const [name, option] of DUMP_OPTIONS) {
  for (const lengths of [["undefined", "+e"], ["defined", "-e"]] as const) {
    Deno.test({
      name: `a dump2dcm file in ${name} with ${
        lengths[0]
      } lengths reads as dcmdump shows it (DCMTK)`,
      ignore: !DCMTK,
      async fn() {
        await withTempDir(async (dir) => {
          await Deno.writeTextFile(`${dir}/in.dump`, DUMP);
          const made = await runDcmtk("dump2dcm", [
            "-q",
            option,
            lengths[1],
            `${dir}/in.dump`,
            `${dir}/in.dcm`,
          ]);
          assert.equal(made.code, 0, made.stderr);
          const shown = await runDcmtk("dcmdump", ["-E", "-Un", "+L", `${dir}/in.dcm`]);
          assert.equal(shown.code, 0, shown.stderr);
          const file = await readWholePart10(Deno.openSync(`${dir}/in.dcm`).readable);
          assert.deepEqual(dumpLines(file.dataSet), parseDcmdump(shown.stdout));
        });
      },
    });
  }
}

const WRITE_SYNTAXES = [
  ["explicit VR little endian", ExplicitVrLittleEndian],
  ["implicit VR little endian", ImplicitVrLittleEndian],
  ["explicit VR big endian", ExplicitVrBigEndian],
  ["deflated explicit VR little endian", DeflatedExplicitVrLittleEndian],
] as const;

for (const [name, uid] of WRITE_SYNTAXES) {
  for (const sequenceLength of ["defined", "undefined"] as const) {
    Deno.test({
      name:
        `our ${name} Part 10 file with ${sequenceLength} length sequences passes dcmdump -E with the same values (DCMTK)`,
      ignore: !DCMTK,
      async fn() {
        await withTempDir(async (dir) => {
          const dataSet = everyVrDataSet();
          const bytes = await writePart10(dataSet, {
            transferSyntaxUid: uid,
            sequenceLength,
            sourceApplicationEntityTitle: "DIMSE",
          });
          await Deno.writeFile(`${dir}/out.dcm`, bytes);
          const shown = await runDcmtk("dcmdump", ["-E", "-Un", "+L", `${dir}/out.dcm`]);
          assert.equal(shown.code, 0, shown.stderr);
          assert.equal(shown.stderr, "", "dcmdump printed warnings");
          assert.match(
            shown.stdout,
            new RegExp(`\\(0002,0010\\) UI \\[${uid.replaceAll(".", "\\.")}\\]`),
          );
          assert.match(shown.stdout, /\(0002,0016\) AE \[DIMSE\]/);
          const expected = dumpLines(dataSet).map((line) =>
            // Private data in implicit VR has no VR on the wire: DCMTK shows it as UN too.
            line
          );
          assert.deepEqual(parseDcmdump(shown.stdout), expected);
        });
      },
    });
  }
}
