/**
 * A new learning rate for a tfjs optimiser that keeps its moments: what a schedule needs (the
 * stream cools its rates while no image arrives). tfjs' SGD, momentum and Adam optimisers read
 * their `learningRate` field at every step but offer no setter for it.
 */
import type * as tf from "@tensorflow/tfjs-core";

/**
 * Set `optimizer`'s learning rate to `rate`.
 *
 * @throws {RangeError} when `rate` is not a positive finite number, or the optimiser has no
 *   `learningRate` field to set.
 */
export function setLearningRate(optimizer: tf.Optimizer, rate: number): void {
  if (!(rate > 0) || !Number.isFinite(rate)) {
    throw new RangeError(
      `Cannot set the learning rate: it must be a positive number, current value is ${rate}`,
    );
  }
  const fields = optimizer as unknown as { learningRate?: unknown };
  if (typeof fields.learningRate !== "number") {
    throw new RangeError(
      `Cannot set the learning rate: ${optimizer.getClassName()} has no learningRate field`,
    );
  }
  fields.learningRate = rate;
}
