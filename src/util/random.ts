/**
 * Seeded pseudo-random numbers, so augmentations, fixtures, sampling and initialisation are
 * reproducible: every consumer takes a `Random` instead of calling `Math.random`.
 */

/** A seeded generator (mulberry32): fast, 32-bit state, good enough for sampling and noise. */
export class Random {
  #state: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new TypeError(
        `Cannot create Random: seed must be a finite number, current value is ${seed}`,
      );
    }
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** A new seed drawn from this stream, for handing a child generator its own sequence. */
  fork(): Random {
    return new Random(Math.floor(this.next() * 4294967296));
  }

  /** Fisher-Yates shuffle, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}
