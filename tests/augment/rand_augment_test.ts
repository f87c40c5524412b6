import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { RAND_AUGMENT_OPS } from "../../src/augment/options.ts";
import { MAGNITUDE_RANGES, randAugment } from "../../src/augment/rand_augment.ts";
import { Random } from "../../src/util/random.ts";
import { assertNoLeak, extent, imageValues, seededImages } from "./_helpers.ts";
import { assertAllClose } from "../_assert.ts";

await initBackend("wasm");

Deno.test("randAugment() with only identity, or no ops, returns the input", () => {
  const images = seededImages(4, 6, 6);
  const a = randAugment(images, new Random(1), 4, ["identity"]);
  const b = randAugment(images, new Random(1), 0);
  assert.deepEqual(a.dataSync(), images.dataSync());
  assert.deepEqual(b.dataSync(), images.dataSync());
  tf.dispose([images, a, b]);
});

Deno.test("randAugment() applies numOps draws per image, each magnitude in SCAN's range", () => {
  const images = tf.tidy(() => tf.add(tf.mul(seededImages(6, 4, 4, 2), 0.5), 0.25) as tf.Tensor4D);
  const out = randAugment(images, new Random(3), 2, ["brightness"]);
  const [lo, hi] = MAGNITUDE_RANGES.brightness;
  const factors = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const input = imageValues(images, i);
    const output = imageValues(out, i);
    const factor = output[0] / input[0];
    assert.ok(factor >= lo * lo - 1e-6 && factor <= hi * hi + 1e-6, `factor ${factor}`);
    assertAllClose(output, input.map((v) => v * factor), 1e-5);
    factors.add(factor.toFixed(5));
  }
  assert.equal(factors.size, 6);
  tf.dispose([images, out]);
});

Deno.test("randAugment() over SCAN's full list is seeded, in range and leak-free", () => {
  const images = seededImages(28, 12, 12, 4);
  const a = randAugment(images, new Random(5), 4);
  const b = randAugment(images, new Random(5), 4);
  const c = randAugment(images, new Random(6), 4);
  assert.deepEqual(a.shape, images.shape);
  assert.deepEqual(a.dataSync(), b.dataSync());
  assert.notDeepEqual(a.dataSync(), c.dataSync());
  const [lo, hi] = extent(a);
  assert.ok(lo >= 0 && hi <= 1, `values in [${lo}, ${hi}]`);
  assertNoLeak(() => randAugment(images, new Random(5), 4));
  tf.dispose([images, a, b, c]);
});

Deno.test("MAGNITUDE_RANGES covers every op of the list", () => {
  assert.deepEqual(Object.keys(MAGNITUDE_RANGES).sort(), [...RAND_AUGMENT_OPS].sort());
});

Deno.test("randAugment() rejects a bad numOps or an empty list", () => {
  const images = seededImages(1, 4, 4);
  assert.throws(() => randAugment(images, new Random(1), -1), RangeError);
  assert.throws(() => randAugment(images, new Random(1), 1.5), RangeError);
  assert.throws(() => randAugment(images, new Random(1), 1, []), RangeError);
  images.dispose();
});
