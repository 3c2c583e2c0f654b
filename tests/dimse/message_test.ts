// MessageAssembler: messages from PDVs, each data set a stream of the bytes as they arrive.
import assert from "node:assert/strict";
import { CommandField } from "../../src/dimse/command.ts";
import { encodeCommandSet } from "../../src/dimse/command_codec.ts";
import { type DimseMessage, MessageAssembler } from "../../src/dimse/message.ts";

const CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2";

/** An assembler on context 1 and the messages it delivered. */
function assembler(): { assembler: MessageAssembler; messages: DimseMessage[] } {
  const messages: DimseMessage[] = [];
  return {
    assembler: new MessageAssembler({
      isAccepted: (id) => id === 1,
      onMessage: (message) => messages.push(message),
    }),
    messages,
  };
}

/** Delivers one PDV of a command (whole) or data set fragment, as the upper layer does. */
async function pdv(
  assembler: MessageAssembler,
  isCommand: boolean,
  bytes: Uint8Array,
  isLast: boolean,
): Promise<void> {
  assembler.pdv({ presentationContextId: 1, isCommand, isLast, length: bytes.length });
  await assembler.pdvData({ bytes, endOfPdv: true });
}

/** The command of a C-STORE-RQ with a data set. */
function storeRq(messageId: number): Uint8Array {
  return encodeCommandSet({
    affectedSopClassUid: CT_IMAGE,
    commandField: CommandField.C_STORE_RQ,
    messageId,
    priority: 0,
    commandDataSetType: 0,
    affectedSopInstanceUid: `1.2.826.0.1.3680043.10.1.${messageId}`,
  });
}

async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<number[]> {
  return [...new Uint8Array(await new Response(stream).arrayBuffer())];
}

/** Rejects when `promise` does not settle within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

Deno.test("a data set's stream delivers every fragment in order and ends with the last", async () => {
  const { assembler: a, messages } = assembler();
  await pdv(a, true, storeRq(1), true);
  assert.equal(messages.length, 1, "delivered once its command is complete");
  const reading = bytesOf(messages[0].dataSet!);
  await pdv(a, false, new Uint8Array([1, 2]), false);
  await pdv(a, false, new Uint8Array([3, 4, 5, 6]), false);
  await pdv(a, false, new Uint8Array([7, 8]), true);
  assert.deepEqual(await within(reading, 1000, "the data set"), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(a.receivingDataSet, false);
});

Deno.test("a cancelled data set's remaining fragments are dropped and the next message comes through", async () => {
  const { assembler: a, messages } = assembler();
  await pdv(a, true, storeRq(1), true);
  await pdv(a, false, new Uint8Array([1, 2]), false);
  await messages[0].dataSet!.cancel();
  await pdv(a, false, new Uint8Array([3, 4]), true);
  await pdv(a, true, storeRq(2), true);
  const reading = bytesOf(messages[1].dataSet!);
  await pdv(a, false, new Uint8Array([5, 6]), true);
  assert.deepEqual(await within(reading, 1000, "the second data set"), [5, 6]);
});

Deno.test("cancelling an earlier message's unread data set leaves the one being received whole", async () => {
  const { assembler: a, messages } = assembler();
  // With an asynchronous operations window, the first request's handler may let go of its data
  // set, received whole but not read, while the second request's data set arrives.
  await pdv(a, true, storeRq(1), true);
  await pdv(a, false, new Uint8Array([1, 2]), true);
  await pdv(a, true, storeRq(2), true);
  await pdv(a, false, new Uint8Array([3, 4]), false);
  await messages[0].dataSet!.cancel();
  await pdv(a, false, new Uint8Array([5, 6]), true);
  assert.deepEqual(await within(bytesOf(messages[1].dataSet!), 1000, "the second data set"), [
    3,
    4,
    5,
    6,
  ]);
});

Deno.test("a data set being received errors with the association's end", async () => {
  const { assembler: a, messages } = assembler();
  await pdv(a, true, storeRq(1), true);
  await pdv(a, false, new Uint8Array([1, 2]), false);
  const reader = messages[0].dataSet!.getReader();
  assert.deepEqual([...(await reader.read()).value!], [1, 2]);
  const ended = new Error("Association aborted");
  a.fail(ended);
  await assert.rejects(reader.read(), (e) => e === ended);
});
