/**
 * Binding to the Wasm command set codec (PS3.7 §6.3, Annex E): a {@link CommandSet} to the
 * bytes of group 0000 in implicit VR little endian and back. The Wasm module alone knows the
 * byte layout; `_command_set_codec.ts` maps elements to the fields of `command.ts`.
 *
 * @module
 */
import type { CommandSet } from "./command.ts";
import { decodeCommandSet as decode, encodeCommandSetView } from "./_command_set_codec.ts";

export type { CommandSet };

/**
 * Encodes a command set: group 0000, implicit VR little endian, (0000,0000) Command Group Length
 * first, ascending tags, even lengths (UI padded with NUL, AE/LO with a space). Fields left
 * undefined are not sent. Returns an owned copy; throws {@link CommandSetError} for a value that
 * does not fit its VR.
 */
export function encodeCommandSet(command: CommandSet): Uint8Array {
  return encodeCommandSetView(command).slice();
}

/**
 * Decodes a command set (the reassembled command fragments of one message). Padding is
 * stripped; unknown and retired group 0000 elements are ignored. Throws
 * {@link CommandSetError} for an element that overruns the bytes, an element outside group
 * 0000, a missing or wrong Command Group Length, or a missing Command Field or Command Data
 * Set Type.
 */
export function decodeCommandSet(bytes: Uint8Array): CommandSet {
  return decode(bytes);
}
