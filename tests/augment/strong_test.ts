import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { strongAugment } from "../../src/augment/strong.ts";
import { weakAugment } from "../../src/augment/weak.ts";
import { Random } from "../../src/util/random.ts";
import { assertNoLeak, extent, imageValues, seededImages } from "./_helpers.ts";
import { assertAllClose } from "../_assert.ts";

await initBackend("wasm");

const NO_WEAK = {
  cropScale: [1, 1],
  cropRatio: [1, 1],
  flipProbability: 0,
  jitterProbability: 0,
  grayscaleProbability: 0,
} as const;

Deno.test("strongAugment() keeps the shape and the [0, 1] range", () => {
  const images = seededImages(16, 32, 32);
  const out = strongAugment(images, new Random(1));
  assert.deepEqual(out.shape, [16, 32, 32, 3]);
  const [lo, hi] = extent(out);
  assert.ok(lo >= 0 && hi <= 1, `values in [${lo}, ${hi}]`);
  tf.dispose([images, out]);
});

Deno.test("strongAugment() is seeded: same seed same batch, other seed other batch", () => {
  const images = seededImages(8, 16, 16);
  const a = strongAugment(images, new Random(7));
  const b = strongAugment(images, new Random(7));
  const c = strongAugment(images, new Random(8));
  assert.deepEqual(a.dataSync(), b.dataSync());
  assert.notDeepEqual(a.dataSync(), c.dataSync());
  tf.dispose([images, a, b, c]);
});

Deno.test("strongAugment() with everything off returns the input", () => {
  const images = seededImages(4, 8, 8);
  const out = strongAugment(images, new Random(1), { ...NO_WEAK, numOps: 0, cutoutHoles: 0 });
  assertAllClose(out.dataSync(), images.dataSync(), 1e-6);
  tf.dispose([images, out]);
});

Deno.test("strongAugment() starts from the weak view of the same draws", () => {
  const images = seededImages(4, 8, 8);
  const strong = strongAugment(images, new Random(3), { numOps: 0, cutoutHoles: 0 });
  const weak = weakAugment(images, new Random(3));
  assert.deepEqual(strong.dataSync(), weak.dataSync());
  tf.dispose([images, strong, weak]);
});

Deno.test("strongAugment() cuts a black square of at most half the side out of each image", () => {
  const images = tf.tidy(() => tf.add(tf.mul(seededImages(8, 16, 16), 0.5), 0.25) as tf.Tensor4D);
  const out = strongAugment(images, new Random(2), {
    ...NO_WEAK,
    numOps: 0,
    cutoutRandomLength: false,
  });
  for (let i = 0; i < 8; i++) {
    const values = imageValues(out, i);
    const input = imageValues(images, i);
    let zeros = 0;
    for (let p = 0; p < values.length; p++) {
      if (values[p] === 0) zeros++;
      else assert.equal(values[p], input[p]);
    }
    assert.ok(zeros > 0 && zeros <= 8 * 8 * 3, `${zeros} zeroed values`);
    assert.equal(zeros % 3, 0);
  }
  tf.dispose([images, out]);
});

Deno.test("strongAugment() leaves its input alone and leaks no tensor", () => {
  const images = seededImages(6, 12, 12);
  const copy = images.dataSync().slice();
  assertNoLeak(() => strongAugment(images, new Random(1)));
  assert.deepEqual(images.dataSync(), copy);
  images.dispose();
});
