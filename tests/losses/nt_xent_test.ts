import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { ntXentLoss, simclrLoss } from "../../src/losses/nt_xent.ts";
import { Random } from "../../src/util/random.ts";
import { assertClose } from "../_assert.ts";

await initBackend("wasm");

interface FeatureCase {
  features: number[][][];
  temperature: number;
  loss: number;
}
const reference = JSON.parse(
  await Deno.readTextFile(
    new URL("../../fixtures/reference/scan_reference_values.json", import.meta.url),
  ),
) as { simclr_official: FeatureCase[]; ntxent_symmetric: FeatureCase[] };

/** Evaluate a loss with a leak check around it. */
function evaluate(fn: () => tf.Scalar): number {
  const before = tf.memory().numTensors;
  const loss = fn();
  const value = loss.dataSync()[0];
  loss.dispose();
  assert.equal(tf.memory().numTensors, before, "the loss leaked tensors");
  return value;
}

function randomUnitFeatures(rng: Random, batch: number, dim: number): tf.Tensor3D {
  const values = new Float32Array(batch * 2 * dim);
  for (let i = 0; i < batch * 2; i++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      values[i * dim + d] = rng.normal();
      norm += values[i * dim + d] ** 2;
    }
    for (let d = 0; d < dim; d++) values[i * dim + d] /= Math.sqrt(norm);
  }
  return tf.tensor3d(values, [batch, 2, dim]);
}

function swapViews(features: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => tf.reverse(features, 1));
}

Deno.test("simclrLoss() matches the official SCAN SimCLRLoss reference values", () => {
  for (const { features, temperature, loss } of reference.simclr_official) {
    const input = tf.tensor3d(features);
    assertClose(evaluate(() => simclrLoss(input, temperature)), loss);
    input.dispose();
  }
});

Deno.test("ntXentLoss() matches the symmetric NT-Xent reference values", () => {
  for (const { features, temperature, loss } of reference.ntxent_symmetric) {
    const input = tf.tensor3d(features);
    assertClose(evaluate(() => ntXentLoss(input, temperature)), loss);
    input.dispose();
  }
});

Deno.test("simclrLoss() and ntXentLoss() have the closed form for aligned orthogonal views", () => {
  const batch = 6, dim = 8, temperature = 0.1;
  const basis = tf.tidy(() => tf.stack([tf.eye(batch, dim), tf.eye(batch, dim)], 1)) as tf.Tensor3D;
  // Positive logit 1/tau, 2B - 2 negatives at logit 0.
  const expected = Math.log(1 + (2 * batch - 2) * Math.exp(-1 / temperature));
  assertClose(evaluate(() => simclrLoss(basis, temperature)), expected);
  assertClose(evaluate(() => ntXentLoss(basis, temperature)), expected);
  basis.dispose();
});

Deno.test("simclrLoss() is lower for aligned views than for random views", () => {
  const rng = new Random(3);
  const random = randomUnitFeatures(rng, 16, 32);
  const aligned = tf.tidy(() => {
    const view0 = tf.slice(random, [0, 0, 0], [16, 1, 32]);
    return tf.concat([view0, view0], 1);
  }) as tf.Tensor3D;
  const alignedLoss = evaluate(() => simclrLoss(aligned));
  const randomLoss = evaluate(() => simclrLoss(random));
  assert.ok(alignedLoss < randomLoss, `aligned ${alignedLoss} vs random ${randomLoss}`);
  // Random views: every logit is near 0, so the loss is near log(2B - 1).
  assert.ok(Math.abs(randomLoss - Math.log(31)) < 1.5, `random loss ${randomLoss}`);
  tf.dispose([random, aligned]);
});

Deno.test("ntXentLoss() is the mean of simclrLoss() over both view orders", () => {
  const features = randomUnitFeatures(new Random(5), 12, 16);
  const swapped = swapViews(features);
  const symmetric = evaluate(() => ntXentLoss(features, 0.2));
  assertClose(evaluate(() => ntXentLoss(swapped, 0.2)), symmetric);
  const halves = evaluate(() => simclrLoss(features, 0.2)) +
    evaluate(() => simclrLoss(swapped, 0.2));
  assertClose(symmetric, halves / 2);
  tf.dispose([features, swapped]);
});

Deno.test("simclrLoss() and ntXentLoss() do not depend on the order of the batch", () => {
  const features = randomUnitFeatures(new Random(8), 10, 8);
  const order = new Random(9).shuffle([...Array(10).keys()]);
  const permuted = tf.tidy(() => tf.gather(features, order));
  for (const loss of [simclrLoss, ntXentLoss]) {
    assertClose(evaluate(() => loss(permuted)), evaluate(() => loss(features)));
  }
  tf.dispose([features, permuted]);
});

Deno.test("simclrLoss() and ntXentLoss() go down under a few gradient steps", () => {
  for (const loss of [simclrLoss, ntXentLoss]) {
    const raw = tf.variable(randomUnitFeatures(new Random(11), 8, 16));
    const optimizer = tf.train.sgd(0.05);
    const step = () =>
      optimizer.minimize(
        () => loss(tf.div(raw, tf.norm(raw, 2, -1, true)) as tf.Tensor3D),
        true,
      ) as tf.Scalar;
    const first = evaluate(step);
    let last = first;
    for (let i = 0; i < 10; i++) last = evaluate(step);
    assert.ok(last < first - 0.1, `${loss.name}: ${first} -> ${last}`);
    raw.dispose();
    optimizer.dispose();
  }
});

