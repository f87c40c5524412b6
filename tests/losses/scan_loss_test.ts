import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { scanLoss } from "../../src/losses/scan_loss.ts";
import { Random } from "../../src/util/random.ts";
import { assertClose } from "../_assert.ts";

await initBackend("wasm");

interface ScanCase {
  anchor_logits: number[][];
  neighbour_logits: number[][];
  entropy_weight: number;
  total: number;
  consistency: number;
  entropy: number;
}
const reference = JSON.parse(
  await Deno.readTextFile(
    new URL("../../fixtures/reference/scan_reference_values.json", import.meta.url),
  ),
) as { scan_loss: ScanCase[] };

/** The three parts as numbers, with a leak check around the loss. */
function evaluate(
  anchors: tf.Tensor2D,
  neighbours: tf.Tensor2D,
  weight?: number,
): { total: number; consistency: number; entropy: number } {
  const before = tf.memory().numTensors;
  const parts = scanLoss(anchors, neighbours, weight);
  const values = {
    total: parts.total.dataSync()[0],
    consistency: parts.consistency.dataSync()[0],
    entropy: parts.entropy.dataSync()[0],
  };
  tf.dispose(parts);
  assert.equal(tf.memory().numTensors, before, "scanLoss() leaked tensors");
  return values;
}

function randomLogits(rng: Random, rows: number, clusters: number, scale = 1): tf.Tensor2D {
  const values = Float32Array.from({ length: rows * clusters }, () => scale * rng.normal());
  return tf.tensor2d(values, [rows, clusters]);
}

/** Logits that put row i in cluster `assign(i)` with probability about 1. */
function confidentLogits(rows: number, clusters: number, assign: (i: number) => number) {
  const values = new Float32Array(rows * clusters);
  for (let i = 0; i < rows; i++) values[i * clusters + assign(i)] = 40;
  return tf.tensor2d(values, [rows, clusters]);
}

Deno.test("scanLoss() matches the official SCANLoss reference values", () => {
  for (const c of reference.scan_loss) {
    const anchors = tf.tensor2d(c.anchor_logits);
    const neighbours = tf.tensor2d(c.neighbour_logits);
    const parts = evaluate(anchors, neighbours, c.entropy_weight);
    assertClose(parts.consistency, c.consistency);
    assertClose(parts.entropy, c.entropy);
    assertClose(parts.total, c.total);
    tf.dispose([anchors, neighbours]);
  }
});

Deno.test("scanLoss() is -lambda log C for confident, agreeing pairs spread over all clusters", () => {
  const clusters = 5;
  const anchors = confidentLogits(20, clusters, (i) => i % clusters);
  const parts = evaluate(anchors, anchors, 3);
  assert.ok(Math.abs(parts.consistency) < 1e-6, `consistency ${parts.consistency}`);
  assertClose(parts.entropy, Math.log(clusters));
  assertClose(parts.total, -3 * Math.log(clusters));
  anchors.dispose();
});

Deno.test("scanLoss() has zero entropy when every anchor is in one cluster", () => {
  const anchors = confidentLogits(8, 4, () => 2);
  const parts = evaluate(anchors, anchors);
  assert.ok(Math.abs(parts.entropy) < 1e-5, `entropy ${parts.entropy}`);
  assertClose(parts.total, parts.consistency - 5 * parts.entropy);
  anchors.dispose();
});

Deno.test("scanLoss() is symmetric in anchor and neighbour for the consistency term", () => {
  const rng = new Random(21);
  const a = randomLogits(rng, 12, 6, 3);
  const b = randomLogits(rng, 12, 6, 3);
  assertClose(evaluate(a, b).consistency, evaluate(b, a).consistency);
  // Renaming the clusters changes nothing.
  const order = [3, 0, 5, 1, 4, 2];
  const [pa, pb] = tf.tidy(() => [tf.gather(a, order, 1), tf.gather(b, order, 1)]);
  const original = evaluate(a, b);
  const renamed = evaluate(pa as tf.Tensor2D, pb as tf.Tensor2D);
  assertClose(renamed.total, original.total);
  assertClose(renamed.entropy, original.entropy);
  tf.dispose([a, b, pa, pb]);
});

Deno.test("scanLoss() goes down under a few gradient steps", () => {
  const rng = new Random(23);
  const anchors = tf.variable(randomLogits(rng, 16, 4));
  const neighbours = tf.variable(randomLogits(rng, 16, 4));
  const optimizer = tf.train.adam(0.1);
  const step = () => {
    const loss = optimizer.minimize(() => scanLoss(anchors, neighbours, 2).total, true)!;
    const value = loss.dataSync()[0];
    loss.dispose();
    return value;
  };
  // The first step creates Adam's moment variables; every later one must leave nothing behind.
  step();
  const before = tf.memory().numTensors;
  const first = step();
  assert.equal(tf.memory().numTensors, before, "a training step leaked tensors");
  let last = first;
  for (let i = 0; i < 20; i++) last = step();
  assert.ok(last < first - 0.5, `${first} -> ${last}`);
  tf.dispose([anchors, neighbours]);
  optimizer.dispose();
});

Deno.test("scanLoss() stays finite with extreme logits and clamps like BCELoss", () => {
  const anchors = confidentLogits(6, 3, () => 0);
  const disagreeing = tf.tidy(() => tf.mul(confidentLogits(6, 3, () => 1), 1e3)) as tf.Tensor2D;
  const extremeAnchors = tf.tidy(() => tf.mul(anchors, 1e3)) as tf.Tensor2D;
  const parts = evaluate(extremeAnchors, disagreeing, 1);
  // log <p, q> is about -80000 here; the official BCE clamps log() at -100.
  assertClose(parts.consistency, 100);
  assert.ok(Number.isFinite(parts.total) && Number.isFinite(parts.entropy));

  const rng = new Random(29);
  const wild = randomLogits(rng, 8, 5, 1e4);
  const other = randomLogits(rng, 8, 5, 1e4);
  const before = tf.memory().numTensors;
  const grads = tf.grads((a: tf.Tensor, n: tf.Tensor) =>
    scanLoss(a as tf.Tensor2D, n as tf.Tensor2D).total
  )([wild, other]);
  for (const g of grads) assert.ok(g.dataSync().every(Number.isFinite), "gradient not finite");
  tf.dispose(grads);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([anchors, disagreeing, extremeAnchors, wild, other]);
});

Deno.test("scanLoss() lets NaN logits show as a NaN loss", () => {
  const anchors = tf.tensor2d([[Number.NaN, 1], [0, 1]]);
  const neighbours = tf.tensor2d([[0, 1], [0, 1]]);
  const parts = evaluate(anchors, neighbours);
  assert.ok(Number.isNaN(parts.total), "a diverged head must not look like a finite loss");
  tf.dispose([anchors, neighbours]);
});

Deno.test("scanLoss() rejects mismatched shapes and a non-finite weight", () => {
  const a = tf.zeros([4, 3]) as tf.Tensor2D;
  const b = tf.zeros([4, 2]) as tf.Tensor2D;
  assert.throws(() => scanLoss(a, b), /neighbourLogits must have the shape of anchorLogits/);
  assert.throws(() => scanLoss(a, a, Number.NaN), RangeError);
  const empty = tf.zeros([0, 3]) as tf.Tensor2D;
  assert.throws(() => scanLoss(empty, empty), RangeError);
  tf.dispose([a, b, empty]);
});
