import assert from "node:assert/strict";
import { decodeLatin1, encodeLatin1 } from "../../src/dataset/character_set.ts";

Deno.test("decodeLatin1 maps each byte to the character of that code, at every length", () => {
  // Lengths around the one-call limit (8 KiB) and beyond, every byte value from 0 to 255.
  for (const length of [0, 1, 64, 65, 8191, 8192, 8193, 20000]) {
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) bytes[i] = (i * 7 + 3) & 0xff;
    const text = decodeLatin1(bytes);
    assert.equal(text.length, length);
    for (let i = 0; i < length; i++) assert.equal(text.charCodeAt(i), bytes[i]);
    assert.deepEqual(encodeLatin1(text), bytes);
  }
  assert.equal(decodeLatin1(new Uint8Array([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72])), "Müller");
});
