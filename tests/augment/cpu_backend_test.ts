/** The augmentations on the pure-JS `cpu` backend, whose Transform and TensorScatterUpdate
 * kernels (tfjs-backend-cpu 4.22) need working around. */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { equalize, rotate } from "../../src/augment/rand_augment_ops.ts";
import { strongAugment } from "../../src/augment/strong.ts";
import { Random } from "../../src/util/random.ts";
import { imageValues, seededImages } from "./_helpers.ts";

await initBackend("cpu");

Deno.test("rotate() on cpu warps every image of the batch, not only the first", () => {
  const one = seededImages(1, 6, 6);
  const images = tf.concat([one, one, one]) as tf.Tensor4D;
  const out = rotate(images, [15, 15, 15]);
  assert.deepEqual(imageValues(out, 2), imageValues(out, 0));
  assert.notDeepEqual(imageValues(out, 0), imageValues(images, 0));
  tf.dispose([one, images, out]);
});

Deno.test("equalize() on cpu leaves its input tensor unchanged", () => {
  const images = seededImages(3, 16, 16);
  const copy = images.dataSync().slice();
  const out = equalize(images, [0, NaN, 0]);
  assert.deepEqual(images.dataSync(), copy);
  assert.deepEqual(imageValues(out, 1), copy.slice(16 * 16 * 3, 2 * 16 * 16 * 3));
  tf.dispose([images, out]);
});

Deno.test("strongAugment() on cpu is seeded and leaves its input unchanged", () => {
  const images = seededImages(6, 12, 12);
  const copy = images.dataSync().slice();
  const a = strongAugment(images, new Random(4));
  const b = strongAugment(images, new Random(4));
  assert.deepEqual(a.dataSync(), b.dataSync());
  assert.deepEqual(images.dataSync(), copy);
  tf.dispose([images, a, b]);
});
