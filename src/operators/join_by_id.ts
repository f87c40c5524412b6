/**
 * The join of two streams by id (an image and its features, which come on two subjects in any
 * order): each side waits for the other, but not without bound. At most `limit` entries wait
 * per side (the oldest is dropped to make room) and none longer than `maxWaitMs`; `expire`
 * hands back what was dropped so the caller can report it (an image whose features never came
 * is an `errors` event, not a slow leak).
 */

/** Options of `JoinById`. */
export interface JoinOptions {
  /** Most entries waiting on each side. */
  readonly limit: number;
  /** Longest wait of an entry, in ms. */
  readonly maxWaitMs: number;
  /** The clock (tests). Default `Date.now`. */
  readonly now?: () => number;
}

/** What left a waiting side without a partner. */
export interface Dropped<T> {
  readonly side: "left" | "right";
  readonly id: string;
  readonly value: T;
  /** `expired`: waited `maxWaitMs`; `evicted`: made room under `limit`. */
  readonly why: "expired" | "evicted";
  readonly waitedMs: number;
}

class Side<T> {
  constructor(readonly name: "left" | "right") {}
  /** Insertion order is arrival order: the first entry is the oldest. */
  readonly entries = new Map<string, { value: T; since: number }>();
}

/** Two waiting sides, left (`L`) and right (`R`). */
export class JoinById<L, R> {
  readonly #left = new Side<L>("left");
  readonly #right = new Side<R>("right");
  readonly #limit: number;
  readonly #maxWaitMs: number;
  readonly #now: () => number;
  readonly #dropped: Dropped<L | R>[] = [];

  /** @throws {RangeError} when `limit` is not a positive integer or `maxWaitMs` not positive. */
  constructor(options: JoinOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1) {
      throw new RangeError(
        `Cannot create join: limit must be a positive integer, current value is ${options.limit}`,
      );
    }
    if (!(options.maxWaitMs > 0)) {
      throw new RangeError(
        `Cannot create join: maxWaitMs must be positive, current value is ${options.maxWaitMs}`,
      );
    }
    this.#limit = options.limit;
    this.#maxWaitMs = options.maxWaitMs;
    this.#now = options.now ?? Date.now;
  }

  /** Entries waiting on the left and on the right. */
  get waiting(): { left: number; right: number } {
    return { left: this.#left.entries.size, right: this.#right.entries.size };
  }

  /**
   * A left value: its right partner if one waits (taken), else it waits. `replace` decides
   * whether it replaces a left value already waiting under the id (default yes).
   */
  left(id: string, value: L, replace?: (waiting: L) => boolean): R | undefined {
    return this.#arrive(this.#left, this.#right, id, value, replace);
  }

  /** A right value, as `left`. */
  right(id: string, value: R, replace?: (waiting: R) => boolean): L | undefined {
    return this.#arrive(this.#right, this.#left, id, value, replace);
  }

  /** Forget both sides of `id` (it was served some other way). */
  delete(id: string): void {
    this.#left.entries.delete(id);
    this.#right.entries.delete(id);
  }

  /** Drop what waited too long; return it with what was evicted since the last call. */
  expire(): Dropped<L | R>[] {
    const now = this.#now();
    for (const side of [this.#left, this.#right] as Side<L | R>[]) {
      for (const [id, entry] of side.entries) {
        if (now - entry.since < this.#maxWaitMs) break;
        side.entries.delete(id);
        this.#dropped.push({
          side: side.name,
          id,
          value: entry.value,
          why: "expired",
          waitedMs: now - entry.since,
        });
      }
    }
    return this.#dropped.splice(0);
  }

  #arrive<A, B>(
    own: Side<A>,
    other: Side<B>,
    id: string,
    value: A,
    replace?: (waiting: A) => boolean,
  ): B | undefined {
    const partner = other.entries.get(id);
    if (partner !== undefined) {
      other.entries.delete(id);
      return partner.value;
    }
    const known = own.entries.get(id);
    if (known !== undefined && replace !== undefined && !replace(known.value)) return undefined;
    own.entries.delete(id);
    own.entries.set(id, { value, since: this.#now() });
    while (own.entries.size > this.#limit) {
      const [oldest, entry] = own.entries.entries().next().value!;
      own.entries.delete(oldest);
      this.#dropped.push({
        side: own.name,
        id: oldest,
        value: entry.value as L | R,
        why: "evicted",
        waitedMs: this.#now() - entry.since,
      });
    }
    return undefined;
  }
}
