import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { colourJitter } from "../../src/augment/colour_jitter.ts";
import {
  applyColourTransforms,
  GRAY_WEIGHTS,
  hueMatrix,
  saturationMatrix,
} from "../../src/augment/colour_matrix.ts";
import { Random } from "../../src/util/random.ts";
import { assertNoLeak, imageValues, seededImages } from "./_helpers.ts";
import { assertAllClose } from "../_assert.ts";

await initBackend("wasm");

const NONE = { jitterProbability: 1, brightness: 0, contrast: 0, saturation: 0, hue: 0 };

function apply3(m: number[], rgb: number[]): number[] {
  return [0, 1, 2].map((c) => m[3 * c] * rgb[0] + m[3 * c + 1] * rgb[1] + m[3 * c + 2] * rgb[2]);
}

function luma(values: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let p = 0; p < values.length; p += 3) {
    out.push(
      GRAY_WEIGHTS[0] * values[p] + GRAY_WEIGHTS[1] * values[p + 1] +
        GRAY_WEIGHTS[2] * values[p + 2],
    );
  }
  return out;
}

/** Images in [0.3, 0.6], so factors near 1 never clip. */
function midImages(batch: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => tf.add(tf.mul(seededImages(batch, 4, 4, seed), 0.3), 0.3) as tf.Tensor4D);
}

Deno.test("colourJitter() with probability 0 returns the input", () => {
  const images = seededImages(4, 4, 4);
  const out = colourJitter(images, new Random(1), {
    jitterProbability: 0,
    brightness: 0.4,
    contrast: 0.4,
    saturation: 0.4,
    hue: 0.1,
  });
  assert.deepEqual(out.dataSync(), images.dataSync());
  tf.dispose([images, out]);
});

Deno.test("colourJitter() brightness scales each image by its own factor in range", () => {
  const images = midImages(8, 2);
  const out = colourJitter(images, new Random(3), { ...NONE, brightness: 0.4 });
  const factors = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const input = imageValues(images, i);
    const output = imageValues(out, i);
    const factor = output[0] / input[0];
    assert.ok(factor >= 0.6 && factor <= 1.4, `factor ${factor}`);
    assertAllClose(output, input.map((v) => Math.min(1, v * factor)), 1e-5);
    factors.add(factor.toFixed(4));
  }
  assert.ok(factors.size > 1, "images share one factor");
  tf.dispose([images, out]);
});

Deno.test("colourJitter() contrast and saturation keep an unclipped image's mean luma", () => {
  const images = midImages(6, 4);
  const out = colourJitter(images, new Random(5), { ...NONE, contrast: 0.3, saturation: 0.3 });
  for (let i = 0; i < 6; i++) {
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    assert.ok(
      Math.abs(mean(luma(imageValues(out, i))) - mean(luma(imageValues(images, i)))) < 1e-3,
    );
    assert.notDeepEqual(imageValues(out, i), imageValues(images, i));
  }
  tf.dispose([images, out]);
});

Deno.test("hueMatrix() keeps grays and luma, turns red towards green, and is periodic", () => {
  assertAllClose(apply3(hueMatrix(0.2), [0.5, 0.5, 0.5]), [0.5, 0.5, 0.5], 1e-3);
  const turned = apply3(hueMatrix(1 / 3), [1, 0, 0]);
  assert.ok(turned[1] > turned[0] && turned[1] > turned[2], `red became ${turned}`);
  assertAllClose(luma(turned), luma([1, 0, 0]), 2e-3);
  assertAllClose(hueMatrix(1), hueMatrix(0), 1e-9);
  assertAllClose(hueMatrix(0), [1, 0, 0, 0, 1, 0, 0, 0, 1], 1e-9);
});

Deno.test("applyColourTransforms() applies each image's matrix and contrast term", () => {
  const images = midImages(2, 6);
  const matrices = new Float32Array([...saturationMatrix(0), ...[0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5]]);
  const out = applyColourTransforms(images, matrices, new Float32Array([0, 0.5]));
  const gray = luma(imageValues(images, 0));
  assertAllClose(imageValues(out, 0), gray.flatMap((g) => [g, g, g]), 1e-5);
  const input1 = imageValues(images, 1);
  const mean1 = luma(input1).reduce((a, b) => a + b, 0) / 16;
  assertAllClose(imageValues(out, 1), input1.map((v) => 0.5 * v + 0.5 * mean1), 1e-5);
  tf.dispose([images, out]);
});

Deno.test("colourJitter() is seeded and leaks no tensor", () => {
  const images = seededImages(4, 4, 4);
  const options = {
    jitterProbability: 0.8,
    brightness: 0.4,
    contrast: 0.4,
    saturation: 0.4,
    hue: 0.1,
  };
  const a = colourJitter(images, new Random(7), options);
  const b = colourJitter(images, new Random(7), options);
  assert.deepEqual(a.dataSync(), b.dataSync());
  assertNoLeak(() => colourJitter(images, new Random(7), options));
  tf.dispose([images, a, b]);
});
