/**
 * The paths a stream has already refused, so that a restart does not report them again: a set
 * kept in the saved state, bounded. A folder that keeps receiving bad files would otherwise grow
 * it (and every checkpoint, which writes it whole) without end; past `limit` the oldest paths
 * are forgotten, and such a file, if it is still there at a restart, is reported once more.
 */

/** Paths remembered by default. */
export const REFUSED_PATHS_LIMIT = 10_000;

/** An insertion-ordered set of at most `limit` paths. */
export class RefusedPaths {
  readonly #paths: Set<string>;
  readonly limit: number;

  constructor(paths: Iterable<string> = [], limit = REFUSED_PATHS_LIMIT) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(
        `Cannot create refused paths: limit must be a positive integer, current value is ${limit}`,
      );
    }
    this.limit = limit;
    this.#paths = new Set();
    for (const path of paths) this.add(path);
  }

  get size(): number {
    return this.#paths.size;
  }

  has(path: string): boolean {
    return this.#paths.has(path);
  }

  /** Remember `path` as the newest; the oldest goes when there are more than `limit`. */
  add(path: string): this {
    this.#paths.delete(path);
    this.#paths.add(path);
    if (this.#paths.size > this.limit) this.#paths.delete(this.#paths.values().next().value!);
    return this;
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this.#paths.values();
  }
}
