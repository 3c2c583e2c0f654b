/**
 * A one-line progress bar for long transfers on a terminal: instances, bytes and rate, redrawn
 * in place with a carriage return at most every `minIntervalMs`.
 *
 * @module
 */

/** Options of {@linkcode ProgressBar}. */
export interface ProgressBarOptions {
  /** Instances to send in all. */
  totalInstances: number;
  /** Bytes to send in all. */
  totalBytes: number;
  /** Writes text without a newline; default: to stdout. */
  write?: (text: string) => void;
  /** Clock in ms; default performance.now. */
  now?: () => number;
  /** Least time between two redraws in ms; default 100 (ten a second). */
  minIntervalMs?: number;
  /** Width of the bar in characters; default 24. */
  barWidth?: number;
}

const encoder = new TextEncoder();

function writeStdout(text: string): void {
  const bytes = encoder.encode(text);
  let at = 0;
  while (at < bytes.length) at += Deno.stdout.writeSync(bytes.subarray(at));
}

/** Bytes as a short human figure: B, KiB, MiB or GiB with one decimal. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Instances done, bytes sent and rate, drawn on one terminal line. */
export class ProgressBar {
  readonly #options: Required<Omit<ProgressBarOptions, "write" | "now">>;
  readonly #write: (text: string) => void;
  readonly #now: () => number;
  readonly #started: number;
  #lastDraw = -Infinity;
  #instances = 0;
  #bytes = 0;
  #shown = false;

  /** Creates the bar; nothing is drawn until the first update. */
  constructor(options: ProgressBarOptions) {
    this.#options = {
      totalInstances: options.totalInstances,
      totalBytes: options.totalBytes,
      minIntervalMs: options.minIntervalMs ?? 100,
      barWidth: options.barWidth ?? 24,
    };
    this.#write = options.write ?? writeStdout;
    this.#now = options.now ?? (() => performance.now());
    this.#started = this.#now();
  }

  /** The line as it would be drawn now. */
  render(): string {
    const { totalInstances, totalBytes, barWidth } = this.#options;
    const fraction = totalBytes > 0
      ? Math.min(1, this.#bytes / totalBytes)
      : totalInstances > 0
      ? this.#instances / totalInstances
      : 1;
    const filled = Math.round(fraction * barWidth);
    const seconds = Math.max(0.001, (this.#now() - this.#started) / 1000);
    return `[${"#".repeat(filled)}${"-".repeat(barWidth - filled)}] ` +
      `${this.#instances}/${totalInstances} instances  ` +
      `${formatBytes(this.#bytes)} / ${formatBytes(totalBytes)}  ` +
      `${formatBytes(this.#bytes / seconds)}/s`;
  }

  /** Records progress; redraws unless the last redraw was less than minIntervalMs ago. */
  update(instances: number, bytes: number): void {
    this.#instances = instances;
    this.#bytes = bytes;
    const now = this.#now();
    if (now - this.#lastDraw < this.#options.minIntervalMs) return;
    this.#draw(now);
  }

  /** Adds bytes sent to the count (and maybe redraws). */
  addBytes(count: number): void {
    this.update(this.#instances, this.#bytes + count);
  }

  /** Adds one finished instance (and maybe redraws). */
  addInstance(): void {
    this.update(this.#instances + 1, this.#bytes);
  }

  #draw(now: number): void {
    this.#lastDraw = now;
    this.#shown = true;
    // \r back to the start of the line, ESC[K erases what a longer line left behind.
    this.#write(`\r${this.render()}\x1b[K`);
  }

  /** Erases the line, so that another line can be printed; the next update redraws it. */
  clear(): void {
    if (!this.#shown) return;
    this.#write("\r\x1b[K");
    this.#shown = false;
    this.#lastDraw = -Infinity;
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    this.#draw(this.#now());
    this.#write("\n");
    this.#shown = false;
  }
}
