import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { mineNeighbours } from "../../src/mining/knn.ts";
import { NeighbourIndex } from "../../src/mining/neighbour_index.ts";
import { Random } from "../../src/util/random.ts";

await initBackend("wasm");

const JS_ONLY = { matMulMinWork: Infinity };
/** Every path of tf.matMul at test sizes: backend chunks, the rest block, column groups. */
const MATMUL_ALWAYS = { matMulMinWork: 0, chunkRows: 32, blockValues: 32 * 24 };

function randomFeatures(rng: Random, n: number, dim: number): Float32Array {
  return Float32Array.from({ length: n * dim }, () => rng.normal());
}

/** Row `i` of an `n x dim` matrix. */
function row(features: Float32Array, i: number, dim: number): Float32Array {
  return features.subarray(i * dim, (i + 1) * dim);
}

/** Float64 cosine similarities of all pairs; zero vectors have similarity 0. */
function cosines(features: Float32Array, n: number, dim: number): Float64Array {
  const norms = Float64Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let d = 0; d < dim; d++) s += features[i * dim + d] ** 2;
    return Math.sqrt(s);
  });
  const sims = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += features[i * dim + d] * features[j * dim + d];
      sims[i * n + j] = norms[i] === 0 || norms[j] === 0 ? 0 : dot / (norms[i] * norms[j]);
    }
  }
  return sims;
}

/**
 * Every list of the index against brute force: itself first, then the most similar others by
 * similarity, ties by lower index. Where float rounding could reorder a near-tie at the cut of
 * a list, only the similarity at the cut is compared (ties aside).
 */
function assertExactKnn(index: NeighbourIndex, features: Float32Array, label: string): void {
  const n = index.size;
  const dim = index.dim;
  const length = Math.min(index.k, n);
  assert.equal(index.listLength, length, `${label}: list length`);
  const sims = cosines(features, n, dim);
  for (let i = 0; i < n; i++) {
    const { indices, similarities } = index.neighboursOf(i);
    assert.equal(indices.length, length, `${label}: length of list ${i}`);
    assert.equal(indices[0], i, `${label}: image ${i} is not first in its own list`);
    const others = Array.from({ length: n }, (_, j) => j).filter((j) => j !== i)
      .sort((a, b) => sims[i * n + b] - sims[i * n + a] || a - b);
    for (let e = 0; e < length; e++) {
      const j = indices[e];
      assert.ok(
        Math.abs(similarities[e] - sims[i * n + j]) < 1e-5,
        `${label}: similarity of ${j} in list ${i}`,
      );
      if (e > 1) assert.ok(similarities[e] <= similarities[e - 1], `${label}: list ${i} unsorted`);
    }
    if (length < 2) continue;
    const got = [...indices.subarray(1)].sort((a, b) => a - b);
    const want = others.slice(0, length - 1);
    const cut = sims[i * n + want[want.length - 1]];
    const next = others.length >= length ? sims[i * n + others[length - 1]] : -Infinity;
    if (cut - next > 1e-5) {
      assert.deepEqual(got, [...want].sort((a, b) => a - b), `${label}: wrong list for ${i}`);
    } else {
      assert.ok(Math.abs(similarities[length - 1] - cut) < 1e-5, `${label}: near-tie of ${i}`);
    }
  }
}

function allLists(index: NeighbourIndex): Int32Array[] {
  return Array.from({ length: index.size }, (_, i) => index.neighboursOf(i).indices);
}

/** Indices of the images stored before whose list changed. */
function changedLists(before: Int32Array[], index: NeighbourIndex): number[] {
  return before.flatMap((list, i) =>
    list.length === index.listLength && list.every((v, e) => index.neighboursOf(i).indices[e] === v)
      ? []
      : [i]
  );
}

Deno.test("NeighbourIndex.add() keeps every list the exact kNN and reports the lists it entered", () => {
  const rng = new Random(3);
  const n = 150, dim = 8, k = 6;
  const features = randomFeatures(rng, n, dim);
  const index = new NeighbourIndex(dim, k);
  for (let i = 0; i < n; i++) {
    const before = allLists(index);
    const addition = index.add(`img${i}`, row(features, i, dim));
    assert.equal(addition.index, i);
    assert.deepEqual(addition.neighbours, index.neighboursOf(i).indices);
    assert.deepEqual(addition.similarities, index.neighboursOf(i).similarities);
    assert.deepEqual(addition.updated, changedLists(before, index), `updated after image ${i}`);
    if (i < k) assert.equal(addition.updated.length, i, "a list that is not full takes everyone");
    if (i % 37 === 0 || i === n - 1) {
      assertExactKnn(index, features.subarray(0, (i + 1) * dim), `${i}`);
    }
  }
  assert.ok(index.add("late", row(features, 0, dim)).updated.includes(0), "a duplicate enters");
});

