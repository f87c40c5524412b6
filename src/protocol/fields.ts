/**
 * The field schemas every message is built from, each with the expectation its refusal names
 * ("cluster must be an integer in [0, 10)"), and the grammars of names that reach a KV key, a
 * subject or a file name.
 */
import * as v from "valibot";

/**
 * Image ids: content hashes (64 hex digits) in a stream, short names in tests. They become KV
 * keys (the assignments and neighbours buckets) and message ids, so they must stay inside the
 * NATS KV key grammar, without `.` (a token separator) or `/`.
 */
export const IMAGE_ID_PATTERN = /^[A-Za-z0-9_=-]{1,128}$/;

/**
 * The highest checkpoint number believed: a round every second for 68 years. A forged
 * 2^53 - 1 is refused here; the rule that keeps a forged plausible number from freezing a stage
 * is that only a checkpoint the state bucket announces is honoured (docs/protocol.md).
 */
export const MAX_CHECKPOINT = 2 ** 31 - 1;

/**
 * Most clusters a reader believes when it was not told the pipeline's count: enough for any
 * config, few enough that a reader allocating per cluster stays small.
 */
export const MAX_CLUSTERS = 65_536;

/** Longest path a message may carry (Linux's PATH_MAX is 4096 bytes). */
export const MAX_PATH_LENGTH = 4096;
/** Longest free text (a refusal's reason). */
export const MAX_TEXT_LENGTH = 16_384;

/** A number of any value (NaN and infinities too: `finite` refuses those with its own words). */
export const anyNumber = () => v.custom<number>((value) => typeof value === "number", "a number");

/** A non-empty string of at most `max` characters. */
export const text = (max = MAX_TEXT_LENGTH) =>
  v.pipe(
    v.string("a non-empty string"),
    v.minLength(1, "a non-empty string"),
    v.maxLength(max, `a string of at most ${max} characters`),
  );

/** A path as events carry it. */
export const path = () => text(MAX_PATH_LENGTH);

/** An image id (`IMAGE_ID_PATTERN`). */
export const imageId = () =>
  v.pipe(
    v.string("a non-empty string"),
    v.minLength(1, "a non-empty string"),
    v.regex(IMAGE_ID_PATTERN, "an image id (1 to 128 of A-Z a-z 0-9 _ = -)"),
  );

/** A non-negative integer, below `limit` when given. */
export const count = (limit?: number) =>
  v.pipe(
    anyNumber(),
    v.check(
      (n) => Number.isInteger(n) && n >= 0 && (limit === undefined || n < limit),
      limit === undefined ? "a non-negative integer" : `an integer in [0, ${limit})`,
    ),
  );

/** A positive integer. */
export const positive = () =>
  v.pipe(anyNumber(), v.check((n: number) => Number.isInteger(n) && n >= 1, "positive"));

/** A checkpoint number: an integer in [0, MAX_CHECKPOINT]. */
export const checkpoint = () =>
  v.pipe(
    anyNumber(),
    v.check(
      (n) => Number.isInteger(n) && n >= 0 && n <= MAX_CHECKPOINT,
      `a checkpoint number, an integer in [0, ${MAX_CHECKPOINT}]`,
    ),
  );

/** A finite number. */
export const finite = () =>
  v.pipe(anyNumber(), v.check((n: number) => Number.isFinite(n), "finite"));

/** A finite number in [lo, hi]. */
export const bounded = (lo: number, hi: number) =>
  v.pipe(finite(), v.check((n: number) => n >= lo && n <= hi, `in [${lo}, ${hi}]`));

/** A probability. */
export const probability = () => bounded(0, 1);

/** A boolean. */
export const flag = () => v.boolean("a boolean");

/** An ISO 8601 timestamp. */
export const timestamp = () =>
  v.pipe(
    v.string("an ISO 8601 timestamp"),
    v.maxLength(64, "an ISO 8601 timestamp"),
    v.check((s: string) => !Number.isNaN(Date.parse(s)), "an ISO 8601 timestamp"),
  );

/** An event's `at`: now when absent. */
export const at = () => v.optional(timestamp(), () => new Date().toISOString());

/** A frozen array of `item`. */
export const list = <T>(item: v.GenericSchema<unknown, T>, max?: number) =>
  v.pipe(
    v.array(item, "an array"),
    v.check((a) => max === undefined || a.length <= max, `an array of at most ${max} items`),
    v.transform((a) => Object.freeze(a) as readonly T[]),
  );

/** A frozen object. */
export const frozen = <T extends object>() =>
  v.transform((o: T) => Object.freeze(o) as Readonly<T>);
