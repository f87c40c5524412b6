/**
 * Backpressure for a push stream: a fixed number of credits, one held by each item from before
 * its expensive work starts (reading and decoding a file) until the consumer is done with it
 * (the image is stored). RxJS operators buffer without bound (`concatMap`, `bufferTime`), so
 * the bound lives here instead: however slow the consumer, at most `limit` decoded images exist
 * between the decoder and the store, and the producer waits for a credit rather than queueing.
 */

/** A counting semaphore over items in flight. */
export class Credits {
  /** Most credits held at once. */
  readonly limit: number;
  #held = 0;
  #peak = 0;
  readonly #waiting: (() => void)[] = [];

  /** @throws {RangeError} when `limit` is not a positive integer. */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(
        `Cannot create credits: limit must be a positive integer, current value is ${limit}`,
      );
    }
    this.limit = limit;
  }

  /** Credits held now. */
  get held(): number {
    return this.#held;
  }

  /** Most credits ever held at once (at most `limit`): what a soak reports. */
  get peak(): number {
    return this.#peak;
  }

  /** Callers waiting for a credit. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Take a credit, waiting (first come, first served) while all are held. */
  acquire(): Promise<void> {
    if (this.#held < this.limit && this.#waiting.length === 0) {
      this.#take();
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.#waiting.push(() => {
        this.#take();
        resolve();
      })
    );
  }

  /**
   * Give back `count` credits, waking waiters.
   *
   * @throws {RangeError} when more are given back than are held (a bookkeeping bug).
   */
  release(count = 1): void {
    if (!Number.isInteger(count) || count < 0 || count > this.#held) {
      throw new RangeError(
        `Cannot release credits: count must be an integer in [0, ${this.#held}], current value ` +
          `is ${count}`,
      );
    }
    this.#held -= count;
    while (this.#held < this.limit && this.#waiting.length > 0) this.#waiting.shift()!();
  }

  #take(): void {
    this.#held++;
    this.#peak = Math.max(this.#peak, this.#held);
  }
}
