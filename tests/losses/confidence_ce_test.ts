import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { confidenceCrossEntropy, confidenceTargets } from "../../src/losses/confidence_ce.ts";
import { Random } from "../../src/util/random.ts";
import { assertClose } from "../_assert.ts";

await initBackend("wasm");

interface ConfidenceCase {
  weak_logits: number[][];
  strong_logits: number[][];
  threshold: number;
  class_balanced: boolean;
  loss: number;
  num_confident: number;
}
const reference = JSON.parse(
  await Deno.readTextFile(
    new URL("../../fixtures/reference/scan_reference_values.json", import.meta.url),
  ),
) as { confidence_ce: ConfidenceCase[] };

function lossValue(strong: tf.Tensor2D, targets: Int32Array, weights: Float32Array): number {
  const before = tf.memory().numTensors;
  const loss = confidenceCrossEntropy(strong, targets, weights);
  const value = loss.dataSync()[0];
  loss.dispose();
  assert.equal(tf.memory().numTensors, before, "confidenceCrossEntropy() leaked tensors");
  return value;
}

function randomLogits(rng: Random, rows: number, clusters: number, scale: number): tf.Tensor2D {
  const values = Float32Array.from({ length: rows * clusters }, () => scale * rng.normal());
  return tf.tensor2d(values, [rows, clusters]);
}

Deno.test("confidenceCrossEntropy() matches the official ConfidenceBasedCE reference values", () => {
  for (const c of reference.confidence_ce) {
    const weak = tf.tensor2d(c.weak_logits);
    const strong = tf.tensor2d(c.strong_logits);
    const before = tf.memory().numTensors;
    const { targets, weights, numConfident } = confidenceTargets(
      weak,
      c.threshold,
      c.class_balanced,
    );
    assert.equal(tf.memory().numTensors, before, "confidenceTargets() leaked tensors");
    assert.equal(numConfident, c.num_confident);
    assertClose(lossValue(strong, targets, weights), c.loss);
    tf.dispose([weak, strong]);
  }
});

Deno.test("confidenceTargets() weights confident rows by inverse pseudo-class frequency", () => {
  // Rows 0-2 confidently cluster 0, row 3 confidently cluster 1, row 4 unsure.
  const weak = tf.tensor2d([[9, 0, 0], [8, 0, 0], [10, 0, 0], [0, 12, 0], [1, 1, 0.5]]);
  const balanced = confidenceTargets(weak, 0.99, true);
  assert.equal(balanced.numConfident, 4);
  assert.deepEqual([...balanced.targets], [0, 0, 0, 1, 0]);
  assert.deepEqual([...balanced.weights].map((w) => +w.toFixed(5)), [
    1.33333,
    1.33333,
    1.33333,
    4,
    0,
  ]);
  // Each row's highest softmax probability, e.g. row 4: e^1 / (2 e^1 + e^0.5).
  const e = Math.exp;
  const expected = [e(9) / (e(9) + 2), e(8) / (e(8) + 2), e(10) / (e(10) + 2), e(12) / (e(12) + 2)];
  expected.push(e(1) / (2 * e(1) + e(0.5)));
  assert.deepEqual(
    [...balanced.confidence].map((c) => +c.toFixed(5)),
    expected.map((c) => +c.toFixed(5)),
  );
  const plain = confidenceTargets(weak, 0.99, false);
  assert.deepEqual([...plain.weights], [1, 1, 1, 1, 0]);
  // The threshold is strict, as in the official `max_prob > threshold`.
  assert.equal(confidenceTargets(weak, 0.9999, true).numConfident, 2);
  weak.dispose();
});

Deno.test("confidenceCrossEntropy() is the weighted mean cross-entropy of the selected rows", () => {
  const strong = randomLogits(new Random(31), 6, 4, 2);
  const logits = strong.arraySync();
  const targets = Int32Array.from([0, 3, 1, 2, 2, 0]);
  const weights = Float32Array.from([1, 0, 2, 0.5, 0, 3]);
  let sum = 0, total = 0;
  logits.forEach((row, i) => {
    const logSum = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
    sum += weights[i] * (logSum - row[targets[i]]);
    total += weights[i];
  });
  assertClose(lossValue(strong, targets, weights), sum / total);
  strong.dispose();
});

