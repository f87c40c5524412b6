/** Fixtures and assertions shared by the augmentation tests. */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { Random } from "../../src/util/random.ts";

/** A seeded batch of random images, [B, H, W, 3] in [0, 1]. */
export function seededImages(batch: number, height: number, width: number, seed = 1): tf.Tensor4D {
  const rng = new Random(seed);
  const values = Float32Array.from({ length: batch * height * width * 3 }, () => rng.next());
  return tf.tensor4d(values, [batch, height, width, 3]);
}

/** Images whose pixel values are exact 8-bit levels, as PIL sees them. */
export function levelImages(levels: number[], batch: number, height: number, width: number) {
  return tf.tensor4d(levels.map((v) => v / 255), [batch, height, width, 3]);
}

/** Run `fn`, dispose its result, and assert that no tensor was left behind. */
export function assertNoLeak(fn: () => tf.Tensor): void {
  fn().dispose();
  const before = tf.memory().numTensors;
  fn().dispose();
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
}

/** Values of one image, [H, W, 3] flattened. */
export function imageValues(images: tf.Tensor4D, index: number): Float32Array {
  const size = images.shape[1] * images.shape[2] * 3;
  return (images.dataSync() as Float32Array).slice(index * size, (index + 1) * size);
}

/** Smallest and largest value of a tensor. */
export function extent(t: tf.Tensor): [number, number] {
  const values = t.dataSync();
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return [lo, hi];
}
