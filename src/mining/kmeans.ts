/**
 * K-means on pretext features: the baseline the SCAN paper compares against (k-means on SimCLR
 * features) and a cheap first clustering before a head is trained. k-means++ seeding (Arthur and
 * Vassilvitskii 2007), then Lloyd iterations whose distance computations are one `tf.matMul` per
 * block of rows.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Random } from "../util/random.ts";

/** A k-means clustering. */
export interface KMeansResult {
  /** Cluster of each of the n points, nearest centroid. */
  assignments: Int32Array;
  /** `k x dim` row-major centroids. */
  centroids: Float32Array;
}

// Distance entries per block: bounds the [rows, k] matrix pulled back from the backend.
const BLOCK_ENTRIES = 1 << 22;

/**
 * Cluster n points into k groups by squared Euclidean distance.
 *
 * Stops when an iteration changes no assignment or after `iterations` updates. A cluster that
 * loses all its points is re-seeded with the point farthest from its centroid, so all k clusters
 * stay in use while there are at least k distinct points.
 *
 * @param features `n x dim` row-major points.
 * @param n number of points.
 * @param dim dimension.
 * @param k number of clusters, in [1, n].
 * @param rng source of the k-means++ seeding.
 * @param iterations most centroid updates (Lloyd iterations).
 * @throws {RangeError} on inconsistent sizes or non-finite features.
 */
export function kmeans(
  features: Float32Array,
  n: number,
  dim: number,
  k: number,
  rng: Random,
  iterations = 50,
): KMeansResult {
  validate(features, n, dim, k, iterations);
  const centroids = seedCentroids(features, n, dim, k, rng);
  const assignments = new Int32Array(n).fill(-1);
  const distances = new Float64Array(n);
  const rowsPerBlock = Math.max(1, Math.floor(BLOCK_ENTRIES / k));
  const blocks: tf.Tensor2D[] = [];
  try {
    for (let start = 0; start < n; start += rowsPerBlock) {
      const rows = Math.min(rowsPerBlock, n - start);
      blocks.push(tf.tensor2d(features.subarray(start * dim, (start + rows) * dim), [rows, dim]));
    }
    const squaredNorms = rowSquaredNorms(features, n, dim);
    for (let iteration = 0;; iteration++) {
      const changed = assign(
        blocks,
        rowsPerBlock,
        centroids,
        k,
        dim,
        squaredNorms,
        assignments,
        distances,
      );
      if (changed === 0 || iteration === iterations) break;
      updateCentroids(features, n, dim, k, assignments, distances, centroids);
    }
  } finally {
    tf.dispose(blocks);
  }
  return { assignments, centroids: Float32Array.from(centroids) };
}

/** k-means++: each next seed drawn with probability proportional to its squared distance. */
function seedCentroids(
  features: Float32Array,
  n: number,
  dim: number,
  k: number,
  rng: Random,
): Float64Array {
  const centroids = new Float64Array(k * dim);
  const nearest = new Float64Array(n).fill(Infinity);
  let chosen = rng.int(n);
  for (let c = 0; c < k; c++) {
    for (let d = 0; d < dim; d++) centroids[c * dim + d] = features[chosen * dim + d];
    let total = 0;
    for (let i = 0; i < n; i++) {
      let squared = 0;
      for (let d = 0; d < dim; d++) {
        const diff = features[i * dim + d] - centroids[c * dim + d];
        squared += diff * diff;
      }
      if (squared < nearest[i]) nearest[i] = squared;
      total += nearest[i];
    }
    if (c === k - 1) break;
    // All points on existing seeds: any point is as good as another.
    if (total === 0) {
      chosen = rng.int(n);
      continue;
    }
    let target = rng.next() * total;
    chosen = -1;
    for (let i = 0; i < n && target >= 0; i++) {
      if (nearest[i] === 0) continue;
      chosen = i;
      target -= nearest[i];
    }
  }
  return centroids;
}

/**
 * Nearest centroid of every point, from `|x|^2 - 2 x.c + |c|^2` with the products on the backend;
 * fills `distances` with each point's squared distance to it. Returns how many points moved.
 */
