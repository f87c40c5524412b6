/**
 * The SCAN clustering loss (Van Gansbeke et al. 2020, eq. 2): an anchor and one of its mined
 * neighbours must agree in cluster, and the mean cluster distribution of the batch must stay
 * spread out, so that the head does not put every image in one cluster.
 */
import * as tf from "@tensorflow/tfjs-core";

/**
 * The SCAN loss and its two parts, logged separately. A type alias rather than an interface so
 * that it is a `tf.TensorContainer`: `tf.dispose(parts)` and returning it from `tf.tidy` work.
 */
export type ScanLossParts = {
  /** `consistency - entropyWeight * entropy`, the quantity to minimise. */
  total: tf.Scalar;
  /** `-mean_i log <softmax(anchor_i), softmax(neighbour_i)>`. */
  consistency: tf.Scalar;
  /** Entropy (nats) of the batch-mean cluster distribution of the anchors. */
  entropy: tf.Scalar;
};

// The official code feeds the dot product to BCELoss, which clamps log() at -100; the same clamp
// keeps both implementations equal on pairs whose distributions have (numerically) no overlap.
const LOG_FLOOR = -100;
// The official entropy() clamps probabilities at EPS = 1e-8 before taking the log.
const PROBABILITY_FLOOR = 1e-8;

/**
 * SCAN loss for a batch of (anchor, neighbour) pairs of cluster logits.
 *
 * The log of the dot product of the two softmax distributions is computed as a log-sum-exp of the
 * two log-softmaxes, so confident heads with very large logits give finite values and gradients
 * where the product of two softmaxes would underflow.
 *
 * Pure and synchronous, differentiable in both logit tensors.
 *
 * @param anchorLogits `[B, C]` head logits of the anchors.
 * @param neighbourLogits `[B, C]` head logits of one neighbour of each anchor.
 * @param entropyWeight lambda, the weight of the entropy term (paper configs: 5).
 * @throws {RangeError} when the shapes differ or are empty, or the weight is not finite.
 */
export function scanLoss(
  anchorLogits: tf.Tensor2D,
  neighbourLogits: tf.Tensor2D,
  entropyWeight = 5,
): ScanLossParts {
  validate(anchorLogits, neighbourLogits, entropyWeight);
  return tf.tidy(() => {
    const anchorLog = tf.logSoftmax(anchorLogits);
    const logSimilarity = tf.logSumExp(tf.add(anchorLog, tf.logSoftmax(neighbourLogits)), 1);
    const consistency = tf.neg(tf.mean(tf.maximum(logSimilarity, LOG_FLOOR))) as tf.Scalar;

    const meanProbability = tf.maximum(tf.mean(tf.exp(anchorLog), 0), PROBABILITY_FLOOR);
    const entropy = tf.neg(tf.sum(tf.mul(meanProbability, tf.log(meanProbability)))) as tf.Scalar;

    const total = tf.sub(consistency, tf.mul(entropy, entropyWeight)) as tf.Scalar;
    return { total, consistency, entropy };
  });
}

function validate(anchors: tf.Tensor2D, neighbours: tf.Tensor2D, entropyWeight: number): void {
  if (anchors.rank !== 2 || anchors.shape[0] < 1 || anchors.shape[1] < 1) {
    throw new RangeError(
      "Cannot compute scanLoss: anchorLogits must have shape [B, C] with B, C >= 1, " +
        `current shape is [${anchors.shape.join(", ")}]`,
    );
  }
  if (
    neighbours.rank !== 2 || neighbours.shape[0] !== anchors.shape[0] ||
    neighbours.shape[1] !== anchors.shape[1]
  ) {
    throw new RangeError(
      `Cannot compute scanLoss: neighbourLogits must have the shape of anchorLogits ` +
        `[${anchors.shape.join(", ")}], current shape is [${neighbours.shape.join(", ")}]`,
    );
  }
  if (!Number.isFinite(entropyWeight)) {
    throw new RangeError(
      `Cannot compute scanLoss: entropyWeight must be a finite number, current value is ${entropyWeight}`,
    );
  }
}
