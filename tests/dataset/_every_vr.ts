// A data set with one attribute of every VR of PS3.5 Table 6.2-1, nested sequences, private
// tags and native pixel data; tags chosen so that both our dictionary and DCMTK's know them.
import type { DataSet } from "../../src/dataset/dataset.ts";
import { toBase64 } from "../../src/dataset/value.ts";

function bin(...bytes: number[]): string {
  return toBase64(new Uint8Array(bytes));
}

/** One attribute per VR, plus nesting, private elements and empty values. */
export function everyVrDataSet(): DataSet {
  return {
    "00080005": { vr: "CS", Value: ["ISO_IR 192"] },
    "00080008": { vr: "CS", Value: ["ORIGINAL", null, "AXIAL"] },
    "00080016": { vr: "UI", Value: ["1.2.840.10008.5.1.4.1.1.7"] },
    "00080018": { vr: "UI", Value: ["1.2.826.0.1.3680043.2.1125.1.42"] },
    "00080020": { vr: "DA", Value: ["20260101"] },
    "0008002A": { vr: "DT", Value: ["20260101120000.5"] },
    "00080030": { vr: "TM", Value: ["120000"] },
    "00080054": { vr: "AE", Value: ["STORESCP", "ARCHIVE"] },
    "00080060": { vr: "CS", Value: ["OT"] },
    "00080081": { vr: "ST", Value: ["  1 Main Street\\Suite 2"] },
    "00080108": { vr: "LT", Value: ["Long text with a\\backslash"] },
    "0008010E": { vr: "UR", Value: ["http://example.org/codes"] },
    "00080119": { vr: "UC", Value: ["a-very-long-code-value"] },
    "00081163": { vr: "FD", Value: [1.5, 2.25] },
    "00089459": { vr: "FL", Value: [0.5] },
    "00081160": { vr: "IS", Value: [1, -2, 3] },
    "00090010": { vr: "LO", Value: ["ACME 1.0"] },
    "00091001": { vr: "UN", InlineBinary: bin(1, 2, 3, 4) },
    "00100010": {
      vr: "PN",
      Value: [{ Alphabetic: "Müller^Hans", Ideographic: "ミュラー^ハンス" }],
    },
    "00100020": { vr: "LO", Value: ["ID-0001"] },
    "00100030": { vr: "DA" },
    "00101010": { vr: "AS", Value: ["042Y"] },
    "00180050": { vr: "DS", Value: [2.5] },
    "00186020": { vr: "SL", Value: [-100000, 7] },
    "00189219": { vr: "SS", Value: [-3] },
    "00181638": {
      vr: "OF",
      InlineBinary: toBase64(new Uint8Array(new Float32Array([1.5, -2]).buffer)),
    },
    "00280002": { vr: "US", Value: [1] },
    "00280009": { vr: "AT", Value: ["00181063", "00181065"] },
    "00280010": { vr: "US", Value: [2] },
    "00280011": { vr: "US", Value: [2] },
    "00280100": { vr: "US", Value: [16] },
    "00280030": { vr: "DS", Value: [0.25, 0.5] },
    "00209228": { vr: "UL", Value: [4000000000] },
    "00281201": { vr: "OW", InlineBinary: bin(0x01, 0x02, 0x03, 0x04) },
    "00400275": {
      vr: "SQ",
      Value: [
        {
          "00400008": {
            vr: "SQ",
            Value: [
              {
                "00080100": { vr: "SH", Value: ["C1"] },
                "00080102": { vr: "SH", Value: ["99TEST"] },
                "00080104": { vr: "LO", Value: ["Code one"] },
              },
              {},
            ],
          },
          "00401001": { vr: "SH", Value: ["RP1"] },
        },
        { "00401001": { vr: "SH", Value: ["RP2"] } },
      ],
    },
    "0040A160": { vr: "UT", Value: ["Unlimited text, über alles"] },
    "00420011": { vr: "OB", InlineBinary: bin(0x25, 0x50, 0x44, 0x46) },
    "00660022": {
      vr: "OD",
      InlineBinary: toBase64(new Uint8Array(new Float64Array([0.125]).buffer)),
    },
    "00660129": { vr: "OL", InlineBinary: bin(1, 0, 0, 0, 2, 0, 0, 0) },
    "00720081": { vr: "OV", InlineBinary: bin(1, 2, 3, 4, 5, 6, 7, 8) },
    "00720082": { vr: "SV", Value: [-5, 7] },
    "00720083": { vr: "UV", Value: [9, "18446744073709551615"] },
    "7FE00010": { vr: "OW", InlineBinary: bin(1, 2, 3, 4, 5, 6, 7, 8) },
  };
}
