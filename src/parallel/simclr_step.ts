/**
 * One data-parallel SimCLR step as each worker takes it, as a plain function of the networks,
 * the views and the collective, so that it can also run on one thread (the benchmark profiles it
 * per kernel there, with the collective of a single worker).
 */
import * as tf from "@tensorflow/tfjs-core";
import { ntXentLoss } from "../losses/nt_xent.ts";
import { ntXentShare } from "../losses/nt_xent_rows.ts";
import { type ContrastiveModel, projectFeatures } from "../stages/models.ts";
import type { Collective } from "./collective.ts";
import type { FlatAdam } from "./flat_adam.ts";
import type { FlatVariables } from "./network_weights.ts";

/** What one worker's SimCLR step works on. */
export interface SimclrStepState {
  readonly model: ContrastiveModel;
  /** The model's trainable variables (backbone and projection head), flat. */
  readonly variables: FlatVariables;
  /** Their values, updated in place by the step. */
  readonly params: Float32Array;
  readonly collective: Collective;
}

/**
 * The gradient of the whole batch's NT-Xent loss: this worker's views (its images' first views,
 * then their second views) go through its networks (batch norm synchronised across workers),
 * and the loss's gradient at its projections (one worker: the loss itself, taped; several:
 * `sharedLossGradient`) flows back through them; the sum over workers of the weights' gradients
 * is the gradient of the whole batch's loss. Returns the loss and that sum.
 */
export function simclrGradient(
  s: SimclrStepState,
  views: tf.Tensor4D,
  temperature: number,
): { loss: number; gradient: Float32Array } {
  let loss = NaN;
  const { value, grads } = tf.variableGrads(
    () => {
      if (s.collective.size === 1) return simclrLoss(s, views, temperature);
      const z = projectFeatures(s.model, views, true);
      const share = sharedLossGradient(
        s.collective,
        z.dataSync() as Float32Array,
        z.shape[1],
        temperature,
      );
      loss = share.loss;
      // d(sum(z * g))/dz = g: the whole batch's gradient at this worker's rows flows back
      // through its networks.
      return tf.sum(tf.mul(z, tf.tensor2d(share.ownGradient, z.shape)));
    },
    s.variables.variables as tf.Variable[],
  );
  if (s.collective.size === 1) loss = value.dataSync()[0];
  const gradient = sumGradients(s, grads);
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, gradient };
}

/**
 * The whole batch's NT-Xent loss and its gradient at this worker's projections `z` (`[2b, dim]`:
 * its images' first views, then their second views), each worker computing only its anchors'
 * rows (`ntXentShare`): the projections are gathered, each worker's share of the loss and of the
 * gradient with respect to every projection is summed over workers, and this worker keeps the
 * rows of its own projections. Two exchanges (the gather, the sum), against the [2B, 2B]
 * similarity that every worker would otherwise compute in full.
 */
export function sharedLossGradient(
  collective: Collective,
  z: Float32Array,
  dim: number,
  temperature: number,
): { loss: number; ownGradient: Float32Array } {
  const gathered = collective.allGather(z);
  const counts = gathered.map((rows) => rows.length / dim / 2);
  const images = counts.reduce((a, b) => a + b, 0);
  const starts = counts.map((_, r) => counts.slice(0, r).reduce((a, b) => a + b, 0));
  // The batch's contrast: every image's first view, then every image's second view.
  const contrast = new Float32Array(2 * images * dim);
  gathered.forEach((rows, r) => {
    const half = counts[r] * dim;
    contrast.set(rows.subarray(0, half), starts[r] * dim);
    contrast.set(rows.subarray(half), (images + starts[r]) * dim);
  });
  const rank = collective.rank;
  const [start, count] = [starts[rank], counts[rank]];
  const share = ntXentShare(contrast, images, dim, start, count, temperature);
  const packed = new Float32Array(share.gradient.length + 1);
  packed.set(share.gradient);
  packed[share.gradient.length] = share.loss;
  const total = collective.allReduceSum(packed);
  const ownGradient = new Float32Array(2 * count * dim);
  ownGradient.set(total.subarray(start * dim, (start + count) * dim));
  ownGradient.set(
    total.subarray((images + start) * dim, (images + start + count) * dim),
    count * dim,
  );
  return { loss: total[share.gradient.length], ownGradient };
}

/** The whole batch's NT-Xent loss, differentiable in this worker's rows (see `simclrGradient`). */
export function simclrLoss(s: SimclrStepState, views: tf.Tensor4D, temperature: number): tf.Scalar {
  const z = projectFeatures(s.model, views, true);
  const dim = z.shape[1];
  const gathered = s.collective.allGather(z.dataSync() as Float32Array);
  const pairs = gathered.map((rows, r) => {
    const own = r === s.collective.rank ? z : tf.tensor2d(rows, [rows.length / dim, dim]);
    const b = own.shape[0] / 2;
    return tf.stack([tf.slice(own, [0, 0], [b, -1]), tf.slice(own, [b, 0], [b, -1])], 1);
  });
  return ntXentLoss(tf.concat(pairs, 0) as tf.Tensor3D, temperature);
}

/** This worker's gradients, flat, summed over every worker. */
export function sumGradients(s: SimclrStepState, grads: tf.NamedTensorMap): Float32Array {
  return s.collective.allReduceSum(s.variables.flatten(grads));
}

/** Apply the summed gradient: the same Adam update in every worker. */
export function applyGradient(s: SimclrStepState, adam: FlatAdam, gradient: Float32Array): void {
  adam.step(s.params, gradient);
  s.variables.write(s.params);
}
