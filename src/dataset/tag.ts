/**
 * Data element tags (PS3.5 §7.1): a tag is held as one unsigned 32-bit number, group in the
 * high 16 bits and element number in the low 16 bits.
 *
 * @module
 */

/** A data element tag as `(group << 16) | element`, always non-negative. */
export type Tag = number;

/** Builds a tag from its group and element numbers. */
export function tagFrom(group: number, element: number): Tag {
  return ((group & 0xffff) * 0x10000) + (element & 0xffff);
}

/** The group number of a tag. */
export function groupOf(tag: Tag): number {
  return Math.floor(tag / 0x10000) & 0xffff;
}

/** The element number of a tag. */
export function elementOf(tag: Tag): number {
  return tag & 0xffff;
}

const HEX_OF_TAG = new Map<Tag, string>();

/** The tag as eight upper-case hex digits, the key form of the DICOM JSON model (PS3.18 §F.2.1). */
export function tagToHex(tag: Tag): string {
  let hex = HEX_OF_TAG.get(tag);
  if (hex === undefined) {
    hex = tag.toString(16).toUpperCase().padStart(8, "0");
    // Data sets reuse a few thousand tags; private and odd ones beyond that are not kept.
    if (HEX_OF_TAG.size < 16384) HEX_OF_TAG.set(tag, hex);
  }
  return hex;
}

/** The tag as `(gggg,eeee)`, the form PS3.6 and DCMTK print. */
export function tagToString(tag: Tag): string {
  const h = tagToHex(tag);
  return `(${h.slice(0, 4)},${h.slice(4)})`;
}

/** Parses `ggggeeee` or `(gggg,eeee)`; undefined when the text is not a tag. */
export function parseTag(text: string): Tag | undefined {
  const m = /^\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?$/.exec(text);
  if (!m) return undefined;
  return tagFrom(parseInt(m[1], 16), parseInt(m[2], 16));
}

/** True for tags in an odd group above 0008, the private data elements of PS3.5 §7.8. */
export function isPrivateTag(tag: Tag): boolean {
  const group = groupOf(tag);
  return (group & 1) === 1 && group > 0x0008 && group !== 0xffff;
}

/** True for a Private Creator data element, (gggg,0010)–(gggg,00FF) in a private group (PS3.5 §7.8.1). */
export function isPrivateCreatorTag(tag: Tag): boolean {
  const element = elementOf(tag);
  return isPrivateTag(tag) && element >= 0x10 && element <= 0xff;
}

/** True for a group length element (gggg,0000) (PS3.5 §7.2). */
export function isGroupLengthTag(tag: Tag): boolean {
  return elementOf(tag) === 0;
}

/** (FFFE,E000) Item (PS3.5 §7.5). */
export const ItemTag: Tag = 0xfffee000;
/** (FFFE,E00D) Item Delimitation Item (PS3.5 §7.5). */
export const ItemDelimitationItemTag: Tag = 0xfffee00d;
/** (FFFE,E0DD) Sequence Delimitation Item (PS3.5 §7.5). */
export const SequenceDelimitationItemTag: Tag = 0xfffee0dd;
/** (7FE0,0010) Pixel Data. */
export const PixelDataTag: Tag = 0x7fe00010;
/** (0008,0005) Specific Character Set. */
export const SpecificCharacterSetTag: Tag = 0x00080005;
/** (0002,0010) Transfer Syntax UID. */
export const TransferSyntaxUidTag: Tag = 0x00020010;
