/**
 * Clustering quality against ground truth, as reported in the SCAN paper (official
 * `utils/evaluate_utils.py` `hungarian_evaluate`): accuracy after a one-to-one matching of
 * clusters to classes, NMI and ARI (both as scikit-learn computes them), and the many-to-one
 * accuracy used for overclustering. Plain float64 arithmetic; used only where labels exist and
 * never to choose a model.
 */
import { hungarian } from "./hungarian.ts";

/** The scores of one clustering. */
export interface ClusteringMetrics {
  /** Fraction of images whose cluster is matched (one-to-one, Hungarian) to their class. */
  accuracy: number;
  /** Normalised mutual information, arithmetic-mean normalisation (scikit-learn's default). */
  nmi: number;
  /** Adjusted Rand index. */
  ari: number;
  /** Fraction of images whose cluster's majority class is their class (overclustering). */
  manyToOneAccuracy: number;
  /** Class matched to each cluster id by the one-to-one matching, -1 for unmatched clusters. */
  mapping: number[];
}

/**
 * Score predicted clusters against true classes.
 *
 * Labels are non-negative integers. The cluster count is the largest predicted id + 1, so more
 * clusters than classes (overclustering) is fine: the surplus clusters stay unmatched for
 * `accuracy` and count through their majority class for `manyToOneAccuracy`.
 *
 * @param truth the true class of each image.
 * @param predicted the cluster of each image, same length.
 * @param numClasses number of classes, when some are absent from `truth`.
 * @throws {RangeError} on empty or mismatched inputs or labels that are not non-negative integers.
 */
export function clusteringMetrics(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  numClasses?: number,
): ClusteringMetrics {
  const n = truth.length;
  if (n === 0 || predicted.length !== n) {
    throw new RangeError(
      "Cannot score clustering: truth and predicted must be non-empty and of equal length, " +
        `current lengths are ${n} and ${predicted.length}`,
    );
  }
  const classes = Math.max(numClasses ?? 0, labelCount(truth, "truth"));
  const clusters = labelCount(predicted, "predicted");
  const counts = Array.from({ length: clusters }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < n; i++) counts[predicted[i]][truth[i]]++;

  const mapping = hungarian(counts.map((row) => row.map((count) => -count)));
  let matched = 0;
  let majority = 0;
  counts.forEach((row, cluster) => {
    if (mapping[cluster] >= 0) matched += row[mapping[cluster]];
    majority += Math.max(...row);
  });
  return {
    accuracy: matched / n,
    nmi: normalisedMutualInformation(counts, n),
    ari: adjustedRandIndex(counts, n),
    manyToOneAccuracy: majority / n,
    mapping,
  };
}

function labelCount(labels: ArrayLike<number>, name: string): number {
  let max = -1;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0) {
      throw new RangeError(
        `Cannot score clustering: ${name} labels must be non-negative integers, ` +
          `current value at ${i} is ${label}`,
      );
    }
    if (label > max) max = label;
  }
  return max + 1;
}

/** Row sums (clusters) and column sums (classes) of the contingency table. */
function marginals(counts: number[][]): { clusterSizes: number[]; classSizes: number[] } {
  const clusterSizes = counts.map((row) => row.reduce((sum, count) => sum + count, 0));
  const classSizes = counts[0].map((_, k) => counts.reduce((sum, row) => sum + row[k], 0));
  return { clusterSizes, classSizes };
}

function entropy(sizes: number[], n: number): number {
  return sizes.reduce((h, size) => (size > 0 ? h - (size / n) * Math.log(size / n) : h), 0);
}

/** scikit-learn's `normalized_mutual_info_score(average_method="arithmetic")`. */
function normalisedMutualInformation(counts: number[][], n: number): number {
  const { clusterSizes, classSizes } = marginals(counts);
  const presentClusters = clusterSizes.filter((size) => size > 0).length;
  const presentClasses = classSizes.filter((size) => size > 0).length;
  // One label on both sides is a perfect match by scikit-learn's convention, not 0/0.
  if (presentClusters === 1 && presentClasses === 1) return 1;
  let mutualInformation = 0;
  counts.forEach((row, c) =>
    row.forEach((count, k) => {
      if (count > 0) {
        mutualInformation += (count / n) *
          Math.log((n * count) / (clusterSizes[c] * classSizes[k]));
      }
    })
  );
  mutualInformation = Math.max(mutualInformation, 0);
  if (mutualInformation === 0) return 0;
  return mutualInformation / ((entropy(clusterSizes, n) + entropy(classSizes, n)) / 2);
}

/** scikit-learn's `adjusted_rand_score`, from the pair confusion matrix. */
function adjustedRandIndex(counts: number[][], n: number): number {
  const { clusterSizes, classSizes } = marginals(counts);
  let sumSquares = 0;
  for (const row of counts) for (const count of row) sumSquares += count * count;
  const squares = (sizes: number[]) => sizes.reduce((sum, size) => sum + size * size, 0);
  // Ordered pairs of distinct images: together in both, in the cluster only, in the class only.
  const together = sumSquares - n;
  const clusterOnly = squares(clusterSizes) - sumSquares;
  const classOnly = squares(classSizes) - sumSquares;
  const apart = n * n - clusterOnly - classOnly - sumSquares;
  if (clusterOnly === 0 && classOnly === 0) return 1;
  return (2 * (together * apart - classOnly * clusterOnly)) /
    ((together + classOnly) * (classOnly + apart) +
      (together + clusterOnly) * (clusterOnly + apart));
}

/**
 * `clusteringMetrics` over the images whose class is known (label >= 0; a labels file may cover
 * only some images), or `undefined` when none is. The others' predictions are ignored.
 *
 * @param labels class per image, -1 where unknown
 * @param predicted cluster per image
 */
export function labelledMetrics(
  labels: Int32Array,
  predicted: ArrayLike<number>,
  numClasses?: number,
): ClusteringMetrics | undefined {
  const known = [...labels.keys()].filter((i) => labels[i] >= 0);
  if (known.length === 0) return undefined;
  return clusteringMetrics(
    known.map((i) => labels[i]),
    known.map((i) => predicted[i]),
    numClasses,
  );
}
