/**
 * Assertions and small helpers shared by the tests: closeness of numbers and arrays, tensor
 * leaks, temporary directories, RxJS marble schedulers.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { TestScheduler } from "rxjs/testing";

/** Relative and absolute tolerance, as numpy's `isclose` reads them. */
export interface Tolerance {
  readonly rtol?: number;
  readonly atol?: number;
}

/**
 * `|actual - expected| <= atol + rtol * |expected|`; the defaults (rtol 1e-4, atol 1e-6) suit a
 * float32 computation checked against a float64 reference.
 */
export function assertClose(
  actual: number,
  expected: number,
  { rtol = 1e-4, atol = 1e-6 }: Tolerance = {},
): void {
  assert.ok(
    Math.abs(actual - expected) <= atol + rtol * Math.abs(expected),
    `expected ${expected} (rtol ${rtol}, atol ${atol}), got ${actual}`,
  );
}

/** Element-wise closeness with an absolute tolerance, reporting the first mismatch. */
export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol = 1e-5,
): void {
  assert.equal(actual.length, expected.length, "lengths differ");
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= atol)) {
      assert.fail(`element ${i}: ${actual[i]} is not within ${atol} of ${expected[i]}`);
    }
  }
}

/**
 * Run `fn` and assert that it left no tensor behind (what it returns is the caller's, so it is
 * not counted: return plain values).
 */
export async function assertNoTensorLeak<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  assert.equal(tf.memory().numTensors, before, `${what} leaked tensors`);
  return result;
}

/** Run `body` with a fresh temporary directory, removed afterwards whatever happens. */
export async function withTempDir(
  prefix: string,
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The names in `dir`, sorted. */
export async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/** A marble-test scheduler that compares with deep equality. */
export function marbleScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));
}
