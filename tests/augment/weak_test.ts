import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { weakAugment } from "../../src/augment/weak.ts";
import { Random } from "../../src/util/random.ts";
import { assertNoLeak, extent, imageValues, seededImages } from "./_helpers.ts";
import { assertAllClose } from "../_assert.ts";

await initBackend("wasm");

const IDENTITY = {
  cropScale: [1, 1],
  cropRatio: [1, 1],
  flipProbability: 0,
  jitterProbability: 0,
  grayscaleProbability: 0,
} as const;

Deno.test("weakAugment() keeps the shape and the [0, 1] range", () => {
  const images = seededImages(16, 32, 32);
  const out = weakAugment(images, new Random(1));
  assert.deepEqual(out.shape, [16, 32, 32, 3]);
  assert.equal(out.dtype, "float32");
  const [lo, hi] = extent(out);
  assert.ok(lo >= 0 && hi <= 1, `values in [${lo}, ${hi}]`);
  tf.dispose([images, out]);
});

Deno.test("weakAugment() is seeded: same seed same batch, other seed other batch", () => {
  const images = seededImages(8, 16, 16);
  const a = weakAugment(images, new Random(7));
  const b = weakAugment(images, new Random(7));
  const c = weakAugment(images, new Random(8));
  assert.deepEqual(a.dataSync(), b.dataSync());
  assert.notDeepEqual(a.dataSync(), c.dataSync());
  for (let i = 0; i < 8; i++) {
    assert.notDeepEqual(imageValues(a, i), imageValues(c, i), `image ${i} equal across seeds`);
  }
  tf.dispose([images, a, b, c]);
});

Deno.test("weakAugment() with identity settings returns the input", () => {
  const images = seededImages(4, 8, 8);
  const out = weakAugment(images, new Random(1), IDENTITY);
  assertAllClose(out.dataSync(), images.dataSync(), 1e-6);
  tf.dispose([images, out]);
});

Deno.test("weakAugment() with only a flip mirrors every image", () => {
  const images = seededImages(2, 5, 5);
  const out = weakAugment(images, new Random(1), { ...IDENTITY, flipProbability: 1 });
  const mirrored = tf.image.flipLeftRight(images);
  assertAllClose(out.dataSync(), mirrored.dataSync(), 1e-6);
  tf.dispose([images, out, mirrored]);
});

Deno.test("weakAugment() leaves its input alone and leaks no tensor", () => {
  const images = seededImages(4, 8, 8);
  const copy = images.dataSync().slice();
  assertNoLeak(() => weakAugment(images, new Random(1)));
  assert.ok(!images.isDisposed);
  assert.deepEqual(images.dataSync(), copy);
  images.dispose();
});

Deno.test("weakAugment() rejects images that are not [B, H, W, 3] float32", () => {
  const gray = tf.zeros([2, 4, 4, 1]) as tf.Tensor4D;
  const ints = tf.zeros([2, 4, 4, 3], "int32") as tf.Tensor4D;
  assert.throws(() => weakAugment(gray, new Random(1)), {
    name: "TypeError",
    message: "Cannot augment images: images must have shape [B, H, W, 3], current shape is " +
      "[2, 4, 4, 1]",
  });
  assert.throws(() => weakAugment(ints, new Random(1)), /float32/);
  const images = seededImages(1, 4, 4);
  assert.throws(() => weakAugment(images, new Random(1), { jitterProbability: 2 }), RangeError);
  tf.dispose([gray, ints, images]);
});
