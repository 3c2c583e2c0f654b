// Loads the embedded Wasm codec. The module is compiled once; each stateful user (a PDU stream
// reader, a P-DATA writer) gets an instance of its own, so associations never share codec state.
import { WASM_BASE64 } from "./_wasm_module.ts";

/** The raw exports of one codec instance: functions of integers, and its linear memory. */
export interface CodecInstance {
  /** The instance's linear memory; views of it go stale when it grows, so take them fresh. */
  readonly memory: WebAssembly.Memory;
  /** Every exported function of the module, by name. */
  readonly fn: Record<string, (...args: number[]) => number>;
}

let compiled: WebAssembly.Module | undefined;

/** `Uint8Array.fromBase64` (ES2026), where the runtime has it. */
const fromBase64 = (Uint8Array as unknown as {
  fromBase64?: (text: string) => Uint8Array<ArrayBuffer>;
}).fromBase64;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  // The built-in decoder takes a fraction of a millisecond; atob and a loop take one or more,
  // on the way to every first association of a process.
  if (fromBase64 !== undefined) return fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Creates a fresh instance of the codec, with memory of its own. */
export function newCodecInstance(): CodecInstance {
  compiled ??= new WebAssembly.Module(decodeBase64(WASM_BASE64));
  const instance = new WebAssembly.Instance(compiled, {
    env: {
      abort(_msg: number, _file: number, line: number, column: number): never {
        throw new Error(`Wasm codec aborted at ${line}:${column}`);
      },
    },
  });
  const exports = instance.exports as Record<string, unknown>;
  return {
    memory: exports.memory as WebAssembly.Memory,
    fn: exports as unknown as Record<string, (...args: number[]) => number>,
  };
}

let shared: CodecInstance | undefined;

/** The instance used for stateless calls (encoding and decoding whole PDUs or command sets). */
export function sharedCodecInstance(): CodecInstance {
  shared ??= newCodecInstance();
  return shared;
}
