import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { ntXentLoss } from "../../src/losses/nt_xent.ts";
import { ntXentShare } from "../../src/losses/nt_xent_rows.ts";
import { Random } from "../../src/util/random.ts";

await initBackend("wasm");

/** `[2B, D]` unit rows: every image's first view, then every image's second view. */
function contrastOf(images: number, dim: number, seed: number): Float32Array {
  const rng = new Random(seed);
  const out = new Float32Array(2 * images * dim);
  for (let r = 0; r < 2 * images; r++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      out[r * dim + d] = rng.next() * 2 - 1;
      norm += out[r * dim + d] ** 2;
    }
    for (let d = 0; d < dim; d++) out[r * dim + d] /= Math.sqrt(norm);
  }
  return out;
}

/** ntXentLoss and its gradient, both laid out as the contrast. */
function whole(contrast: Float32Array, images: number, dim: number, temperature: number) {
  return tf.tidy(() => {
    const z = tf.tensor2d(contrast, [2 * images, dim]);
    const { value, grad } = tf.valueAndGrad((c: tf.Tensor) => {
      const [v0, v1] = tf.split(c, 2);
      return ntXentLoss(tf.stack([v0, v1], 1) as tf.Tensor3D, temperature);
    })(z);
    return { loss: value.dataSync()[0], gradient: grad.dataSync() as Float32Array };
  });
}

Deno.test("ntXentShare() - shares over a partition of the images sum to ntXentLoss and its gradient", () => {
  const [images, dim, temperature] = [7, 5, 0.1];
  const contrast = contrastOf(images, dim, 3);
  const expected = whole(contrast, images, dim, temperature);
  for (const cuts of [[], [3], [1, 4], [2, 3, 6]]) {
    const bounds = [0, ...cuts, images];
    const before = tf.memory().numTensors;
    const shares = bounds.slice(1).map((end, i) =>
      ntXentShare(contrast, images, dim, bounds[i], end - bounds[i], temperature)
    );
    assert.equal(tf.memory().numTensors, before, "no tensor left behind");
    const loss = shares.reduce((sum, s) => sum + s.loss, 0);
    assert.ok(Math.abs(loss - expected.loss) < 1e-5 * expected.loss, `loss at cuts ${cuts}`);
    const gradient = new Float32Array(contrast.length);
    for (const s of shares) s.gradient.forEach((g, i) => gradient[i] += g);
    let diff = 0;
    let norm = 0;
    gradient.forEach((g, i) => {
      diff += (g - expected.gradient[i]) ** 2;
      norm += expected.gradient[i] ** 2;
    });
    assert.ok(Math.sqrt(diff / norm) < 1e-5, `gradient at cuts ${cuts}: ${Math.sqrt(diff / norm)}`);
  }
});

Deno.test("ntXentShare() - refuses a contrast of the wrong size and a share outside the batch", () => {
  const contrast = contrastOf(3, 2, 1);
  assert.throws(() => ntXentShare(contrast, 4, 2, 0, 1, 0.1), /must be \[2 \* 4, 2\]/);
  assert.throws(() => ntXentShare(contrast, 3, 2, 2, 2, 0.1), /outside the batch of 3/);
  assert.throws(() => ntXentShare(contrast, 3, 2, 0, 0, 0.1), /outside the batch/);
});
