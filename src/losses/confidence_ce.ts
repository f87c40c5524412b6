/**
 * The self-labelling loss of SCAN's third stage (official `ConfidenceBasedCE`): images the head
 * already places with high confidence on a weak augmentation become pseudo-labelled, and the head
 * learns to give the same cluster on a strong augmentation of the image.
 *
 * Split in two so that the training step stays synchronous: `confidenceTargets` reads the weak
 * predictions once, outside the gradient closure, and `confidenceCrossEntropy` is the
 * differentiable part, with the selection expressed as per-row weights instead of a boolean mask.
 */
import * as tf from "@tensorflow/tfjs-core";

/** Pseudo-labels of a batch, one entry per row of the weak logits. */
export interface ConfidenceTargets {
  /** The most probable cluster of each row (a pseudo-label only where `weights` is above 0). */
  targets: Int32Array;
  /** Loss weight of each row: 0 for rows under the threshold, else 1 or the class weight. */
  weights: Float32Array;
  /** Rows whose highest probability exceeds the threshold. */
  numConfident: number;
  /** The highest probability of each row: that of its `targets` entry. */
  confidence: Float32Array;
}

/**
 * Pseudo-labels from the weak view: a row is confident when its highest softmax probability is
 * strictly above `threshold`. With class balancing, as in the official code, each confident row
 * is weighted by `numConfident / (confident rows with its label)`, so rare pseudo-classes count as
 * much as frequent ones in the weighted mean of `confidenceCrossEntropy`.
 *
 * Reads the tensor synchronously: call it outside the gradient closure.
 *
 * @param weakLogits `[B, C]` head logits of the weakly augmented images.
 * @param threshold confidence threshold on the softmax probability (paper: 0.99), in [0, 1).
 * @param classBalanced weight rows by inverse pseudo-class frequency.
 * @throws {RangeError} on a malformed shape or threshold.
 */
export function confidenceTargets(
  weakLogits: tf.Tensor2D,
  threshold = 0.99,
  classBalanced = true,
): ConfidenceTargets {
  if (weakLogits.rank !== 2 || weakLogits.shape[1] < 1) {
    throw new RangeError(
      "Cannot select confident images: weakLogits must have shape [B, C] with C >= 1, " +
        `current shape is [${weakLogits.shape.join(", ")}]`,
    );
  }
  if (!(threshold >= 0 && threshold < 1)) {
    throw new RangeError(
      `Cannot select confident images: threshold must be in [0, 1), current value is ${threshold}`,
    );
  }
  const [rows, clusters] = weakLogits.shape;
  const probabilities = tf.tidy(() => tf.softmax(weakLogits));
  const values = probabilities.dataSync() as Float32Array;
  probabilities.dispose();

  const targets = new Int32Array(rows);
  const confidence = new Float32Array(rows);
  const confident = new Uint8Array(rows);
  const counts = new Int32Array(clusters);
  let numConfident = 0;
  for (let row = 0; row < rows; row++) {
    let best = 0;
    for (let c = 1; c < clusters; c++) {
      if (values[row * clusters + c] > values[row * clusters + best]) best = c;
    }
    targets[row] = best;
    confidence[row] = values[row * clusters + best];
    // NaN probabilities compare false, so a broken row never becomes a pseudo-label.
    if (values[row * clusters + best] > threshold) {
      confident[row] = 1;
      counts[best]++;
      numConfident++;
    }
  }
  const weights = new Float32Array(rows);
  for (let row = 0; row < rows; row++) {
    if (confident[row] === 0) continue;
    weights[row] = classBalanced ? numConfident / counts[targets[row]] : 1;
  }
  return { targets, weights, numConfident, confidence };
}

/**
 * Weighted cross-entropy of the strong view against the pseudo-labels:
 * `sum_i w_i * -log softmax(strong_i)[t_i] / sum_i w_i`, which is PyTorch's
 * `F.cross_entropy(weight=..., reduction="mean")` over the confident rows.
 *
 * When no row has weight, the result is 0 and still connected to `strongLogits`, so an optimizer
 * step on it is a no-op rather than an error about missing gradients.
 *
 * Pure and synchronous, differentiable in `strongLogits`.
 *
 * @param strongLogits `[B, C]` head logits of the strongly augmented images.
 * @param targets B pseudo-labels in [0, C).
 * @param weights B non-negative row weights (0 drops a row), from `confidenceTargets`.
 * @throws {RangeError} when lengths, labels or weights do not fit the logits.
 */
export function confidenceCrossEntropy(
  strongLogits: tf.Tensor2D,
  targets: Int32Array,
  weights: Float32Array,
): tf.Scalar {
  const totalWeight = validate(strongLogits, targets, weights);
  return tf.tidy(() => {
    if (totalWeight === 0) return tf.mul(tf.sum(strongLogits), 0) as tf.Scalar;
    const [rows, clusters] = strongLogits.shape;
    // The row weight sits at the pseudo-label's column: one constant [B, C] matrix is both the
    // label selection and the class weighting.
    const selection = new Float32Array(rows * clusters);
    for (let row = 0; row < rows; row++) {
      if (weights[row] > 0) selection[row * clusters + targets[row]] = weights[row];
    }
    const weight = tf.tensor2d(selection, [rows, clusters]);
    // where() rather than a plain product: a -Infinity log-probability outside the selection
    // would otherwise turn the sum into NaN (-Infinity * 0).
    const weighted = tf.where(
      tf.greater(weight, 0),
      tf.mul(tf.logSoftmax(strongLogits), weight),
      tf.zerosLike(weight),
    );
    return tf.div(tf.neg(tf.sum(weighted)), totalWeight) as tf.Scalar;
  });
}

function validate(strongLogits: tf.Tensor2D, targets: Int32Array, weights: Float32Array): number {
  if (strongLogits.rank !== 2 || strongLogits.shape[1] < 1) {
    throw new RangeError(
      "Cannot compute confidenceCrossEntropy: strongLogits must have shape [B, C] with C >= 1, " +
        `current shape is [${strongLogits.shape.join(", ")}]`,
    );
  }
  const [rows, clusters] = strongLogits.shape;
  if (targets.length !== rows || weights.length !== rows) {
    throw new RangeError(
      `Cannot compute confidenceCrossEntropy: targets and weights must have one entry per row ` +
        `(${rows}), current lengths are ${targets.length} and ${weights.length}`,
    );
  }
  let total = 0;
  for (let row = 0; row < rows; row++) {
    if (!(weights[row] >= 0) || !Number.isFinite(weights[row])) {
      throw new RangeError(
        `Cannot compute confidenceCrossEntropy: weights must be finite and non-negative, ` +
          `current value at row ${row} is ${weights[row]}`,
      );
    }
    if (weights[row] > 0 && !(targets[row] >= 0 && targets[row] < clusters)) {
      throw new RangeError(
        `Cannot compute confidenceCrossEntropy: targets must be in [0, ${clusters}), ` +
          `current value at row ${row} is ${targets[row]}`,
      );
    }
    total += weights[row];
  }
  return total;
}
