/**
 * Untrusted text (file names, error messages that repeat them) made safe for a log line: a name
 * may hold a newline, which would forge a second line, or terminal escape sequences, which would
 * rewrite what the reader sees. Control characters (C0, DEL, C1) and the Unicode line and
 * paragraph separators are shown as escapes instead, and so is U+FFFD, which is what Deno puts
 * in place of each byte of a file name that is not valid UTF-8: `\ufffd` says so plainly, where
 * the glyph would pass for a printable character.
 */

// deno-lint-ignore no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufffd]/g;
const SHORT: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** `text` with every control character escaped (`\n`, `\t`, `\u001b`), on one line. */
export function printable(text: string): string {
  return text.replace(
    UNSAFE,
    (ch) => SHORT[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * `text` in double quotes, as `printable` with `"` and `\` escaped too, so that where the name
 * ends is never in doubt: `a "b".png` becomes `"a \"b\".png"`.
 */
export function quote(text: string): string {
  return `"${printable(text.replace(/[\\"]/g, (ch) => `\\${ch}`))}"`;
}
