import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { buildClusteringHead } from "../../src/models/clustering_head.ts";

await initBackend("wasm");

Deno.test("buildClusteringHead() with one head gives one [B, clusters] logits tensor", () => {
  const head = buildClusteringHead(16, 10, 1, 1);
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const logits = head.predict(tf.randomNormal([4, 16], 0, 1, "float32", 1));
    assert.ok(!Array.isArray(logits));
    assert.deepEqual(logits.shape, [4, 10]);
    // Logits, not probabilities: rows do not sum to one.
    const sums = tf.sum(logits, 1).dataSync();
    assert.ok(sums.some((s) => Math.abs(s - 1) > 1e-3));
  });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(head.countParams(), 16 * 10 + 10);
  head.dispose();
});

Deno.test("buildClusteringHead() with several heads gives one distinct output per head", () => {
  const head = buildClusteringHead(16, 5, 3, 2);
  assert.equal(head.countParams(), 3 * (16 * 5 + 5));
  tf.tidy(() => {
    const outputs = head.predict(tf.randomNormal([4, 16], 0, 1, "float32", 1)) as tf.Tensor[];
    assert.equal(outputs.length, 3);
    outputs.forEach((logits) => assert.deepEqual(logits.shape, [4, 5]));
    assert.notDeepEqual(outputs[0].dataSync(), outputs[1].dataSync());
    assert.notDeepEqual(outputs[1].dataSync(), outputs[2].dataSync());
  });
  head.dispose();
});

Deno.test("buildClusteringHead() gives identical weights for the same seed", () => {
  const [a, b, c] = [4, 4, 5].map((seed) => buildClusteringHead(8, 3, 2, seed));
  const values = (model: typeof a) => model.getWeights().map((w) => w.dataSync());
  assert.deepEqual(values(a), values(b));
  assert.notDeepEqual(values(a)[0], values(c)[0]);
  [a, b, c].forEach((model) => model.dispose());
});

Deno.test("buildClusteringHead() rejects fewer than two clusters or no heads", () => {
  assert.throws(() => buildClusteringHead(8, 1, 1), /clusters must be an integer of at least 2/);
  assert.throws(() => buildClusteringHead(8, 3, 0), /heads must be an integer of at least 1/);
  assert.throws(() => buildClusteringHead(8.5, 3, 1), RangeError);
});
