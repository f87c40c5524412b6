import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { randomInvert } from "../../src/augment/invert.ts";
import { resolveWeakOptions } from "../../src/augment/options.ts";
import { Random } from "../../src/util/random.ts";
import { assertNoLeak, imageValues, seededImages } from "./_helpers.ts";
import { assertAllClose } from "../_assert.ts";

await initBackend("wasm");

Deno.test("randomInvert() with probability 1 gives 1 - x", () => {
  const images = seededImages(2, 3, 3);
  const out = randomInvert(images, new Random(1), 1);
  assertAllClose(out.dataSync(), Array.from(images.dataSync(), (v) => 1 - v), 1e-6);
  tf.dispose([images, out]);
});

Deno.test("randomInvert() with probability 0 returns the input and draws nothing", () => {
  const images = seededImages(2, 3, 3);
  const rng = new Random(5);
  const out = randomInvert(images, rng, 0);
  assert.deepEqual(out.dataSync(), images.dataSync());
  assert.equal(rng.next(), new Random(5).next(), "a draw was taken");
  tf.dispose([images, out]);
});

Deno.test("randomInvert() inverts whole images, each with its own draw", () => {
  const images = seededImages(64, 2, 2);
  const out = randomInvert(images, new Random(3), 0.5);
  let inverted = 0;
  for (let i = 0; i < 64; i++) {
    const x = imageValues(images, i);
    const y = imageValues(out, i);
    const same = x.every((v, j) => Math.abs(v - y[j]) < 1e-6);
    const flipped = x.every((v, j) => Math.abs(1 - v - y[j]) < 1e-6);
    assert.ok(same || flipped, `image ${i} is neither itself nor its inverse`);
    if (flipped) inverted++;
  }
  assert.ok(inverted > 16 && inverted < 48, `${inverted} of 64 inverted`);
  tf.dispose([images, out]);
});

Deno.test("randomInvert() leaks no tensor; the option is validated", () => {
  const images = seededImages(4, 3, 3);
  assertNoLeak(() => randomInvert(images, new Random(1), 0.5));
  images.dispose();
  assert.equal(resolveWeakOptions().invertProbability, 0);
  assert.throws(() => resolveWeakOptions({ invertProbability: 1.5 }), /invertProbability/);
});
