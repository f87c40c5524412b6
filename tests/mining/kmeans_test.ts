import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { clusteringMetrics } from "../../src/eval/metrics.ts";
import { kmeans } from "../../src/mining/kmeans.ts";
import { Random } from "../../src/util/random.ts";

await initBackend("wasm");

/** Gaussian blobs around random far-apart centres; returns the points and their blob. */
function blobs(rng: Random, perBlob: number, count: number, dim: number, spread: number) {
  const centres = Array.from(
    { length: count },
    () => Float32Array.from({ length: dim }, () => 10 * rng.normal()),
  );
  const n = perBlob * count;
  const features = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  // Interleaved so that no blob is a contiguous range of rows.
  for (let i = 0; i < n; i++) {
    labels[i] = i % count;
    for (let d = 0; d < dim; d++) {
      features[i * dim + d] = centres[labels[i]][d] + spread * rng.normal();
    }
  }
  return { features, labels, n };
}

Deno.test("kmeans() recovers well-separated blobs exactly", () => {
  const dim = 16;
  const { features, labels, n } = blobs(new Random(91), 60, 8, dim, 0.5);
  const before = tf.memory().numTensors;
  const { assignments, centroids } = kmeans(features, n, dim, 8, new Random(1));
  assert.equal(tf.memory().numTensors, before, "kmeans() leaked tensors");
  assert.equal(centroids.length, 8 * dim);
  const scores = clusteringMetrics(labels, assignments);
  assert.equal(scores.accuracy, 1);
  assert.equal(scores.ari, 1);
});

Deno.test("kmeans() centroids are the means of their points, each point at its nearest", () => {
  const dim = 5, k = 6;
  const { features, n } = blobs(new Random(93), 40, 4, dim, 8);
  const { assignments, centroids } = kmeans(features, n, dim, k, new Random(2), 100);
  const distance = (i: number, c: number) => {
    let sum = 0;
    for (let d = 0; d < dim; d++) sum += (features[i * dim + d] - centroids[c * dim + d]) ** 2;
    return sum;
  };
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      assert.ok(distance(i, assignments[i]) <= distance(i, c) + 1e-3, `point ${i}`);
    }
  }
  for (let c = 0; c < k; c++) {
    const members = [...assignments.keys()].filter((i) => assignments[i] === c);
    assert.ok(members.length > 0, `cluster ${c} is empty`);
    for (let d = 0; d < dim; d++) {
      const mean = members.reduce((s, i) => s + features[i * dim + d], 0) / members.length;
      assert.ok(Math.abs(mean - centroids[c * dim + d]) < 1e-4, `centroid ${c}`);
    }
  }
});

Deno.test("kmeans() is deterministic for a seed", () => {
  const dim = 6;
  const { features, n } = blobs(new Random(95), 30, 5, dim, 6);
  const a = kmeans(features, n, dim, 5, new Random(7));
  const b = kmeans(features, n, dim, 5, new Random(7));
  assert.deepEqual(a.assignments, b.assignments);
  assert.deepEqual(a.centroids, b.centroids);
});

Deno.test("kmeans() keeps every cluster in use with duplicated points and k = 1", () => {
  const dim = 2;
  // Four distinct points, each repeated: k = 4 must find them, with no empty or NaN centroid.
  const distinct = [[0, 0], [5, 0], [0, 5], [5, 5]];
  const features = Float32Array.from(Array.from({ length: 20 }, (_, i) => distinct[i % 4]).flat());
  const { assignments, centroids } = kmeans(features, 20, dim, 4, new Random(3));
  assert.ok(centroids.every(Number.isFinite));
  assert.equal(new Set(assignments).size, 4);
  assert.equal(
    clusteringMetrics(Array.from({ length: 20 }, (_, i) => i % 4), assignments).accuracy,
    1,
  );

  const one = kmeans(features, 20, dim, 1, new Random(3));
  assert.ok(one.assignments.every((c) => c === 0));
  assert.deepEqual([...one.centroids], [2.5, 2.5]);
});

Deno.test("kmeans() rejects a bad k, sizes and non-finite features", () => {
  const features = new Float32Array(12);
  const rng = new Random(1);
  assert.throws(
    () => kmeans(features, 4, 3, 5, rng),
    /k must be between 1 and the number of points \(4\)/,
  );
  assert.throws(() => kmeans(features, 4, 2, 2, rng), /expected 4 x 2 = 8 values/);
  assert.throws(() => kmeans(features, 4, 3, 2, rng, -1), /iterations/);
  features[4] = Infinity;
  assert.throws(() => kmeans(features, 4, 3, 2, rng), /point 1 is Infinity/);
});
