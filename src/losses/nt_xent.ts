/**
 * The pretext loss of SCAN's first stage: NT-Xent (SimCLR, Chen et al. 2020) on pairs of views.
 * Two forms: `simclrLoss` is the official SCAN `SimCLRLoss` (only view 0 anchors), `ntXentLoss` is
 * the symmetric one of the SimCLR paper (every view anchors once).
 */
import * as tf from "@tensorflow/tfjs-core";

/**
 * The official SCAN SimCLR loss: for each image b, view 0 is the anchor, view 1 its positive, and
 * the other 2B - 2 views of the batch its negatives; the loss is the mean over the B anchors of
 * `-log softmax(<z_b0, z> / temperature)` at the positive.
 *
 * Pure and synchronous, differentiable in `features`.
 *
 * @param features `[B, 2, D]`, L2-normalised along D (view 0 and view 1 of each image).
 * @param temperature the softmax temperature tau (paper: 0.1), > 0.
 * @returns a scalar.
 * @throws {RangeError} when the shape is not `[B, 2, D]` or the temperature is not positive.
 */
export function simclrLoss(features: tf.Tensor3D, temperature = 0.1): tf.Scalar {
  validate("simclrLoss", features, temperature);
  return tf.tidy(() => {
    const batch = features.shape[0];
    const [view0, view1] = views(features);
    const contrast = tf.concat([view0, view1], 0);
    const logits = tf.div(tf.matMul(view0, contrast, false, true), temperature);
    const self = tf.concat([tf.eye(batch), tf.zeros([batch, batch])], 1);
    const denominator = tf.logSumExp(withoutSelf(logits, self), 1);
    const positive = tf.div(tf.sum(tf.mul(view0, view1), 1), temperature);
    return tf.mean(tf.sub(denominator, positive)) as tf.Scalar;
  });
}

/**
 * The symmetric NT-Xent loss of the SimCLR paper: all 2B views anchor once, each with the other
 * view of its image as positive and the remaining 2B - 2 views as negatives; mean over the 2B
 * anchors.
 *
 * Pure and synchronous, differentiable in `features`.
 *
 * @param features `[B, 2, D]`, L2-normalised along D.
 * @param temperature the softmax temperature tau (paper: 0.1), > 0.
 * @returns a scalar.
 * @throws {RangeError} when the shape is not `[B, 2, D]` or the temperature is not positive.
 */
export function ntXentLoss(features: tf.Tensor3D, temperature = 0.1): tf.Scalar {
  validate("ntXentLoss", features, temperature);
  return tf.tidy(() => {
    const batch = features.shape[0];
    const [view0, view1] = views(features);
    const contrast = tf.concat([view0, view1], 0);
    const logits = tf.div(tf.matMul(contrast, contrast, false, true), temperature);
    const denominator = rowLogSumExp(withoutSelf(logits, tf.eye(2 * batch)) as tf.Tensor2D);
    const pair = tf.div(tf.sum(tf.mul(view0, view1), 1), temperature);
    const positive = tf.concat([pair, pair], 0);
    return tf.mean(tf.sub(denominator, positive)) as tf.Scalar;
  });
}

/**
 * Row-wise log-sum-exp, shifted by each row's maximum taken as a constant: any constant shift
 * gives the same value and the same gradient (the softmax), so the maximum needs no gradient of
 * its own. tf.logSumExp differentiates through it (an element-wise Equal over the whole
 * [2B, 2B] matrix), which took about 3% of a SimCLR step at batch 256 on the wasm backend.
 */
function rowLogSumExp(logits: tf.Tensor2D): tf.Tensor {
  const shift = tf.tensor2d(tf.max(logits, 1, true).dataSync(), [logits.shape[0], 1]);
  return tf.add(tf.log(tf.sum(tf.exp(tf.sub(logits, shift)), 1)), tf.reshape(shift, [-1]));
}

/**
 * The logits with each anchor's logit against itself at -Infinity, so it drops out of the
 * log-sum-exp whatever the scale of the features; the mask is a constant, so the gradient path
 * holds no data-dependent selection.
 */
function withoutSelf(logits: tf.Tensor, self: tf.Tensor): tf.Tensor {
  return tf.where(tf.cast(self, "bool"), tf.fill(logits.shape, -Infinity), logits);
}

function views(features: tf.Tensor3D): [tf.Tensor2D, tf.Tensor2D] {
  const [batch, , dim] = features.shape;
  return [0, 1].map((view) =>
    tf.reshape(tf.slice(features, [0, view, 0], [batch, 1, dim]), [batch, dim])
  ) as [tf.Tensor2D, tf.Tensor2D];
}

function validate(name: string, features: tf.Tensor3D, temperature: number): void {
  if (features.rank !== 3 || features.shape[1] !== 2 || features.shape[0] < 1) {
    throw new RangeError(
      `Cannot compute ${name}: features must have shape [B, 2, D] with B >= 1, ` +
        `current shape is [${features.shape.join(", ")}]`,
    );
  }
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(
      `Cannot compute ${name}: temperature must be a positive number, current value is ${temperature}`,
    );
  }
}
