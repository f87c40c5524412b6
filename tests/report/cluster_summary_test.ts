import assert from "node:assert/strict";
import { summarizeClusters } from "../../src/report/cluster_summary.ts";

Deno.test("summarizeClusters() sorts members by confidence and reports sizes and means", () => {
  const assignments = [1, 0, 1, 1, 0];
  const confidence = [0.5, 0.9, 0.8, 0.5, 0.3];
  const summary = summarizeClusters(assignments, confidence, 3);
  assert.equal(summary.length, 3);
  assert.deepEqual(summary[0], {
    cluster: 0,
    size: 2,
    meanConfidence: (0.9 + 0.3) / 2,
    members: [1, 4],
  });
  // Ties (0.5) keep index order.
  assert.deepEqual(summary[1].members, [2, 0, 3]);
  assert.equal(summary[1].size, 3);
  assert.ok(Math.abs(summary[1].meanConfidence! - 0.6) < 1e-12);
  assert.deepEqual(summary[2], { cluster: 2, size: 0, meanConfidence: null, members: [] });
});

Deno.test("summarizeClusters() gives majority class and purity over labelled members", () => {
  const assignments = [0, 0, 0, 0, 1, 1];
  const confidence = [1, 1, 1, 1, 1, 1];
  // Cluster 0: classes 2, 2, 1 and one unknown; cluster 1: a tie of 3 and 0, and the smaller wins.
  const labels = [2, -1, 1, 2, 3, 0];
  const summary = summarizeClusters(assignments, confidence, 3, labels);
  assert.deepEqual(summary[0].majority, { label: 2, count: 2, purity: 2 / 3 });
  assert.deepEqual(summary[1].majority, { label: 0, count: 1, purity: 0.5 });
  assert.equal(summary[2].majority, undefined);
  assert.equal(
    summarizeClusters([0], [1], 1, [-1])[0].majority,
    undefined,
    "no labelled member, no majority",
  );
});

Deno.test("summarizeClusters() rejects mismatched lengths and out-of-range clusters", () => {
  assert.throws(() => summarizeClusters([0, 1], [1], 2), {
    name: "RangeError",
    message: /same length, current lengths are 2, 1/,
  });
  assert.throws(() => summarizeClusters([0, 1], [1, 1], 2, [0]), RangeError);
  assert.throws(() => summarizeClusters([0, 2], [1, 1], 2), {
    name: "RangeError",
    message: /integers in \[0, 2\), current value at 1 is 2/,
  });
});
