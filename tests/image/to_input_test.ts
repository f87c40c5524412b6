import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/backend.ts";
import { toModelInput, toPixels } from "../../src/image/to_input.ts";
import { Random } from "../../src/util/random.ts";

await initBackend("wasm");

function randomImage(width: number, height: number, seed: number) {
  const rng = new Random(seed);
  return {
    width,
    height,
    rgb: Uint8Array.from({ length: width * height * 3 }, () => rng.int(256)),
  };
}

Deno.test("toModelInput() gives [B, S, S, 3] in [0, 1] for mixed sizes, without leaking", () => {
  const images = [
    randomImage(32, 32, 1),
    randomImage(1, 300, 2),
    randomImage(500, 120, 3),
    randomImage(7, 5, 4),
  ];
  const before = tf.memory().numTensors;
  const input = toModelInput(images, 24);
  assert.deepEqual(input.shape, [4, 24, 24, 3]);
  assert.equal(input.dtype, "float32");
  const values = input.dataSync();
  assert.ok(values.every((v) => v >= 0 && v <= 1));
  input.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("toModelInput() at the image's own size only rescales to [0, 1]", () => {
  const image = randomImage(8, 8, 5);
  const input = toModelInput([image], 8);
  const values = input.dataSync();
  input.dispose();
  for (let i = 0; i < values.length; i++) {
    assert.ok(Math.abs(values[i] - image.rgb[i] / 255) < 1e-6);
  }
});

Deno.test("toModelInput() replicates one-channel gray to 3 equal channels", () => {
  const rng = new Random(6);
  const gray = Uint8Array.from({ length: 10 * 6 }, () => rng.int(256));
  const input = toModelInput([{ width: 10, height: 6, rgb: gray }], 16);
  const values = input.dataSync();
  input.dispose();
  for (let i = 0; i < values.length; i += 3) {
    assert.equal(values[i], values[i + 1]);
    assert.equal(values[i], values[i + 2]);
  }
});

Deno.test("toModelInput() keeps a constant image constant, whatever the scale", () => {
  for (const [w, h] of [[3, 3], [100, 40], [1, 1], [257, 64]]) {
    const rgb = new Uint8Array(w * h * 3);
    for (let i = 0; i < w * h; i++) rgb.set([255, 51, 0], i * 3);
    const input = toModelInput([{ width: w, height: h, rgb }], 32);
    const values = input.dataSync();
    input.dispose();
    for (let i = 0; i < values.length; i += 3) {
      assert.ok(
        Math.abs(values[i] - 1) < 1e-5 && Math.abs(values[i + 1] - 0.2) < 1e-5 &&
          values[i + 2] < 1e-6,
      );
    }
  }
});

Deno.test("toModelInput() averages fine stripes when shrinking instead of aliasing them", () => {
  const w = 320;
  const rgb = new Uint8Array(w * w * 3);
  for (let y = 0; y < w; y++) rgb.fill(y % 2 ? 255 : 0, y * w * 3, (y + 1) * w * 3);
  const input = toModelInput([{ width: w, height: w, rgb }], 32);
  const values = input.dataSync();
  input.dispose();
  for (const v of values) assert.ok(Math.abs(v - 0.5) < 0.01, `value ${v}`);
});

Deno.test("toPixels() gives S * S * 3 bytes matching toModelInput", () => {
  const image = randomImage(45, 30, 7);
  const pixels = toPixels(image.rgb, image.width, image.height, 32);
  assert.equal(pixels.length, 32 * 32 * 3);
  const input = toModelInput([image], 32);
  const values = input.dataSync();
  input.dispose();
  for (let i = 0; i < values.length; i++) {
    assert.ok(Math.abs(pixels[i] / 255 - values[i]) <= 0.5 / 255 + 1e-6);
  }
  const before = tf.memory().numTensors;
  toPixels(image.rgb, image.width, image.height, 16);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("toModelInput() rejects mismatched buffers and sizes", () => {
  assert.throws(
    () => toModelInput([{ width: 2, height: 2, rgb: new Uint8Array(5) }]),
    /needs 12 RGB or 4 gray bytes/,
  );
  assert.throws(() => toModelInput([], 0), RangeError);
  const empty = toModelInput([], 8);
  assert.deepEqual(empty.shape, [0, 8, 8, 3]);
  empty.dispose();
});

Deno.test("toModelInput() samples at half-pixel centres", () => {
  const gray = new Uint8Array([0, 200, 100, 40]);
  const input = toModelInput([{ width: 2, height: 2, rgb: gray }], 4);
  const values = input.dataSync();
  input.dispose();
  const at = (x: number, y: number) => values[(y * 4 + x) * 3] * 255;
  assert.ok(Math.abs(at(0, 0) - 0) < 1e-3);
  assert.ok(Math.abs(at(1, 0) - 50) < 1e-3);
  assert.ok(Math.abs(at(3, 3) - 40) < 1e-3);
  assert.ok(
    Math.abs(
      at(1, 1) - (0.75 * 0.75 * 0 + 0.75 * 0.25 * 200 + 0.25 * 0.75 * 100 + 0.25 * 0.25 * 40),
    ) < 1e-3,
  );
});