/** Float64 NT-Xent over the given anchors of the 2B views (view v of image b at row v * B + b). */
function referenceLoss(values: Float32Array, batch: number, dim: number, anchors: number): number {
  const row = (i: number) => {
    const [b, view] = [i % batch, Math.floor(i / batch)];
    return values.subarray((b * 2 + view) * dim, (b * 2 + view + 1) * dim);
  };
  const dot = (x: Float32Array, y: Float32Array) => x.reduce((sum, v, d) => sum + v * y[d], 0);
  let total = 0;
  for (let i = 0; i < anchors; i++) {
    const logits = [...Array(2 * batch).keys()].filter((j) => j !== i).map((j) =>
      dot(row(i), row(j)) / 0.1
    );
    const max = Math.max(...logits);
    const logSum = max + Math.log(logits.reduce((sum, l) => sum + Math.exp(l - max), 0));
    total += logSum - dot(row(i), row((i + batch) % (2 * batch))) / 0.1;
  }
  return total / anchors;
}

Deno.test("simclrLoss() and ntXentLoss() match a float64 reference on unnormalised features", () => {
  const batch = 5, dim = 6;
  const features = tf.tidy(() => tf.mul(randomUnitFeatures(new Random(17), batch, dim), 7));
  const values = features.dataSync() as Float32Array;
  assertClose(
    evaluate(() => simclrLoss(features as tf.Tensor3D)),
    referenceLoss(values, batch, dim, batch),
  );
  assertClose(
    evaluate(() => ntXentLoss(features as tf.Tensor3D)),
    referenceLoss(values, batch, dim, 2 * batch),
  );
  features.dispose();
});

Deno.test("simclrLoss() and ntXentLoss() stay finite for unnormalised, huge features", () => {
  const huge = tf.tidy(() => tf.mul(randomUnitFeatures(new Random(13), 4, 8), 1e4)) as tf.Tensor3D;
  for (const loss of [simclrLoss, ntXentLoss]) {
    const before = tf.memory().numTensors;
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => loss(x as tf.Tensor3D))(huge);
    assert.ok(Number.isFinite(value.dataSync()[0]), `${loss.name} is ${value.dataSync()[0]}`);
    assert.ok(grad.dataSync().every(Number.isFinite), `${loss.name} gradient not finite`);
    tf.dispose([value, grad]);
    assert.equal(tf.memory().numTensors, before);
  }
  huge.dispose();
});

Deno.test("simclrLoss() rejects a malformed shape and temperature", () => {
  const wrongViews = tf.zeros([4, 3, 8]) as tf.Tensor3D;
  const features = tf.zeros([4, 2, 8]) as tf.Tensor3D;
  assert.throws(() => simclrLoss(wrongViews), RangeError);
  assert.throws(() => ntXentLoss(wrongViews), RangeError);
  assert.throws(() => simclrLoss(features, 0), /temperature must be a positive number/);
  assert.throws(() => ntXentLoss(features, Number.NaN), RangeError);
  tf.dispose([wrongViews, features]);
});

Deno.test("ntXentLoss() has the gradient of the textbook form (tf.logSumExp over the masked logits)", () => {
  const features = tf.tidy(() => {
    const raw = tf.randomNormal([6, 2, 5], 0, 1, "float32", 3);
    return tf.div(raw, tf.norm(raw, 2, 2, true)) as tf.Tensor3D;
  });
  const textbook = (x: tf.Tensor3D) => {
    const [b, , d] = x.shape;
    const v0 = tf.reshape(tf.slice(x, [0, 0, 0], [b, 1, d]), [b, d]);
    const v1 = tf.reshape(tf.slice(x, [0, 1, 0], [b, 1, d]), [b, d]);
    const z = tf.concat([v0, v1], 0);
    const logits = tf.div(tf.matMul(z, z, false, true), 0.1);
    const masked = tf.where(
      tf.cast(tf.eye(2 * b), "bool"),
      tf.fill(logits.shape, -Infinity),
      logits,
    );
    const pair = tf.div(tf.sum(tf.mul(v0, v1), 1), 0.1);
    return tf.mean(tf.sub(tf.logSumExp(masked, 1), tf.concat([pair, pair], 0))) as tf.Scalar;
  };
  const ours = tf.valueAndGrad((x: tf.Tensor) => ntXentLoss(x as tf.Tensor3D))(features);
  const theirs = tf.valueAndGrad((x: tf.Tensor) => textbook(x as tf.Tensor3D))(features);
  assert.ok(Math.abs(ours.value.dataSync()[0] - theirs.value.dataSync()[0]) < 1e-5);
  const a = ours.grad.dataSync(), b = theirs.grad.dataSync();
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `gradient ${i}`);
  tf.dispose([features, ours.value, ours.grad, theirs.value, theirs.grad]);
});
