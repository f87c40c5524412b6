import assert from "node:assert/strict";
import { alignClusters, applyAlignment } from "../../src/stream/align_clusters.ts";
import { Random } from "../../src/util/random.ts";

function isPermutation(permutation: Int32Array, clusters: number): boolean {
  return permutation.length === clusters &&
    new Set(permutation).size === clusters &&
    permutation.every((c) => c >= 0 && c < clusters);
}

Deno.test("alignClusters() maps a permuted relabelling back exactly", () => {
  const rng = new Random(1);
  const clusters = 10;
  const previous = Int32Array.from({ length: 500 }, () => rng.int(clusters));
  const relabel = Int32Array.from(rng.shuffle(Array.from({ length: clusters }, (_, c) => c)));
  const next = previous.map((c) => relabel[c]);
  const permutation = alignClusters(previous, next, clusters);
  assert.deepEqual(applyAlignment(next, permutation), previous);
  for (let c = 0; c < clusters; c++) assert.equal(permutation[relabel[c]], c);
});

Deno.test("alignClusters() follows the majority when images moved and ignores unknown ones", () => {
  const rng = new Random(2);
  const clusters = 6;
  const n = 600;
  const previous = Int32Array.from({ length: n }, (_, i) => i % 7 === 0 ? -1 : rng.int(clusters));
  const relabel = Int32Array.from([3, 5, 0, 1, 4, 2]);
  // A fifth of the images move to a random cluster, and 100 arrive with no previous cluster.
  const next = new Int32Array(n + 100);
  for (let i = 0; i < n; i++) {
    next[i] = rng.next() < 0.2 ? rng.int(clusters) : relabel[Math.max(previous[i], 0)];
  }
  for (let i = n; i < n + 100; i++) next[i] = relabel[0];
  const permutation = alignClusters(previous, next, clusters);
  for (let c = 0; c < clusters; c++) assert.equal(permutation[relabel[c]], c);
  const aligned = applyAlignment(next, permutation);
  const kept = previous.filter((c, i) => c >= 0 && aligned[i] === c).length;
  assert.ok(kept > 0.75 * previous.filter((c) => c >= 0).length, `kept ${kept}`);
});

Deno.test("alignClusters() keeps new and unmatched clusters distinct: it is a permutation", () => {
  // Two old clusters merged into new cluster 0; new clusters 2 and 3 hold only new images.
  const previous = Int32Array.from([0, 0, 1, 1, 2, 2, -1, -1]);
  const next = Int32Array.from([0, 0, 0, 0, 1, 1, 2, 3, 3, 2]);
  const permutation = alignClusters(previous, next, 4);
  assert.ok(isPermutation(permutation, 4));
  assert.equal(permutation[1], 2);
  assert.ok(permutation[0] === 0 || permutation[0] === 1);
  const aligned = applyAlignment(next, permutation);
  assert.equal(new Set(aligned.subarray(6)).size, 2, "new clusters stay apart");
  assert.ok(!aligned.subarray(6).includes(2), "new clusters do not take a matched id");
});

Deno.test("alignClusters() is the identity without overlap and prefers keeping ids on ties", () => {
  assert.deepEqual([...alignClusters(new Int32Array(3).fill(-1), Int32Array.from([2, 1, 0]), 4)], [
    0,
    1,
    2,
    3,
  ]);
  assert.deepEqual([...alignClusters(new Int32Array(0), new Int32Array(0), 3)], [0, 1, 2]);
  // Cluster 0 shares one image with each of old 0 and 1: keeping id 0 breaks the tie.
  assert.deepEqual([...alignClusters(Int32Array.from([0, 1]), Int32Array.from([0, 0]), 2)], [0, 1]);
  assert.deepEqual([...alignClusters(Int32Array.from([1, 0]), Int32Array.from([0, 0]), 2)], [0, 1]);
  // ...but never at the cost of a shared image.
  assert.deepEqual(
    [...alignClusters(Int32Array.from([1, 1, 0]), Int32Array.from([0, 0, 0]), 2)],
    [1, 0],
  );
});

Deno.test("alignClusters() and applyAlignment() refuse bad input", () => {
  assert.throws(() => alignClusters(new Int32Array(2), new Int32Array(1), 2), /must cover/);
  assert.throws(() => alignClusters(Int32Array.from([2]), Int32Array.from([0]), 2), /\[-1, 2\)/);
  assert.throws(() => alignClusters(Int32Array.from([0]), Int32Array.from([-2]), 2), /new cluster/);
  assert.throws(() => alignClusters(new Int32Array(0), new Int32Array(0), 0), /positive integer/);
  assert.throws(() => applyAlignment(Int32Array.from([0]), Int32Array.from([0, 0])), /permutation/);
  assert.throws(() => applyAlignment(Int32Array.from([2]), Int32Array.from([1, 0])), /\[-1, 2\)/);
  assert.deepEqual([...applyAlignment(Int32Array.from([1, -1, 0]), Int32Array.from([1, 0]))], [
    0,
    -1,
    1,
  ]);
});
