/**
 * The stream sequences a durable subscription has already handed to its subscriber, so that a
 * redelivery of one of them is acknowledged and dropped instead of handed on twice.
 *
 * Why: a durable consumer acknowledges each message once it is handed on, but acks the server
 * has not yet stored are lost when it restarts, and it then delivers those messages again. Only
 * this process knows it handed them on; a message another member of the same queue held when it
 * died has a sequence this process never saw, and is still handed on.
 *
 * Bounded: the oldest sequences are forgotten past `capacity` (a redelivery comes within the
 * consumer's ack wait, long before that many newer messages).
 */
export class HandedSequences {
  readonly #seen = new Set<number>();

  constructor(readonly capacity = 65_536) {
    if (!(Number.isInteger(capacity) && capacity > 0)) {
      throw new RangeError(
        `Cannot track handed sequences: capacity must be a positive integer, current value is ${capacity}`,
      );
    }
  }

  /** True when `sequence` was handed on before; otherwise records it and returns false. */
  check(sequence: number): boolean {
    if (this.#seen.has(sequence)) return true;
    this.#seen.add(sequence);
    if (this.#seen.size > this.capacity) {
      // A Set iterates in insertion order: the first is the oldest handed on.
      this.#seen.delete(this.#seen.values().next().value!);
    }
    return false;
  }

  get size(): number {
    return this.#seen.size;
  }
}
