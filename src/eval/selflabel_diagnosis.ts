/**
 * Where self-labelling gains or loses: for a model's cluster probabilities on labelled images,
 * the confident set it would train on (size, purity, balance over clusters), the per-class
 * confusion after the Hungarian matching, and label-free statistics (confidence, agreement with
 * mined neighbours, balance of the predicted clusters) that can choose between two models
 * without labels. Pure arithmetic on arrays.
 */
import { clusteringMetrics } from "./metrics.ts";
import { neighbourAgreement } from "./neighbour_agreement.ts";

/** What `diagnoseModel` reports about one model. */
export interface ModelDiagnosis {
  readonly accuracy: number;
  readonly nmi: number;
  readonly ari: number;
  /** Images whose top probability exceeds the threshold: what self-labelling trains on. */
  readonly confident: {
    readonly threshold: number;
    readonly count: number;
    /** Fraction of the confident images whose matched class is their label. */
    readonly purity: number;
    /** Confident images per cluster, and the smallest over the largest count. */
    readonly perCluster: number[];
    readonly balance: number;
  };
  /** Per true class: the fraction predicted as its matched cluster, and the worst confusion. */
  readonly perClass: { recall: number; confusedWith: number; confusedFraction: number }[];
  /** rows: true class, columns: the class each cluster is matched to. */
  readonly confusion: number[][];
  readonly labelFree: LabelFreeStats;
}

/** Statistics that need no labels. */
export interface LabelFreeStats {
  /** Mean top probability. */
  readonly meanConfidence: number;
  /** Fraction above the confidence threshold. */
  readonly confidentFraction: number;
  /** Fraction of (image, mined neighbour) pairs, the image itself excluded, in one cluster. */
  readonly neighbourAgreement: number;
  /** Entropy of the predicted cluster sizes over log C: 1 when every cluster is as large. */
  readonly sizeEntropy: number;
}

/** The top cluster and its probability for each of n rows of C probabilities. */
export function topClusters(
  probs: Float32Array,
  n: number,
  c: number,
): { clusters: Int32Array; confidence: Float32Array } {
  const clusters = new Int32Array(n);
  const confidence = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (probs[i * c + j] > probs[i * c + best]) best = j;
    clusters[i] = best;
    confidence[i] = probs[i * c + best];
  }
  return { clusters, confidence };
}

/** Label-free statistics of n rows of C probabilities and the mined neighbours [n, k]. */
export function labelFreeStats(
  probs: Float32Array,
  n: number,
  c: number,
  threshold: number,
  neighbours?: { readonly indices: Int32Array; readonly k: number },
): LabelFreeStats {
  const { clusters, confidence } = topClusters(probs, n, c);
  const sizes = new Array<number>(c).fill(0);
  clusters.forEach((cluster) => sizes[cluster]++);
  const entropy = sizes.reduce((h, s) => (s > 0 ? h - (s / n) * Math.log(s / n) : h), 0);
  return {
    meanConfidence: confidence.reduce((a, b) => a + b, 0) / n,
    confidentFraction: confidence.filter((p) => p > threshold).length / n,
    neighbourAgreement: neighbours
      ? neighbourAgreement(clusters, neighbours.indices, neighbours.k)
      : NaN,
    sizeEntropy: entropy / Math.log(c),
  };
}

/** Diagnose one model's probabilities [n, C] against `labels` (classes 0..C-1). */
export function diagnoseModel(
  probs: Float32Array,
  labels: Int32Array,
  c: number,
  threshold: number,
  neighbours?: { readonly indices: Int32Array; readonly k: number },
): ModelDiagnosis {
  const n = labels.length;
  const { clusters, confidence } = topClusters(probs, n, c);
  const { accuracy, nmi, ari, mapping } = clusteringMetrics(labels, clusters, c);
  const classOf = (cluster: number) => mapping[cluster] ?? -1;
  const confusion = Array.from({ length: c }, () => new Array<number>(c).fill(0));
  const perCluster = new Array<number>(c).fill(0);
  let confident = 0;
  let pure = 0;
  for (let i = 0; i < n; i++) {
    const predicted = classOf(clusters[i]);
    if (predicted >= 0) confusion[labels[i]][predicted]++;
    if (confidence[i] > threshold) {
      confident++;
      perCluster[clusters[i]]++;
      if (predicted === labels[i]) pure++;
    }
  }
  const perClass = confusion.map((row, truth) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    let confusedWith = -1;
    row.forEach((count, other) => {
      if (other !== truth && (confusedWith < 0 || count > row[confusedWith])) confusedWith = other;
    });
    return {
      recall: row[truth] / total,
      confusedWith,
      confusedFraction: confusedWith >= 0 ? row[confusedWith] / total : 0,
    };
  });
  const largest = Math.max(...perCluster);
  return {
    accuracy,
    nmi,
    ari,
    confident: {
      threshold,
      count: confident,
      purity: confident > 0 ? pure / confident : NaN,
      perCluster,
      balance: largest > 0 ? Math.min(...perCluster) / largest : NaN,
    },
    perClass,
    confusion,
    labelFree: labelFreeStats(probs, n, c, threshold, neighbours),
  };
}