Deno.test("NeighbourIndex.addBatch() equals adding the images one by one", () => {
  const rng = new Random(5);
  const dim = 6, k = 5;
  const features = randomFeatures(rng, 120, dim);
  const one = new NeighbourIndex(dim, k, JS_ONLY);
  const batched = new NeighbourIndex(dim, k, JS_ONLY);
  let start = 0;
  for (const b of [1, 3, 2, 17, 40, 1, 56]) {
    const before = allLists(batched);
    const ids = Array.from({ length: b }, (_, t) => `img${start + t}`);
    const addition = batched.addBatch(ids, features.subarray(start * dim, (start + b) * dim), b);
    const updatedOneByOne = new Set<number>();
    for (let t = 0; t < b; t++) {
      for (const j of one.add(ids[t], row(features, start + t, dim)).updated) {
        if (j < start) updatedOneByOne.add(j);
      }
    }
    assert.deepEqual([...addition.indices], ids.map((_, t) => start + t));
    assert.deepEqual(addition.updated, changedLists(before, batched), `updated, batch of ${b}`);
    assert.deepEqual(addition.updated, [...updatedOneByOne].sort((x, y) => x - y));
    for (let t = 0; t < b; t++) {
      const list = addition.neighbours.subarray(
        t * addition.listLength,
        (t + 1) * addition.listLength,
      );
      assert.deepEqual(list, batched.neighboursOf(start + t).indices);
    }
    start += b;
    for (let i = 0; i < start; i++) {
      assert.deepEqual(batched.neighboursOf(i), one.neighboursOf(i), `list ${i} after ${start}`);
    }
  }
  assertExactKnn(batched, features, "batched");
});

Deno.test("NeighbourIndex.addBatch() on tf.matMul gives the exact kNN and leaks no tensor", () => {
  const rng = new Random(7);
  const dim = 16, k = 10;
  const features = randomFeatures(rng, 400, dim);
  const index = new NeighbourIndex(dim, k, MATMUL_ALWAYS);
  const tensors = tf.memory().numTensors;
  let start = 0;
  for (const b of [4, 60, 1, 135, 190]) {
    const before = allLists(index);
    const addition = index.addBatch(
      Array.from({ length: b }, (_, t) => `img${start + t}`),
      features.subarray(start * dim, (start + b) * dim),
      b,
    );
    assert.deepEqual(addition.updated, changedLists(before, index));
    start += b;
    assertExactKnn(index, features.subarray(0, start * dim), `after ${start}`);
  }
  for (let i = start; i < start + 5; i++) index.add(`img${i}`, row(features, i, dim));
  assertExactKnn(index, features.subarray(0, (start + 5) * dim), "single adds on chunks");
  index.dispose();
  assert.equal(tf.memory().numTensors, tensors);
  index.add("after dispose", row(features, 399, dim));
  index.dispose();
  assert.equal(tf.memory().numTensors, tensors);
});

Deno.test("NeighbourIndex breaks ties by the lower index and puts each image first in its own list", () => {
  const rng = new Random(11);
  const dim = 4, k = 4;
  // Three distinct directions, each repeated: every list is full of exact ties.
  const prototypes = randomFeatures(rng, 3, dim);
  const order = [0, 1, 0, 2, 0, 1, 1, 0, 2, 2, 0, 1];
  const features = new Float32Array(order.length * dim);
  order.forEach((p, i) => features.set(row(prototypes, p, dim), i * dim));
  for (const options of [JS_ONLY, MATMUL_ALWAYS]) {
    const index = new NeighbourIndex(dim, k, options);
    index.addBatch(["0", "1", "2", "3", "4"], features.subarray(0, 5 * dim), 5);
    for (let i = 5; i < order.length; i++) index.add(String(i), row(features, i, dim));
    const same = (i: number) => order.flatMap((p, j) => p === order[i] && j !== i ? [j] : []);
    for (let i = 0; i < order.length; i++) {
      const list = [...index.neighboursOf(i).indices];
      assert.equal(list[0], i);
      assert.deepEqual(list.slice(1, 1 + Math.min(k - 1, same(i).length)), same(i).slice(0, k - 1));
    }
  }
});

Deno.test("NeighbourIndex handles k = 1, zero vectors and a store smaller than k", () => {
  const single = new NeighbourIndex(3, 1);
  for (let i = 0; i < 5; i++) {
    const addition = single.add(`a${i}`, new Float32Array([i, 1, 2]));
    assert.deepEqual([...addition.neighbours], [i]);
    assert.deepEqual(addition.updated, []);
  }
  const index = new NeighbourIndex(3, 8);
  index.add("zero", new Float32Array(3));
  const second = index.add("x", new Float32Array([1, 0, 0]));
  assert.deepEqual([...second.neighbours], [1, 0]);
  assert.deepEqual([...second.similarities], [1, 0]);
  assert.deepEqual([...index.neighboursOf(0).similarities], [0, 0]);
  assert.equal(index.listLength, 2);
});

