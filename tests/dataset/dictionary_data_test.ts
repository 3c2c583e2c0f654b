// The dictionary table is generated from dcmjs: it must be exactly what the generator gives
// now, and answer every lookup as dcmjs's own dictionary does.
import assert from "node:assert/strict";
import dcmjs from "dcmjs";
import { generateDictionaryModule } from "../../src/dataset/_dictionary_generate.ts";
import { DICTIONARY } from "../../src/dataset/_dictionary_data.ts";
import { entryOf, tagOf, vrOf } from "../../src/dataset/dictionary.ts";
import { tagToString } from "../../src/dataset/tag.ts";

interface SourceEntry {
  tag: string;
  vr: string;
  vm: string;
  name: string;
}

const source = dcmjs.data.DicomMetaDictionary as unknown as {
  dictionary: Record<string, SourceEntry | undefined>;
  nameMap: Record<string, SourceEntry | undefined>;
};

/**
 * What dcmjs says of a tag, in our entry's terms (undefined when it does not know it); odd
 * groups are private (PS3.5 §7.8), never in the standard dictionary, whatever range holds them.
 */
function expected(tag: number) {
  if (Math.floor(tag / 0x10000) % 2 === 1) return undefined;
  const raw = source.dictionary[tagToString(tag)];
  return raw === undefined ? undefined : { vm: raw.vm, keyword: raw.name, code: raw.vr };
}

function actual(tag: number) {
  const entry = entryOf(tag);
  return entry === undefined ? undefined : { vm: entry.vm, keyword: entry.keyword };
}

Deno.test("the committed dictionary table is exactly what the generator makes from dcmjs now", async () => {
  const committed = await Deno.readTextFile(
    new URL("../../src/dataset/_dictionary_data.ts", import.meta.url),
  );
  assert.equal(committed, generateDictionaryModule(), "run `deno task build:dictionary`");
});

Deno.test("every dictionary entry, and every group around a repeating-group range, looks up as in dcmjs", () => {
  const lines = DICTIONARY.split("\n");
  assert.ok(lines.length > 5000, `${lines.length} entries`);
  let ranges = 0;
  for (const line of lines) {
    const tag = parseInt(line.slice(0, 8), 16);
    const want = expected(tag);
    assert.ok(want, `dcmjs knows ${tagToString(tag)}`);
    assert.deepEqual(actual(tag), { vm: want.vm, keyword: want.keyword }, tagToString(tag));
    if (line[8] !== "-") continue;
    ranges++;
    const group = Math.floor(tag / 0x10000);
    for (let g = Math.max(group - 0x100, 0); g <= Math.min(group + 0x1ff, 0xffff); g++) {
      const probe = g * 0x10000 + (tag & 0xffff);
      const probeWant = expected(probe);
      assert.deepEqual(
        actual(probe),
        probeWant && { vm: probeWant.vm, keyword: probeWant.keyword },
        tagToString(probe),
      );
    }
  }
  assert.ok(ranges >= 60, `${ranges} repeating-group ranges`);
});

Deno.test("every keyword resolves to the tag dcmjs's name map gives, and VRs follow its codes", () => {
  const names = Object.keys(source.nameMap);
  assert.ok(names.length > 5000);
  for (const name of names) {
    const tag = tagOf(name);
    assert.equal(tag === undefined ? undefined : tagToString(tag), source.nameMap[name]!.tag, name);
  }
  assert.equal(tagOf("NoSuchKeyword"), undefined);
  // dcmjs codes alternatives: ox (OB or OW), xs (US or SS), na (no VR).
  assert.equal(vrOf(0x7fe00010), "OW");
  assert.deepEqual(entryOf(0x7fe00010)?.vrs, ["OW", "OB"]);
  assert.equal(vrOf(0x00280106), "US");
  assert.deepEqual(entryOf(0xfffee000)?.vrs, []);
  assert.equal(vrOf(0x60023000), "OW", "(6002,3000) Overlay Data, a repeating group");
  assert.equal(entryOf(0x60023000)?.keyword, "OverlayData");
  assert.equal(entryOf(0x60023000)?.tag, 0x60023000);
  assert.equal(vrOf(0x00091010), "UN", "private");
});
