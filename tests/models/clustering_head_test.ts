import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { buildClusteringHead, reinitialiseHead } from "../../src/models/clustering_head.ts";

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

Deno.test("reinitialiseHead() gives one head fresh weights from its seed and leaves the rest", () => {
  const [a, b] = [7, 7].map((seed) => buildClusteringHead(16, 4, 3, seed));
  const values = (model: typeof a) => model.getWeights().map((w) => Array.from(w.dataSync()));
  const before = values(a);
  const tensors = tf.memory().numTensors;
  reinitialiseHead(a, 1, 99);
  reinitialiseHead(b, 1, 99);
  assert.equal(tf.memory().numTensors, tensors, "no tensor left behind");
  const after = values(a);
  // Weights are [kernel, bias] per head, heads in order: head 1 is arrays 2 and 3.
  assert.deepEqual([after[0], after[1], after[4], after[5]], [
    before[0],
    before[1],
    before[4],
    before[5],
  ]);
  assert.notDeepEqual(after[2], before[2]);
  assert.notDeepEqual(after[3], before[3]);
  assert.deepEqual(after, values(b), "the same seed gives the same fresh head");
  const bound = 1 / Math.sqrt(16);
  assert.ok([...after[2], ...after[3]].every((w) => Math.abs(w) <= bound), "nn.Linear's range");
  assert.throws(() => reinitialiseHead(a, 3, 1), /has no head_3/);
  [a, b].forEach((model) => model.dispose());
});