Deno.test("NeighbourIndex.replaceAll() and remine() re-mine the lists in full", () => {
  const rng = new Random(13);
  const dim = 8, k = 7, n = 90;
  const features = randomFeatures(rng, n, dim);
  const index = new NeighbourIndex(dim, k);
  for (let i = 0; i < n; i++) index.add(`img${i}`, row(features, i, dim));
  index.remine();
  assertExactKnn(index, features, "remined");
  const moved = randomFeatures(rng, n, dim);
  index.replaceAll(moved);
  assertExactKnn(index, moved, "replaced");
  assert.deepEqual(index.featureOf(3).length, dim);
  assert.throws(() => index.replaceAll(moved.subarray(dim)), /expected 90 x 8/);
  const tiny = new NeighbourIndex(dim, k);
  tiny.add("a", row(features, 0, dim));
  tiny.add("b", row(features, 1, dim));
  tiny.replaceAll(moved.subarray(0, 2 * dim));
  assertExactKnn(tiny, moved.subarray(0, 2 * dim), "tiny");
});

Deno.test("NeighbourIndex: lists mined elsewhere on a prefix, then later images added, give the exact kNN", () => {
  const rng = new Random(17);
  const dim = 8, k = 6, n = 70, later = 9;
  const old = randomFeatures(rng, n + later, dim);
  const index = new NeighbourIndex(dim, k);
  for (let i = 0; i < n + later; i++) index.add(`img${i}`, row(old, i, dim));
  // The backbone moved: the first n were re-embedded and mined in another thread.
  const moved = randomFeatures(rng, n + later, dim);
  const prefix = moved.subarray(0, n * dim);
  index.truncate(n);
  assert.equal(index.size, n);
  assert.equal(index.indexOf(`img${n}`), -1, "dropped ids are forgotten");
  index.replaceAll(prefix, mineNeighbours(prefix, n, dim, k));
  assertExactKnn(index, prefix, "prefix");
  index.addBatch(
    Array.from({ length: later }, (_, j) => `img${n + j}`),
    moved.subarray(n * dim),
    later,
  );
  assertExactKnn(index, moved, "prefix and later images");
  assert.throws(() => index.truncate(n + later + 1), /must be in \[0, 79\]/);
  assert.throws(
    () => index.replaceAll(moved, mineNeighbours(prefix, n, dim, k)),
    /Cannot replace neighbour lists: expected 79 x 6 entries/,
  );
});

Deno.test("NeighbourIndex.toBytes() round-trips and the loaded index keeps growing the same way", () => {
  const rng = new Random(17);
  const dim = 5, k = 4;
  const features = randomFeatures(rng, 60, dim);
  const index = new NeighbourIndex(dim, k);
  index.addBatch(
    Array.from({ length: 40 }, (_, i) => `ünï-${i}`),
    features.subarray(0, 40 * dim),
    40,
  );
  const loaded = NeighbourIndex.fromBytes(index.toBytes());
  assert.equal(loaded.size, 40);
  assert.equal(loaded.k, k);
  assert.equal(loaded.indexOf("ünï-7"), 7);
  assert.equal(loaded.idOf(39), "ünï-39");
  for (let i = 0; i < 40; i++) {
    assert.deepEqual(loaded.neighboursOf(i), index.neighboursOf(i));
    assert.deepEqual(loaded.featureOf(i), index.featureOf(i));
  }
  for (let i = 40; i < 60; i++) {
    assert.deepEqual(
      loaded.add(`n${i}`, row(features, i, dim)),
      index.add(`n${i}`, row(features, i, dim)),
    );
  }
  assert.deepEqual(NeighbourIndex.fromBytes(new NeighbourIndex(3, 2).toBytes()).size, 0);
  const bytes = index.toBytes();
  assert.throws(() => NeighbourIndex.fromBytes(bytes.subarray(0, bytes.length - 4)), /expected/);
  const wrong = bytes.slice();
  wrong[0] ^= 1;
  assert.throws(() => NeighbourIndex.fromBytes(wrong), /magic/);
  const outOfRange = bytes.slice();
  new DataView(outOfRange.buffer).setInt32(outOfRange.length - 8 * 60 * k + 4, 999, true);
  assert.throws(() => NeighbourIndex.fromBytes(outOfRange), RangeError);
});

Deno.test("NeighbourIndex refuses bad input and stays unchanged", () => {
  const index = new NeighbourIndex(2, 3);
  index.add("a", new Float32Array([1, 0]));
  assert.throws(() => index.add("a", new Float32Array([0, 1])), /id a is already in the index/);
  assert.throws(
    () => index.addBatch(["b", "b"], new Float32Array(4), 2),
    /id b is already in the index/,
  );
  assert.throws(() => index.add("c", new Float32Array([1, 2, 3])), /expected 1 x 2 = 2/);
  assert.throws(() => index.add("d", new Float32Array([1, NaN])), /must be finite/);
  assert.throws(() => index.addBatch([], new Float32Array(0), 0), /positive integer/);
  assert.throws(() => index.neighboursOf(1), /\[0, 1\), current value is 1/);
  assert.throws(() => new NeighbourIndex(0, 3), /dim must be a positive integer/);
  assert.throws(() => new NeighbourIndex(2, 0), /k must be a positive integer/);
  assert.equal(index.size, 1);
  assert.equal(index.indexOf("b"), -1);
  assert.equal(index.has("d"), false);
  assert.deepEqual([...index.add("e", new Float32Array([0, 1])).neighbours], [1, 0]);
});
