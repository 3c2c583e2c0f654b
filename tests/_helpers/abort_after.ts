// Drains the matches of a C-FIND (Association.find) while cancelling it part way.

/** How many matches came and what the find ended with. */
export interface DrainedFind<R> {
  /** Matches received, those after the abort included. */
  count: number;
  /** The find's final result. */
  result: R;
}

/**
 * Reads every match of `matches`, aborting `controller` (the find's signal) once `after`
 * matches have come, and resolves with the count and the final result.
 */
export async function drainAbortingAfter<T, R>(
  matches: AsyncIterator<T, R>,
  controller: AbortController,
  after: number,
): Promise<DrainedFind<R>> {
  let count = 0;
  while (true) {
    const next = await matches.next();
    if (next.done) return { count, result: next.value };
    if (++count >= after) controller.abort();
  }
}
