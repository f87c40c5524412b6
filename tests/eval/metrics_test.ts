import assert from "node:assert/strict";
import { clusteringMetrics } from "../../src/eval/metrics.ts";
import { Random } from "../../src/util/random.ts";
import { assertClose } from "../_assert.ts";

interface MetricsCase {
  truth: number[];
  predicted: number[];
  num_classes: number;
  accuracy: number;
  nmi: number;
  ari: number;
}
const reference = JSON.parse(
  await Deno.readTextFile(
    new URL("../../fixtures/reference/scan_reference_values.json", import.meta.url),
  ),
) as { metrics: MetricsCase[] };

/** The metrics are float64 computations checked against float64 references. */
const EXACT = { rtol: 0, atol: 1e-9 };

Deno.test("clusteringMetrics() matches the scikit-learn / scipy reference values", () => {
  for (const c of reference.metrics) {
    const scores = clusteringMetrics(c.truth, c.predicted, c.num_classes);
    assertClose(scores.accuracy, c.accuracy, EXACT);
    assertClose(scores.nmi, c.nmi, EXACT);
    assertClose(scores.ari, c.ari, EXACT);
  }
});

Deno.test("clusteringMetrics() is perfect for a renaming of the classes", () => {
  const rng = new Random(61);
  const truth = Array.from({ length: 300 }, () => rng.int(6));
  const renaming = [4, 0, 5, 2, 1, 3];
  const predicted = truth.map((label) => renaming[label]);
  const scores = clusteringMetrics(truth, Int32Array.from(predicted));
  assert.equal(scores.accuracy, 1);
  assert.equal(scores.manyToOneAccuracy, 1);
  assertClose(scores.nmi, 1, EXACT);
  assertClose(scores.ari, 1, EXACT);
  // mapping[cluster] is the class it stands for: the inverse of the renaming.
  renaming.forEach((cluster, label) => assert.equal(scores.mapping[cluster], label));
});

Deno.test("clusteringMetrics() scores overclustering with many-to-one accuracy", () => {
  const truth = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
  // Each class split into two clusters: one-to-one can match only 3 of the 6.
  const predicted = [0, 0, 3, 3, 1, 1, 4, 4, 2, 2, 5, 5];
  const scores = clusteringMetrics(truth, predicted, 3);
  assert.equal(scores.manyToOneAccuracy, 1);
  assert.equal(scores.accuracy, 0.5);
  assert.equal(scores.mapping.length, 6);
  assert.equal(scores.mapping.filter((label) => label === -1).length, 3);
  assert.deepEqual([...new Set(scores.mapping.filter((l) => l >= 0))].sort(), [0, 1, 2]);
});

Deno.test("clusteringMetrics() counts absent classes and fewer clusters than classes", () => {
  const truth = [0, 0, 1, 1, 2, 2];
  const predicted = [1, 1, 0, 0, 0, 0];
  const scores = clusteringMetrics(truth, predicted, 5);
  assertClose(scores.accuracy, 4 / 6, EXACT);
  assertClose(scores.manyToOneAccuracy, 4 / 6, EXACT);
  assert.deepEqual(scores.mapping.length, 2);
  assert.equal(scores.mapping[1], 0);
});

Deno.test("clusteringMetrics() NMI and ARI are symmetric and chance-level for one cluster", () => {
  const rng = new Random(67);
  const truth = Array.from({ length: 500 }, () => rng.int(4));
  const predicted = truth.map((label) => (rng.next() < 0.3 ? rng.int(5) : label));
  const forward = clusteringMetrics(truth, predicted);
  const backward = clusteringMetrics(predicted, truth);
  assertClose(forward.nmi, backward.nmi, EXACT);
  assertClose(forward.ari, backward.ari, EXACT);
  assert.ok(forward.nmi > 0.3 && forward.nmi < 1 && forward.ari > 0.3 && forward.ari < 1);

  const single = clusteringMetrics(truth, new Array(500).fill(0));
  assert.equal(single.nmi, 0);
  assertClose(single.ari, 0, EXACT);
  // Both sides one label: scikit-learn calls it a perfect match.
  const trivial = clusteringMetrics([2, 2, 2], [0, 0, 0]);
  assert.equal(trivial.nmi, 1);
  assert.equal(trivial.ari, 1);
  assert.equal(trivial.accuracy, 1);
});

Deno.test("clusteringMetrics() rejects mismatched lengths and invalid labels", () => {
  assert.throws(() => clusteringMetrics([0, 1], [0]), /current lengths are 2 and 1/);
  assert.throws(() => clusteringMetrics([], []), RangeError);
  assert.throws(() => clusteringMetrics([0, -1], [0, 0]), /truth labels must be non-negative/);
  assert.throws(() => clusteringMetrics([0, 1], [0, 0.5]), /predicted labels/);
});
