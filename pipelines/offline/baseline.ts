/**
 * The baseline every run is measured against: k-means on the raw pixels of the training images
 * (at model resolution), with the project's own `kmeans`, applied to the evaluation images. It
 * costs about a second; a SCAN run that does not beat it has not earned its minutes.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset } from "../../src/data/dataset.ts";
import { kmeans } from "../../src/mining/kmeans.ts";
import type { Random } from "../../src/util/random.ts";
import type { StageMetrics } from "./context.ts";
import { metricsOf } from "./evaluate.ts";

/** The baselines a run's JSON reports beside its stages. */
export interface BaselineReport {
  readonly kmeansRawPixels: StageMetrics & { seconds: number; fitImages: number };
}

/** Training images k-means is fitted on at most: a sample keeps 60k images at about a second. */
export const BASELINE_FIT_IMAGES = 10_000;

/**
 * Fit k-means with `clusters` centroids on the raw pixels of (a sample of) `train`, assign every
 * `evaluation` image to its nearest centroid, and score that against the evaluation labels.
 * Grayscale data (every pixel R = G = B) is clustered on one channel: the same distances over 3.
 *
 * @throws {RangeError} when `evaluation` has no labels.
 */
export function rawPixelBaseline(
  train: Dataset,
  evaluation: Dataset,
  clusters: number,
  rng: Random,
): BaselineReport {
  if (!evaluation.labels) {
    throw new RangeError(
      "Cannot score the raw-pixel baseline: the evaluation images have no labels",
    );
  }
  const t0 = performance.now();
  const channels = isGrayscale(train) && isGrayscale(evaluation) ? 1 : 3;
  const sample = sampleIndices(train.n, BASELINE_FIT_IMAGES, rng);
  const fit = pixelRows(train, sample, channels);
  const dim = fit.length / sample.length;
  const { centroids } = kmeans(fit, sample.length, dim, clusters, rng);
  const all = Array.from({ length: evaluation.n }, (_, i) => i);
  const predicted = nearestCentroid(pixelRows(evaluation, all, channels), centroids, dim);
  return {
    kmeansRawPixels: {
      ...metricsOf(evaluation, predicted),
      seconds: (performance.now() - t0) / 1000,
      fitImages: sample.length,
    },
  };
}

/** True when every pixel of every image has equal red, green and blue. */
export function isGrayscale(dataset: Dataset): boolean {
  const p = dataset.pixels;
  for (let i = 0; i < p.length; i += 3) {
    if (p[i] !== p[i + 1] || p[i] !== p[i + 2]) return false;
  }
  return true;
}

/** All of 0..n-1 when n <= max, else `max` of them drawn without replacement, sorted. */
function sampleIndices(n: number, max: number, rng: Random): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (n <= max) return all;
  return rng.shuffle(all).slice(0, max).sort((a, b) => a - b);
}

/** The images at `indices` as float rows in [0, 1], one channel (the red) or all three. */
function pixelRows(dataset: Dataset, indices: number[], channels: 1 | 3): Float32Array {
  const perImage = dataset.size * dataset.size;
  const dim = perImage * channels;
  const rows = new Float32Array(indices.length * dim);
  indices.forEach((image, row) => {
    const base = image * perImage * 3;
    for (let j = 0; j < dim; j++) {
      rows[row * dim + j] = dataset.pixels[base + (channels === 1 ? j * 3 : j)] / 255;
    }
  });
  return rows;
}

/** The nearest of `centroids` (k x dim) to every row of `rows`. */
function nearestCentroid(rows: Float32Array, centroids: Float32Array, dim: number): Int32Array {
  const n = rows.length / dim;
  const k = centroids.length / dim;
  return tf.tidy(() => {
    const x = tf.tensor2d(rows, [n, dim]);
    const c = tf.tensor2d(centroids, [k, dim]);
    // argmin |x - c|^2 = argmax (x.c - |c|^2 / 2)
    const score = tf.sub(tf.matMul(x, c, false, true), tf.mul(0.5, tf.sum(tf.square(c), 1)));
    return tf.argMax(score, 1).dataSync() as Int32Array;
  });
}
