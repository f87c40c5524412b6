import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { mineNeighbours, mineNeighboursOf } from "../../src/mining/knn.ts";
import { Random } from "../../src/util/random.ts";

await initBackend("wasm");

function randomFeatures(rng: Random, n: number, dim: number): Float32Array {
  return Float32Array.from({ length: n * dim }, () => rng.normal());
}

/** Float64 cosine similarity of row a of `x` and row b of `y`. */
function cosine(x: Float32Array, a: number, y: Float32Array, b: number, dim: number): number {
  let dot = 0, nx = 0, ny = 0;
  for (let d = 0; d < dim; d++) {
    dot += x[a * dim + d] * y[b * dim + d];
    nx += x[a * dim + d] ** 2;
    ny += y[b * dim + d] ** 2;
  }
  return nx === 0 || ny === 0 ? 0 : dot / Math.sqrt(nx * ny);
}

/**
 * Check one list against brute force: its similarities are the true ones, sorted, and it holds
 * the `count` most similar candidates; where float32 rounding could reorder a near-tie at the
 * cut, only the similarity of the last entry is checked.
 */
function assertTopList(
  got: Int32Array,
  gotSimilarities: Float32Array,
  candidates: { index: number; similarity: number }[],
  label: string,
): void {
  const expected = [...candidates].sort((a, b) => b.similarity - a.similarity || a.index - b.index);
  const count = got.length;
  const truth = new Map(candidates.map((c) => [c.index, c.similarity]));
  assert.equal(new Set(got).size, count, `${label}: duplicates`);
  for (let e = 0; e < count; e++) {
    assert.ok(truth.has(got[e]), `${label}: ${got[e]} is not a candidate`);
    assert.ok(Math.abs(truth.get(got[e])! - gotSimilarities[e]) < 1e-5, `${label}: similarity`);
    if (e > 0) assert.ok(gotSimilarities[e] <= gotSimilarities[e - 1], `${label}: not sorted`);
  }
  const cut = expected[count - 1].similarity;
  const next = expected[count]?.similarity ?? -Infinity;
  if (cut - next > 1e-5) {
    assert.deepEqual(
      [...got].sort((a, b) => a - b),
      expected.slice(0, count).map((c) => c.index).sort((a, b) => a - b),
      `${label}: wrong neighbours`,
    );
  } else {
    assert.ok(Math.abs(gotSimilarities[count - 1] - cut) < 1e-5, `${label}: near-tie at the cut`);
  }
}

Deno.test("mineNeighbours() matches brute force, over several partial blocks", () => {
  const rng = new Random(71);
  const n = 700, dim = 12, k = 10;
  const features = randomFeatures(rng, n, dim);
  const before = tf.memory().numTensors;
  const { indices, similarities } = mineNeighbours(features, n, dim, k, 128);
  assert.equal(tf.memory().numTensors, before, "mineNeighbours() leaked tensors");
  assert.equal(indices.length, n * k);
  for (let i = 0; i < n; i++) {
    assert.equal(indices[i * k], i, `image ${i} is not first in its own list`);
    assert.ok(Math.abs(similarities[i * k] - 1) < 1e-5);
    const candidates = [...Array(n).keys()].filter((j) => j !== i).map((j) => ({
      index: j,
      similarity: cosine(features, i, features, j, dim),
    }));
    assertTopList(
      indices.subarray(i * k + 1, (i + 1) * k),
      similarities.subarray(i * k + 1, (i + 1) * k),
      candidates,
      `image ${i}`,
    );
  }
});

Deno.test("mineNeighbours() does not depend on the block size", () => {
  const rng = new Random(73);
  const n = 300, dim = 8, k = 6;
  const features = randomFeatures(rng, n, dim);
  const small = mineNeighbours(features, n, dim, k, 7);
  const whole = mineNeighbours(features, n, dim, k, 1000);
  let same = 0;
  for (let e = 0; e < n * k; e++) {
    if (small.indices[e] === whole.indices[e]) same++;
    assert.ok(Math.abs(small.similarities[e] - whole.similarities[e]) < 1e-5);
  }
  // Rounding may swap two near-equal entries; it may not change the lists.
  assert.ok(same >= n * k - 4, `${n * k - same} entries differ`);
});

