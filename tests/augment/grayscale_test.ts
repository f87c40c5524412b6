import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { GRAY_WEIGHTS } from "../../src/augment/colour_matrix.ts";
import { randomGrayscale } from "../../src/augment/grayscale.ts";
import { Random } from "../../src/util/random.ts";
import { assertNoLeak, imageValues, seededImages } from "./_helpers.ts";
import { assertAllClose } from "../_assert.ts";

await initBackend("wasm");

Deno.test("randomGrayscale() with probability 1 makes the channels equal to the luma", () => {
  const images = seededImages(2, 3, 3);
  const out = randomGrayscale(images, new Random(1), 1);
  const input = images.dataSync();
  const output = out.dataSync();
  for (let p = 0; p < input.length; p += 3) {
    const luma = GRAY_WEIGHTS[0] * input[p] + GRAY_WEIGHTS[1] * input[p + 1] +
      GRAY_WEIGHTS[2] * input[p + 2];
    assertAllClose(output.slice(p, p + 3), [luma, luma, luma], 1e-6);
  }
  tf.dispose([images, out]);
});

Deno.test("randomGrayscale() with probability 0 returns the input", () => {
  const images = seededImages(2, 3, 3);
  const out = randomGrayscale(images, new Random(1), 0);
  assert.deepEqual(out.dataSync(), images.dataSync());
  tf.dispose([images, out]);
});

Deno.test("randomGrayscale() converts about the given fraction and leaves the rest", () => {
  const images = seededImages(200, 2, 2, 3);
  const out = randomGrayscale(images, new Random(2), 0.2);
  let gray = 0;
  for (let i = 0; i < 200; i++) {
    const v = imageValues(out, i);
    const isGray = v[0] === v[1] && v[1] === v[2];
    if (isGray) gray++;
    else assert.deepEqual(v, imageValues(images, i));
  }
  assert.ok(gray >= 20 && gray <= 60, `${gray} of 200 gray`);
  assertNoLeak(() => randomGrayscale(images, new Random(2), 0.2));
  tf.dispose([images, out]);
});
