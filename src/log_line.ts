/**
 * Log lines that stay one line whatever a peer sends: AE titles, UIDs and other values taken
 * from the wire are text of the peer's choosing, and a line feed or terminal control sequence in
 * one of them must not start a line of its own or reach the terminal as a control.
 *
 * @module
 */

/** C0 controls, DEL and C1 controls (which terminals also act on). */
// deno-lint-ignore no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROLS = new RegExp(CONTROL.source, "g");

/**
 * `text` with every control character (C0, DEL, C1) written as `\xHH`: one line of printable
 * text, whatever `text` holds.
 */
export function printable(text: string): string {
  if (!CONTROL.test(text)) return text;
  return text.replace(CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/**
 * The log function of a service or index: `log` (default `console.error`) given each line
 * through {@linkcode printable}.
 */
export function logLines(log?: (line: string) => void): (line: string) => void {
  const sink = log ?? ((line: string) => console.error(line));
  return (line) => sink(printable(line));
}