Deno.test("mineNeighbours() puts each image first even among duplicates", () => {
  const dim = 4;
  // Images 0, 1, 2 identical; 3 a scaled copy (same direction); 4 elsewhere; 5 zero.
  const features = Float32Array.from([
    ...[1, 2, 3, 4],
    ...[1, 2, 3, 4],
    ...[1, 2, 3, 4],
    ...[2, 4, 6, 8],
    ...[-4, 1, 0, 0],
    ...[0, 0, 0, 0],
  ]);
  const { indices, similarities } = mineNeighbours(features, 6, dim, 4, 2);
  const list = (i: number) => [...indices.subarray(i * 4, (i + 1) * 4)];
  assert.deepEqual(list(0), [0, 1, 2, 3]);
  assert.deepEqual(list(1), [1, 0, 2, 3]);
  assert.deepEqual(list(2), [2, 0, 1, 3]);
  assert.deepEqual(list(3), [3, 0, 1, 2]);
  assert.equal(list(4)[0], 4);
  assert.equal(list(5)[0], 5);
  assert.equal(similarities[5 * 4], 0, "a zero vector is similar to nothing, itself included");
});

Deno.test("mineNeighbours() handles k = 1 and k = n", () => {
  const rng = new Random(79);
  const n = 9, dim = 3;
  const features = randomFeatures(rng, n, dim);
  assert.deepEqual([...mineNeighbours(features, n, dim, 1).indices], [...Array(n).keys()]);
  const all = mineNeighbours(features, n, dim, n, 4).indices;
  for (let i = 0; i < n; i++) {
    const list = [...all.subarray(i * n, (i + 1) * n)];
    assert.equal(list[0], i);
    assert.deepEqual(list.sort((a, b) => a - b), [...Array(n).keys()]);
  }
});

Deno.test("mineNeighboursOf() finds the nearest stored images of new queries", () => {
  const rng = new Random(83);
  const n = 400, dim = 10, k = 7, m = 30;
  const store = randomFeatures(rng, n, dim);
  const query = randomFeatures(rng, m, dim);
  // Query 0 is a stored image: it finds itself first.
  query.set(store.subarray(17 * dim, 18 * dim), 0);
  const before = tf.memory().numTensors;
  const { indices, similarities } = mineNeighboursOf(query, m, store, n, dim, k, 64);
  assert.equal(tf.memory().numTensors, before, "mineNeighboursOf() leaked tensors");
  assert.equal(indices[0], 17);
  for (let q = 0; q < m; q++) {
    const candidates = [...Array(n).keys()].map((j) => ({
      index: j,
      similarity: cosine(query, q, store, j, dim),
    }));
    assertTopList(
      indices.subarray(q * k, (q + 1) * k),
      similarities.subarray(q * k, (q + 1) * k),
      candidates,
      `query ${q}`,
    );
  }
});

Deno.test("mineNeighbours() rejects a bad k, sizes and non-finite features", () => {
  const features = new Float32Array(12);
  assert.throws(
    () => mineNeighbours(features, 4, 3, 600),
    /Cannot mine neighbours: k must be between 1 and the number of images \(4\), current value is 600/,
  );
  assert.throws(() => mineNeighbours(features, 4, 3, 0), RangeError);
  assert.throws(() => mineNeighbours(features, 5, 3, 2), /expected 5 x 3 = 15 values/);
  assert.throws(() => mineNeighbours(features, 4, 3, 2, 0), /blockSize/);
  features[7] = Number.NaN;
  assert.throws(() => mineNeighbours(features, 4, 3, 2), /image 2 is NaN/);
  assert.throws(
    () => mineNeighboursOf(new Float32Array(2), 1, new Float32Array(12), 4, 3, 2),
    /expected 1 x 3 = 3 values/,
  );
});
