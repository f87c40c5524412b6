import assert from "node:assert/strict";
import { diagnoseModel, labelFreeStats, topClusters } from "../../src/eval/selflabel_diagnosis.ts";

// 6 images, 2 clusters: rows of probabilities. Cluster 1 is class 0, cluster 0 is class 1.
const probs = Float32Array.from([
  0.01,
  0.99, // class 0, confident, right
  0.2,
  0.8, // class 0, right
  0.995,
  0.005, // class 0, confident, wrong
  0.999,
  0.001, // class 1, confident, right
  0.7,
  0.3, // class 1, right
  0.6,
  0.4, // class 1, right
]);
const labels = Int32Array.from([0, 0, 0, 1, 1, 1]);

Deno.test("topClusters() takes each row's most probable cluster", () => {
  const { clusters, confidence } = topClusters(probs, 6, 2);
  assert.deepEqual([...clusters], [1, 1, 0, 0, 0, 0]);
  assert.ok(Math.abs(confidence[3] - 0.999) < 1e-6);
});

Deno.test("diagnoseModel() measures the confident set's purity and balance, and the confusion", () => {
  const d = diagnoseModel(probs, labels, 2, 0.98);
  assert.equal(d.accuracy, 5 / 6);
  // Above 0.98: image 0 (right), image 2 (wrong), image 3 (right).
  assert.equal(d.confident.count, 3);
  assert.equal(d.confident.purity, 2 / 3);
  // Confident per cluster: cluster 0 has images 2 and 3, cluster 1 image 0.
  assert.deepEqual(d.confident.perCluster, [2, 1]);
  assert.equal(d.confident.balance, 1 / 2);
  // Class 0: 2 of 3 right, 1 taken for class 1; class 1: all right.
  assert.deepEqual(d.confusion, [[2, 1], [0, 3]]);
  assert.deepEqual(d.perClass[0], { recall: 2 / 3, confusedWith: 1, confusedFraction: 1 / 3 });
  assert.equal(d.perClass[1].recall, 1);
});

Deno.test("labelFreeStats() counts neighbour agreement without the image itself", () => {
  // Each image's neighbours: itself, then the next image (cyclic).
  const indices = Int32Array.from([0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 0]);
  const stats = labelFreeStats(probs, 6, 2, 0.98, { indices, k: 2 });
  // Clusters 1 1 0 0 0 0: pairs (0,1) same, (1,2) no, (2,3) same, (3,4) same, (4,5) same, (5,0) no.
  assert.equal(stats.neighbourAgreement, 4 / 6);
  assert.equal(stats.confidentFraction, 3 / 6);
  const sizes = [4 / 6, 2 / 6];
  const entropy = -sizes.reduce((h, p) => h + p * Math.log(p), 0) / Math.log(2);
  assert.ok(Math.abs(stats.sizeEntropy - entropy) < 1e-9);
  assert.ok(Number.isNaN(labelFreeStats(probs, 6, 2, 0.98).neighbourAgreement));
});
