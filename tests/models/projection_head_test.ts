import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { buildProjectionHead } from "../../src/models/projection_head.ts";

await initBackend("wasm");

Deno.test("buildProjectionHead() maps [B, inDim] to unit-norm [B, outDim] rows", () => {
  const head = buildProjectionHead(32, 24, 16, 1);
  const before = tf.memory().numTensors;
  const norms = tf.tidy(() => {
    const out = head.predict(tf.randomNormal([5, 32], 0, 3, "float32", 2)) as tf.Tensor2D;
    assert.deepEqual(out.shape, [5, 16]);
    return tf.norm(out, 2, 1).dataSync();
  });
  assert.equal(tf.memory().numTensors, before);
  norms.forEach((norm) => assert.ok(Math.abs(norm - 1) < 1e-5, `norm ${norm}`));
  head.dispose();
});

Deno.test("buildProjectionHead() defaults to 128-d output and has Dense-ReLU-Dense parameters", () => {
  const head = buildProjectionHead(128, 128);
  assert.deepEqual(head.outputs[0].shape, [null, 128]);
  assert.equal(head.countParams(), 128 * 128 + 128 + 128 * 128 + 128);
  assert.equal(head.getLayer("projection_hidden").getConfig().activation, "relu");
  head.dispose();
});

Deno.test("buildProjectionHead() gives identical weights for the same seed", () => {
  const [a, b, c] = [9, 9, 10].map((seed) => buildProjectionHead(16, 16, 8, seed));
  const values = (model: typeof a) => model.getWeights().map((w) => w.dataSync());
  assert.deepEqual(values(a), values(b));
  assert.notDeepEqual(values(a)[0], values(c)[0]);
  // nn.Linear's init: uniform in ±1/sqrt(fan_in), biases included.
  for (const w of values(a)) assert.ok(w.every((v) => Math.abs(v) <= 0.25));
  assert.ok(values(a)[1].some((v) => v !== 0));
  [a, b, c].forEach((model) => model.dispose());
});

Deno.test("buildProjectionHead() rejects a non-integer dimension", () => {
  assert.throws(() => buildProjectionHead(16, 0), /hiddenDim must be a positive integer/);
  assert.throws(() => buildProjectionHead(1.5, 16), RangeError);
});
