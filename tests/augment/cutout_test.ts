import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { cutout, sampleHoles } from "../../src/augment/cutout.ts";
import { Random } from "../../src/util/random.ts";
import { assertNoLeak, imageValues } from "./_helpers.ts";

await initBackend("wasm");

const SIZE = 12;

function ones(batch: number): tf.Tensor4D {
  return tf.ones([batch, SIZE, SIZE, 3]) as tf.Tensor4D;
}

/** The bounding box and count of the pixels of one image whose channels all equal `value`. */
function region(values: Float32Array, value: number) {
  let count = 0;
  let top = SIZE, bottom = -1, left = SIZE, right = -1;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const p = (y * SIZE + x) * 3;
      if ([0, 1, 2].every((c) => values[p + c] === value)) {
        count++;
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
        left = Math.min(left, x);
        right = Math.max(right, x);
      }
    }
  }
  return { count, top, bottom: bottom + 1, left, right: right + 1 };
}

Deno.test("cutout() zeroes exactly the drawn square and keeps every other pixel", () => {
  const images = ones(16);
  const options = { holes: 1, length: 6, randomLength: false, fill: 0 };
  const out = cutout(images, new Random(3), options);
  const rng = new Random(3);
  let fullSquares = 0;
  for (let i = 0; i < 16; i++) {
    const [hole] = sampleHoles(rng, SIZE, SIZE, options);
    const values = imageValues(out, i);
    const zeros = region(values, 0);
    const area = (hole.bottom - hole.top) * (hole.right - hole.left);
    assert.equal(zeros.count, area);
    assert.equal(region(values, 1).count, SIZE * SIZE - area);
    assert.deepEqual(
      [zeros.top, zeros.bottom, zeros.left, zeros.right],
      [hole.top, hole.bottom, hole.left, hole.right],
    );
    if (area === 36) fullSquares++;
  }
  assert.ok(fullSquares > 0, "no hole fell fully inside");
  tf.dispose([images, out]);
});

Deno.test("cutout() fills with the given value and draws lengths from 1..length", () => {
  const images = ones(40);
  const out = cutout(images, new Random(4), { holes: 1, length: 8, randomLength: true, fill: 0.5 });
  const sides = new Set<number>();
  for (let i = 0; i < 40; i++) {
    const filled = region(imageValues(out, i), 0.5);
    if (filled.count === 0) continue;
    assert.equal(filled.count, (filled.bottom - filled.top) * (filled.right - filled.left));
    const height = filled.bottom - filled.top;
    const width = filled.right - filled.left;
    assert.ok(height <= 8 && width <= 8, `hole ${height}x${width}`);
    const inside = filled.top > 0 && filled.left > 0 && filled.bottom < SIZE && filled.right < SIZE;
    if (inside) {
      assert.ok(height === width && height % 2 === 0, `unclipped hole ${height}x${width}`);
      sides.add(height);
    }
  }
  assert.ok(sides.size > 1, "all holes have one size");
  tf.dispose([images, out]);
});

Deno.test("cutout() with no holes returns the input and leaks nothing", () => {
  const images = ones(2);
  const out = cutout(images, new Random(1), { holes: 0, length: 4, randomLength: false, fill: 0 });
  assert.deepEqual(out.dataSync(), images.dataSync());
  assertNoLeak(() =>
    cutout(images, new Random(1), { holes: 2, length: 4, randomLength: true, fill: 0.2 })
  );
  tf.dispose([images, out]);
});

Deno.test("cutout() rejects a length below 1", () => {
  const images = ones(1);
  assert.throws(
    () => cutout(images, new Random(1), { holes: 1, length: 0, randomLength: false, fill: 0 }),
    RangeError,
  );
  images.dispose();
});
