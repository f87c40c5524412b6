/**
 * One data-parallel SimCLR step as each worker takes it, as a plain function of the networks,
 * the views and the collective, so that it can also run on one thread (the benchmark profiles it
 * per kernel there, with the collective of a single worker).
 */
import * as tf from "@tensorflow/tfjs-core";
import { ntXentLoss } from "../losses/nt_xent.ts";
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
 * every worker's projections are gathered, and the loss of the whole batch is differentiated
 * with respect to this worker's rows only; the sum of those gradients over workers is the
 * gradient of the whole batch's loss. Returns the loss and that sum.
 */
export function simclrGradient(
  s: SimclrStepState,
  views: tf.Tensor4D,
  temperature: number,
): { loss: number; gradient: Float32Array } {
  const { value, grads } = tf.variableGrads(
    () => simclrLoss(s, views, temperature),
    s.variables.variables as tf.Variable[],
  );
  const loss = value.dataSync()[0];
  const gradient = sumGradients(s, grads);
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, gradient };
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