Deno.test("confidenceCrossEntropy() has gradient only in confident rows", () => {
  const strong = randomLogits(new Random(37), 5, 3, 1);
  const targets = Int32Array.from([0, 1, 2, 0, 1]);
  const weights = Float32Array.from([1, 0, 1, 0, 2]);
  const gradient = tf.grad((x: tf.Tensor) =>
    confidenceCrossEntropy(x as tf.Tensor2D, targets, weights)
  )(strong).arraySync() as number[][];
  gradient.forEach((row, i) => {
    const norm = row.reduce((s, v) => s + Math.abs(v), 0);
    if (weights[i] === 0) assert.equal(norm, 0, `row ${i}`);
    else assert.ok(norm > 1e-3, `row ${i}`);
    // Softmax cross-entropy gradients sum to zero along the classes.
    assert.ok(Math.abs(row.reduce((s, v) => s + v, 0)) < 1e-6);
  });
  strong.dispose();
});

Deno.test("confidenceCrossEntropy() is a connected zero when no image is confident", () => {
  const weak = randomLogits(new Random(41), 8, 10, 0.1);
  const strong = randomLogits(new Random(43), 8, 10, 1);
  const { targets, weights, numConfident } = confidenceTargets(weak);
  assert.equal(numConfident, 0);
  assert.equal(lossValue(strong, targets, weights), 0);
  const before = tf.memory().numTensors;
  const gradient = tf.grad((x: tf.Tensor) =>
    confidenceCrossEntropy(x as tf.Tensor2D, targets, weights)
  )(strong);
  assert.ok(gradient.dataSync().every((v) => v === 0));
  gradient.dispose();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([weak, strong]);
});

Deno.test("confidenceCrossEntropy() goes down under a few gradient steps", () => {
  const rng = new Random(47);
  const weak = randomLogits(rng, 32, 5, 6);
  const { targets, weights, numConfident } = confidenceTargets(weak, 0.9);
  assert.ok(numConfident > 4, `only ${numConfident} confident`);
  const strong = tf.variable(randomLogits(rng, 32, 5, 1));
  const optimizer = tf.train.sgd(5);
  const step = () => {
    const loss = optimizer.minimize(() => confidenceCrossEntropy(strong, targets, weights), true)!;
    const value = loss.dataSync()[0];
    loss.dispose();
    return value;
  };
  const before = tf.memory().numTensors;
  const first = step();
  let last = first;
  for (let i = 0; i < 10; i++) last = step();
  assert.equal(tf.memory().numTensors, before, "a training step leaked tensors");
  assert.ok(last < first / 2, `${first} -> ${last}`);
  tf.dispose([weak, strong]);
  optimizer.dispose();
});

Deno.test("confidenceCrossEntropy() stays finite with extreme and infinite logits", () => {
  const strong = tf.tensor2d([[1e6, -1e6, 0], [-Infinity, 5, 1], [3, 2, 1]]);
  const targets = Int32Array.from([1, 1, 0]);
  const weights = Float32Array.from([1, 1, 0]);
  const value = lossValue(strong, targets, weights);
  assert.ok(Number.isFinite(value), `loss ${value}`);
  assertClose(value, (2e6 + Math.log(1 + Math.exp(-4) + Math.exp(-Infinity))) / 2);
  const weak = tf.tensor2d([[Number.NaN, 1], [1e5, 0]]);
  const selected = confidenceTargets(weak);
  assert.deepEqual([...selected.weights], [0, 1], "a NaN row is never a pseudo-label");
  tf.dispose([strong, weak]);
});

Deno.test("confidenceCrossEntropy() and confidenceTargets() reject malformed inputs", () => {
  const strong = tf.zeros([3, 4]) as tf.Tensor2D;
  const ok = Float32Array.from([1, 1, 1]);
  assert.throws(
    () => confidenceCrossEntropy(strong, Int32Array.from([0, 1]), ok),
    /one entry per row \(3\)/,
  );
  assert.throws(
    () => confidenceCrossEntropy(strong, Int32Array.from([0, 4, 1]), ok),
    /targets must be in \[0, 4\), current value at row 1 is 4/,
  );
  assert.throws(
    () => confidenceCrossEntropy(strong, Int32Array.from([0, 1, 1]), Float32Array.from([1, -1, 0])),
    RangeError,
  );
  assert.throws(() => confidenceTargets(strong, 1), /threshold must be in \[0, 1\)/);
  strong.dispose();
});
