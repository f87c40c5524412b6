/**
 * Publishes that the stream does not wait for, with a bound: while the NATS server is away a
 * publish retries for up to a minute (`NatsBus`), and the stream must go on storing and
 * assigning meanwhile, so it hands publishes to an outbox and waits only for a place in it.
 * At most `limit` publishes are in flight; `send` waits while the outbox is full, which stops
 * the stream's serving loop and, through the ingest credits, the decoder: backpressure, not an
 * unbounded queue. A publish that fails (the server stayed away past the bus's retry time) is
 * kept and fails the outbox: `failed` rejects, and so do later `send` and `flush` calls.
 *
 * A publish that can never succeed, whatever the server does (a header value NATS refuses, a
 * message over the server's size limit: `isPermanentPublishError`), is dropped instead: counted
 * in `dropped` and reported to `onDropped`, never retried and never fatal, so one bad message
 * cannot stop the stream, nor stop it again on every restart.
 *
 * Publishes run concurrently, so after an outage the bus may store them in another order than
 * they were sent; each carries a message id, so a retry is stored once.
 */

/** Names of errors that retrying cannot fix: the message itself is unacceptable. */
const PERMANENT = new Set([
  // nats.js: a header name or value it refuses (CR or LF in a value, for one), or a message
  // over the server's max_payload.
  "InvalidArgumentError",
  // Encoding the message failed (e.g. encodeURIComponent on a lone surrogate).
  "URIError",
]);

/** True for a publish error that the same publish would meet again on every retry. */
export function isPermanentPublishError(error: unknown): boolean {
  return error instanceof Error && PERMANENT.has(error.name);
}

/** Options of `Outbox`. */
export interface OutboxOptions {
  /** Told about each publish dropped because it can never succeed (default: nothing). */
  onDropped?: (error: unknown) => void;
}

/** A bounded set of publishes in flight. */
export class Outbox {
  /** Most publishes in flight at once. */
  readonly limit: number;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #waiting: (() => void)[] = [];
  #peak = 0;
  #dropped = 0;
  readonly #onDropped: (error: unknown) => void;
  #error: { error: unknown } | undefined;
  readonly #failed: Promise<never>;
  #fail!: (error: unknown) => void;

  /** @throws {RangeError} when `limit` is not a positive integer. */
  constructor(limit: number, options: OutboxOptions = {}) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(
        `Cannot create outbox: limit must be a positive integer, current value is ${limit}`,
      );
    }
    this.limit = limit;
    this.#onDropped = options.onDropped ?? (() => {});
    this.#failed = new Promise<never>((_, reject) => (this.#fail = reject));
    this.#failed.catch(() => {});
  }

  /** Publishes in flight now. */
  get pending(): number {
    return this.#inFlight.size;
  }

  /** Most publishes in flight at once so far. */
  get peak(): number {
    return this.#peak;
  }

  /** Publishes dropped because they could never succeed (`isPermanentPublishError`). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Rejects with the first failed publish's error; never resolves. */
  get failed(): Promise<never> {
    return this.#failed;
  }

  /**
   * Start `publish` once fewer than `limit` publishes are in flight; resolves when it has
   * started, not when it is done. `then` runs after it succeeded (to count or confirm it).
   *
   * @throws the error of an earlier failed publish.
   */
  async send(publish: () => Promise<void>, then?: () => void): Promise<void> {
    while (this.#inFlight.size >= this.limit && this.#error === undefined) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    if (this.#error !== undefined) throw this.#error.error;
    const run: Promise<void> = (async () => {
      await publish();
      then?.();
    })().catch((error) => {
      if (isPermanentPublishError(error)) {
        this.#dropped++;
        this.#onDropped(error);
        return;
      }
      this.#error ??= { error };
      this.#fail(error);
    }).finally(() => {
      this.#inFlight.delete(run);
      this.#waiting.shift()?.();
      // A failure releases every waiter, which then throws.
      if (this.#error !== undefined) { for (const wake of this.#waiting.splice(0)) wake(); }
    });
    this.#inFlight.add(run);
    this.#peak = Math.max(this.#peak, this.#inFlight.size);
  }

  /**
   * Wait until every publish sent so far is done.
   *
   * @throws the error of a failed publish.
   */
  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
    if (this.#error !== undefined) throw this.#error.error;
  }
}
