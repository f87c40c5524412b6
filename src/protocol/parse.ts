/**
 * The one way a value from outside the process (a bus message, a KV value, a JSON file) becomes
 * a typed value: a valibot schema from this module checks it, and a failure is a
 * `ProtocolError` whose message names what was read, the field, what was expected and the value
 * (escaped: a forged field must not forge a log line). Callers turn it into one `errors` event
 * and one log line (`refuseMessage`), never a crash.
 *
 * valibot, not zod: no dependencies, a few KB for the schemas used here, and every issue carries
 * its path and input, which is what the messages below are built from (zod 4 would do as well;
 * both are in the npm registry and load under Deno with `npm:`).
 */
import * as v from "valibot";
import { printable } from "../util/quote.ts";

/** A schema of this module. */
// deno-lint-ignore no-explicit-any
export type Schema<T = any> = v.GenericSchema<unknown, T>;

/** A value from outside that does not follow the protocol. */
export class ProtocolError extends TypeError {
  override name = "ProtocolError";
}

/** Longest rendering of a refused value in a message. */
const SHOWN = 80;

/** `value` as a message shows it: strings quoted, everything escaped and cut short. */
export function shown(value: unknown): string {
  let text: string;
  if (typeof value === "string") text = JSON.stringify(value);
  else if (typeof value === "number" || typeof value === "boolean" || value == null) {
    text = String(value);
  } else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  }
  text = printable(text);
  return text.length > SHOWN ? `${text.slice(0, SHOWN)}...` : text;
}

/** `moved[0].from`, `losses.total`: where in the value an issue is. */
function pathOf(issue: v.BaseIssue<unknown>): string {
  let out = "";
  for (const item of issue.path ?? []) {
    const key = (item as { key: unknown }).key;
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/**
 * Issues whose value had the right type but the wrong range (a negative cluster, a confidence
 * of 1.5) are RangeErrors in the messages of the event constructors; the rest are TypeErrors.
 */
const RANGE_ISSUES = new Set([
  "integer",
  "min_value",
  "max_value",
  "finite",
  "check",
  "safe_integer",
  "range",
]);

/** The error of a failed parse: `Cannot <verb> <what>: <field> must be <expected>, current value is <v>`. */
export function protocolError(
  issues: readonly v.BaseIssue<unknown>[],
  what: string,
  verb = "read",
): Error {
  const issue = issues[0];
  const field = pathOf(issue);
  // A missing key is reported by the object schema with its own message: say what is meant.
  const missing = issue.type === "object" && issue.input === undefined && field !== "";
  const expected = missing ? "present" : issue.message;
  const message = `Cannot ${verb} ${printable(what)}: ${field === "" ? "value" : field} ` +
    `must be ${expected}, current value is ${shown(issue.input)}`;
  if (RANGE_ISSUES.has(issue.type) && !(issue as { typeError?: boolean }).typeError) {
    const error = new RangeError(message);
    return error;
  }
  return new ProtocolError(message);
}

/**
 * `value` checked by `schema`.
 *
 * @throws {ProtocolError | RangeError} naming `what`, the field, the expectation and the value.
 */
export function parse<T>(schema: Schema<T>, value: unknown, what: string, verb?: string): T {
  const result = v.safeParse(schema, value);
  if (!result.success) throw protocolError(result.issues, what, verb);
  return result.output;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The JSON value of `bytes` (UTF-8), checked by `schema`.
 *
 * @throws {ProtocolError} when the bytes are not UTF-8 JSON, or what `parse` throws.
 */
export function parseJson<T>(schema: Schema<T>, bytes: Uint8Array | string, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === "string" ? bytes : decoder.decode(bytes));
  } catch (cause) {
    const size = typeof bytes === "string" ? bytes.length : bytes.byteLength;
    throw new ProtocolError(
      `Cannot read ${printable(what)}: the payload is not JSON (${size} bytes)`,
      { cause },
    );
  }
  return parse(schema, value, what);
}

/** Whether an error is a refused value (as opposed to a failure of the reader itself). */
export function isProtocolError(error: unknown): boolean {
  return error instanceof ProtocolError || error instanceof RangeError;
}
