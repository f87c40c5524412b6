/**
 * How many training threads a task uses: all cores for offline training (nothing else runs),
 * all but one for the stream and the cluster worker (that one serves new images and the board),
 * and never fewer than one. `--threads N` overrides.
 */

/** Who the threads are for. */
export type ThreadRole = "train" | "serve";

/** Logical cores of this machine, as Deno reports them (1 when unknown). */
export function cores(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/** The default thread count for `role` on a machine with `available` cores. */
export function defaultThreads(role: ThreadRole, available = cores()): number {
  return role === "train" ? Math.max(1, available) : Math.max(1, available - 1);
}

/**
 * Parse a `--threads` value.
 *
 * @throws {RangeError} when it is not a positive integer.
 */
export function parseThreads(value: string | undefined, role: ThreadRole): number {
  if (value === undefined) return defaultThreads(role);
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new RangeError(`--threads must be an integer from 1 to 256, current value is ${value}`);
  }
  return n;
}
