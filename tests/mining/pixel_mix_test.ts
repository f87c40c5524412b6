import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { mineNeighbours } from "../../src/mining/knn.ts";
import { mixedDim, withPixels } from "../../src/mining/pixel_mix.ts";

await initBackend("wasm");

/** `n` gray images of side `size` from per-pixel values. */
function grayImages(values: number[][], size: number): Uint8Array {
  const out = new Uint8Array(values.length * size * size * 3);
  values.forEach((image, i) =>
    image.forEach((v, p) => out.fill(v, (i * size * size + p) * 3, (i * size * size + p + 1) * 3))
  );
  return out;
}

Deno.test("withPixels() lays unit features beside unit mean-centred gray pixels", () => {
  const features = new Float32Array([3, 4, 0, 0]);
  const pixels = grayImages([[10, 30, 10, 30], [7, 7, 7, 7]], 2);
  const mixed = withPixels(features, 2, 2, pixels, 2);
  assert.equal(mixedDim(2, 2), 6);
  assert.equal(mixed.length, 12);
  const near = (a: ArrayLike<number>, b: number[]) =>
    b.forEach((x, i) => assert.ok(Math.abs(a[i] - x) < 1e-6, `${Array.from(a)} vs ${b}`));
  // Features 3, 4 -> 0.6, 0.8; pixels 10, 30, 10, 30 -> centred -10, 10, -10, 10 -> +-0.5.
  near(mixed.subarray(0, 6), [0.6, 0.8, -0.5, 0.5, -0.5, 0.5]);
  // A zero feature row and a constant image stay zero rather than dividing by zero.
  near(mixed.subarray(6, 12), [0, 0, 0, 0, 0, 0]);
});

Deno.test("withPixels() reads gray as the mean of the channels", () => {
  const pixels = new Uint8Array([0, 0, 30, 30, 0, 0, 0, 0, 0, 0, 0, 0]);
  const mixed = withPixels(new Float32Array([1]), 1, 1, pixels, 2);
  // Gray 10, 10, 0, 0: centred 5, 5, -5, -5.
  assert.deepEqual(Array.from(mixed), [1, 0.5, 0.5, -0.5, -0.5]);
});

Deno.test("withPixels() lets the pixels break a tie the features leave", () => {
  // Images 1 and 2 have the same features; only image 2 looks like image 0.
  const features = new Float32Array([1, 0, 1, 0.01, 1, 0.01]);
  const pixels = grayImages([[0, 255, 0, 255], [255, 0, 255, 0], [0, 250, 0, 250]], 2);
  const mixed = withPixels(features, 3, 2, pixels, 2);
  const { indices } = mineNeighbours(mixed, 3, mixedDim(2, 2), 2);
  assert.equal(indices[1], 2, "image 0's nearest other image");
});

Deno.test("withPixels() refuses sizes that do not fit", () => {
  assert.throws(
    () => withPixels(new Float32Array(3), 2, 2, new Uint8Array(24), 2),
    /Cannot mix pixels into features: expected 2 x 2 features/,
  );
});
