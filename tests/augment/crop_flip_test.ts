import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { randomResizedCropFlip, sampleCropWindow } from "../../src/augment/crop_flip.ts";
import { Random } from "../../src/util/random.ts";
import { assertNoLeak, seededImages } from "./_helpers.ts";
import { assertAllClose } from "../_assert.ts";

await initBackend("wasm");

const FULL = { cropScale: [1, 1], cropRatio: [1, 1] } as const;

Deno.test("randomResizedCropFlip() with the full window and no flip returns the input", () => {
  const images = seededImages(4, 6, 6);
  const out = randomResizedCropFlip(images, new Random(1), { ...FULL, flipProbability: 0 });
  assertAllClose(out.dataSync(), images.dataSync(), 1e-6);
  tf.dispose([images, out]);
});

Deno.test("randomResizedCropFlip() with flipProbability 1 mirrors a hand-made image", () => {
  // Two rows of three pixels; channel c of pixel (y, x) is 0.1 (3y + x) + 0.01 c.
  const values: number[] = [];
  for (let y = 0; y < 2; y++) {
    for (let x = 0; x < 3; x++) values.push(...[0, 1, 2].map((c) => 0.1 * (3 * y + x) + 0.01 * c));
  }
  const image = tf.tensor4d(values, [1, 2, 3, 3]);
  const out = randomResizedCropFlip(image, new Random(1), {
    cropScale: [1, 1],
    cropRatio: [1.5, 1.5],
    flipProbability: 1,
  });
  const mirrored: number[] = [];
  for (let y = 0; y < 2; y++) {
    for (let x = 2; x >= 0; x--) {
      mirrored.push(...values.slice((3 * y + x) * 3, (3 * y + x) * 3 + 3));
    }
  }
  assertAllClose(out.dataSync(), mirrored, 1e-6);
  tf.dispose([image, out]);
});

Deno.test("randomResizedCropFlip() maps the drawn window's corners onto the output's", () => {
  const size = 16;
  const images = seededImages(1, size, size, 2);
  const options = { cropScale: [0.2, 0.5], cropRatio: [3 / 4, 4 / 3], flipProbability: 0 } as const;
  const out = randomResizedCropFlip(images, new Random(9), options);
  const window = sampleCropWindow(new Random(9), size, size, options.cropScale, options.cropRatio);
  const input = images.dataSync();
  const output = out.dataSync();
  const pixel = (values: ArrayLike<number>, y: number, x: number) =>
    Array.from({ length: 3 }, (_, c) => values[(y * size + x) * 3 + c]);
  const bottom = window.top + window.height - 1;
  const right = window.left + window.width - 1;
  assertAllClose(pixel(output, 0, 0), pixel(input, window.top, window.left), 1e-5);
  assertAllClose(pixel(output, size - 1, size - 1), pixel(input, bottom, right), 1e-5);
  tf.dispose([images, out]);
});

Deno.test("sampleCropWindow() stays inside the image with area and ratio in range", () => {
  const rng = new Random(4);
  for (let i = 0; i < 500; i++) {
    const w = sampleCropWindow(rng, 32, 32, [0.2, 1], [3 / 4, 4 / 3]);
    assert.ok(w.top >= 0 && w.left >= 0 && w.height >= 1 && w.width >= 1);
    assert.ok(w.top + w.height <= 32 && w.left + w.width <= 32);
    const area = (w.height * w.width) / (32 * 32);
    assert.ok(area > 0.15 && area <= 1, `area ${area}`);
    const ratio = w.width / w.height;
    assert.ok(ratio > 0.65 && ratio < 1.5, `ratio ${ratio}`);
  }
});

Deno.test("randomResizedCropFlip() leaks no tensor", () => {
  const images = seededImages(3, 8, 8);
  const options = { cropScale: [0.2, 1], cropRatio: [3 / 4, 4 / 3], flipProbability: 0.5 } as const;
  assertNoLeak(() => randomResizedCropFlip(images, new Random(1), options));
  images.dispose();
});