function assign(
  blocks: tf.Tensor2D[],
  rowsPerBlock: number,
  centroids: Float64Array,
  k: number,
  dim: number,
  squaredNorms: Float64Array,
  assignments: Int32Array,
  distances: Float64Array,
): number {
  const centroidNorms = rowSquaredNorms(centroids, k, dim);
  const transposed = new Float32Array(dim * k);
  for (let c = 0; c < k; c++) {
    for (let d = 0; d < dim; d++) transposed[d * k + c] = centroids[c * dim + d];
  }
  const centroidMatrix = tf.tensor2d(transposed, [dim, k]);
  let changed = 0;
  try {
    blocks.forEach((block, b) => {
      const product = tf.matMul(block, centroidMatrix);
      const dots = product.dataSync() as Float32Array;
      product.dispose();
      for (let r = 0; r < block.shape[0]; r++) {
        const i = b * rowsPerBlock + r;
        let best = 0;
        let bestDistance = Infinity;
        for (let c = 0; c < k; c++) {
          const distance = centroidNorms[c] - 2 * dots[r * k + c];
          if (distance < bestDistance) {
            bestDistance = distance;
            best = c;
          }
        }
        if (assignments[i] !== best) changed++;
        assignments[i] = best;
        distances[i] = Math.max(0, bestDistance + squaredNorms[i]);
      }
    });
  } finally {
    centroidMatrix.dispose();
  }
  return changed;
}

/** Centroids as the means of their points; empty clusters take the farthest remaining points. */
function updateCentroids(
  features: Float32Array,
  n: number,
  dim: number,
  k: number,
  assignments: Int32Array,
  distances: Float64Array,
  centroids: Float64Array,
): void {
  const counts = new Int32Array(k);
  for (let i = 0; i < n; i++) counts[assignments[i]]++;
  for (let c = 0; c < k; c++) {
    if (counts[c] > 0) continue;
    let farthest = -1;
    for (let i = 0; i < n; i++) {
      if (counts[assignments[i]] > 1 && (farthest < 0 || distances[i] > distances[farthest])) {
        farthest = i;
      }
    }
    if (farthest < 0) break;
    counts[assignments[farthest]]--;
    assignments[farthest] = c;
    distances[farthest] = 0;
    counts[c] = 1;
  }
  const sums = new Float64Array(k * dim);
  for (let i = 0; i < n; i++) {
    const c = assignments[i];
    for (let d = 0; d < dim; d++) sums[c * dim + d] += features[i * dim + d];
  }
  for (let c = 0; c < k; c++) {
    if (counts[c] === 0) continue;
    for (let d = 0; d < dim; d++) centroids[c * dim + d] = sums[c * dim + d] / counts[c];
  }
}

function rowSquaredNorms(values: ArrayLike<number>, rows: number, dim: number): Float64Array {
  const norms = new Float64Array(rows);
  for (let row = 0; row < rows; row++) {
    let squared = 0;
    for (let d = 0; d < dim; d++) squared += values[row * dim + d] ** 2;
    norms[row] = squared;
  }
  return norms;
}

function validate(features: Float32Array, n: number, dim: number, k: number, iterations: number) {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(dim) || dim < 1) {
    throw new RangeError(
      "Cannot run k-means: the number of points and their dimension must be positive integers, " +
        `current values are ${n} and ${dim}`,
    );
  }
  if (features.length !== n * dim) {
    throw new RangeError(
      `Cannot run k-means: expected ${n} x ${dim} = ${n * dim} values, ` +
        `current length is ${features.length}`,
    );
  }
  if (!Number.isInteger(k) || k < 1 || k > n) {
    throw new RangeError(
      `Cannot run k-means: k must be between 1 and the number of points (${n}), current value is ${k}`,
    );
  }
  if (!Number.isInteger(iterations) || iterations < 0) {
    throw new RangeError(
      `Cannot run k-means: iterations must be a non-negative integer, current value is ${iterations}`,
    );
  }
  const bad = features.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new RangeError(
      `Cannot run k-means: features must be finite, current value of point ` +
        `${Math.floor(bad / dim)} is ${features[bad]}`,
    );
  }
}
