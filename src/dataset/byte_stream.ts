/**
 * A pull reader over an async source of byte chunks split anywhere: reads exact byte counts,
 * peeks, skips and streams long values without holding them.
 *
 * @module
 */

import { DataSetError } from "./errors.ts";

const EMPTY = new Uint8Array(0);

/** Buffered reader over chunks; `position` counts bytes consumed since the start. */
export class ByteStream {
  #iterator: AsyncIterator<Uint8Array>;
  #buffer: Uint8Array = EMPTY;
  #start = 0;
  #done = false;
  /** Bytes consumed so far. */
  position = 0;

  /** Wraps an async (or sync) iterable of chunks. */
  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.#iterator = Symbol.asyncIterator in source
      ? (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
      : toAsync(source as Iterable<Uint8Array>);
  }

  /** Bytes buffered and not yet consumed. */
  get available(): number {
    return this.#buffer.length - this.#start;
  }

  async #pull(): Promise<boolean> {
    while (!this.#done) {
      const next = await this.#iterator.next();
      if (next.done) {
        this.#done = true;
        return false;
      }
      const chunk = next.value;
      if (chunk.length === 0) continue;
      const rest = this.#buffer.subarray(this.#start);
      if (rest.length === 0) {
        this.#buffer = chunk;
      } else {
        const joined = new Uint8Array(rest.length + chunk.length);
        joined.set(rest, 0);
        joined.set(chunk, rest.length);
        this.#buffer = joined;
      }
      this.#start = 0;
      return true;
    }
    return false;
  }

  /** Ensures at least n bytes are buffered; false when the source ends first. */
  async fill(n: number): Promise<boolean> {
    while (this.available < n) {
      if (!(await this.#pull())) return false;
    }
    return true;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  /** The next n bytes without consuming them (a view valid until the next read). */
  async peek(n: number): Promise<Uint8Array | undefined> {
    if (!(await this.fill(n))) return undefined;
    return this.#buffer.subarray(this.#start, this.#start + n);
  }

  /** Consumes exactly n bytes of a small header; throws at end of data. */
  async read(n: number): Promise<Uint8Array> {
    if (!(await this.fill(n))) {
      throw new DataSetError("unexpected-end-of-data", `Data ended inside a ${n}-byte field`, {
        offset: this.position + this.available,
      });
    }
    const out = this.#buffer.subarray(this.#start, this.#start + n);
    this.#start += n;
    this.position += n;
    return out;
  }

  /** Consumes exactly n bytes into a fresh array, pulling chunks straight into it. */
  async readCopy(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let filled = 0;
    for await (const piece of this.pieces(n)) {
      out.set(piece, filled);
      filled += piece.length;
    }
    return out;
  }

  /** Consumes n bytes as the chunks they arrive in; each view is valid until the next read. */
  async *pieces(n: number): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (this.available === 0 && !(await this.#pull())) {
        throw new DataSetError(
          "unexpected-end-of-data",
          `Data ended ${left} bytes before the end of a value`,
          {
            offset: this.position,
          },
        );
      }
      const take = Math.min(left, this.available);
      const piece = this.#buffer.subarray(this.#start, this.#start + take);
      this.#start += take;
      this.position += take;
      left -= take;
      yield piece;
    }
  }

  /** Consumes n bytes without keeping them. */
  async skip(n: number): Promise<void> {
    for await (const _ of this.pieces(n)) { /* discarded */ }
  }

  /** Everything not yet consumed: the buffered bytes, then the rest of the source. */
  async *remaining(): AsyncGenerator<Uint8Array> {
    if (this.available > 0) {
      const rest = this.#buffer.subarray(this.#start);
      this.position += rest.length;
      this.#start = this.#buffer.length;
      yield rest;
    }
    while (await this.#pull()) {
      const rest = this.#buffer.subarray(this.#start);
      this.position += rest.length;
      this.#start = this.#buffer.length;
      yield rest;
    }
  }
}

async function* toAsync(source: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* source;
}
