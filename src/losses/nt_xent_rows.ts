/**
 * One worker's share of the symmetric NT-Xent loss (`ntXentLoss`) in a data-parallel step: the
 * terms of the anchors that are its own images' views, against every view of the batch, and the
 * gradient of those terms with respect to every view. Summed over workers whose images partition
 * the batch, the shares give the whole loss and its whole gradient, so no worker computes the
 * [2B, 2B] similarity of the batch: each computes its [2b, 2B] rows.
 *
 * The gradient is written out rather than taped, since the views here are numbers gathered from
 * the workers, not tensors on any tape: with S = A Z^T / t (A the anchors' rows of Z), P the
 * softmax of each row of S without its own column and Y the one-hot of each anchor's positive,
 * G = (P - Y) / (2B t) is dLoss/dS, and dLoss/dZ = G^T A plus G Z added to the anchors' rows.
 */
import * as tf from "@tensorflow/tfjs-core";

/** A worker's share: its part of the mean loss, and its part of the gradient. */
export interface NtXentShare {
  /** Its anchors' terms, divided by the batch's 2B anchors (the shares sum to the loss). */
  readonly loss: number;
  /** d(loss share)/d(contrast), `[2B, D]` like `contrast`. */
  readonly gradient: Float32Array;
}

/**
 * The share of images `start` to `start + count - 1`.
 *
 * @param contrast `[2B, D]` L2-normalised views: every image's first view, then every image's
 *   second view (the order of `ntXentLoss`'s contrast).
 * @param images B.
 * @param start first image of the share; `count` images from there.
 * @param temperature the softmax temperature, > 0.
 * @throws {RangeError} when the rows are not `2 * images` or the share is outside the batch.
 */
export function ntXentShare(
  contrast: Float32Array,
  images: number,
  dim: number,
  start: number,
  count: number,
  temperature: number,
): NtXentShare {
  const rows = 2 * images;
  if (!(Number.isInteger(images) && images >= 1 && contrast.length === rows * dim)) {
    throw new RangeError(
      `Cannot compute an NT-Xent share: contrast must be [2 * ${images}, ${dim}], current length ` +
        `is ${contrast.length}`,
    );
  }
  if (
    !(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 1 &&
      start + count <= images)
  ) {
    throw new RangeError(
      `Cannot compute an NT-Xent share: images ${start} to ${start + count - 1} are outside the ` +
        `batch of ${images}`,
    );
  }
  // Anchor a: its row of contrast, and its positive's (the other view of the same image).
  const anchorRow = (a: number) => a < count ? start + a : images + start + a - count;
  const positiveRow = (a: number) => a < count ? images + start + a : start + a - count;
  const self = new Float32Array(2 * count * rows);
  const positive = new Float32Array(2 * count * rows);
  for (let a = 0; a < 2 * count; a++) {
    self[a * rows + anchorRow(a)] = 1;
    positive[a * rows + positiveRow(a)] = 1;
  }
  return tf.tidy(() => {
    const z = tf.tensor2d(contrast, [rows, dim]);
    const anchors = tf.concat([
      tf.slice(z, [start, 0], [count, dim]),
      tf.slice(z, [images + start, 0], [count, dim]),
    ]);
    const logits = tf.div(tf.matMul(anchors, z, false, true), temperature);
    const isSelf = tf.cast(tf.tensor2d(self, [2 * count, rows]), "bool");
    const masked = tf.where(isSelf, tf.fill(logits.shape, -Infinity), logits);
    const y = tf.tensor2d(positive, [2 * count, rows]);
    // Loss terms: log-sum-exp of the row without itself, less the positive's logit.
    const logSumExp = tf.logSumExp(masked, 1);
    const positiveLogit = tf.sum(tf.mul(logits, y), 1);
    const loss = tf.sum(tf.sub(logSumExp, positiveLogit)).dataSync()[0] / rows;
    const g = tf.div(tf.sub(tf.softmax(masked), y), rows * temperature);
    const columns = tf.matMul(g, anchors, true, false);
    const ownRows = tf.matMul(g, z);
    const scatter = tf.concat([
      tf.zeros([start, dim]),
      tf.slice(ownRows, [0, 0], [count, dim]),
      tf.zeros([images - count, dim]),
      tf.slice(ownRows, [count, 0], [count, dim]),
      tf.zeros([images - start - count, dim]),
    ]);
    const gradient = tf.add(columns, scatter).dataSync() as Float32Array;
    return { loss, gradient };
  });
}
