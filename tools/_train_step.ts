/**
 * What tools/bench.ts times: a backbone's forward pass, and one SimCLR training step (backbone +
 * projection head, NT-Xent on two views, one full Adam step) on fixed random views.
 *
 * The bench builds its step through a {@link StepFactory}, so another way to run the same step
 * (the data-parallel worker pool of `--threads N`) plugs in without touching the timing, the
 * PyTorch comparison or the JSON: it only has to return a {@link BenchStep} for the same spec.
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { ntXentLoss } from "../src/losses/nt_xent.ts";
import { type BackboneConfig, buildBackbone } from "../src/models/resnet.ts";
import { buildProjectionHead } from "../src/models/projection_head.ts";

/** The work one measurement is about: which network, on how many images (pairs) a batch. */
export interface StepSpec {
  config: BackboneConfig;
  batch: number;
}

/** A prepared forward pass and training step; calls may be synchronous or not. */
export interface BenchStep {
  /** The backbone in inference mode on `batch` images, its output read back. */
  forward(): void | Promise<void>;
  /** One SimCLR step on `batch` pairs (2 * batch rows), its loss read back. */
  trainStep(): void | Promise<void>;
  dispose(): void | Promise<void>;
}

/** Builds the step a measurement times. */
export type StepFactory = (spec: StepSpec) => BenchStep | Promise<BenchStep>;

/** The networks, optimiser and views of one step, on the current backend of this thread. */
export interface SimclrStepState {
  backbone: tfl.LayersModel;
  head: tfl.LayersModel;
  optimizer: tf.Optimizer;
  images: tf.Tensor4D;
  otherViews: tf.Tensor4D;
  batch: number;
}

/** Same seeds as before the bench was split, so its figures stay comparable. */
export function buildSimclrStepState({ config, batch }: StepSpec): SimclrStepState {
  const featureDim = config.widths.at(-1)!;
  const shape: [number, number, number, number] = [batch, config.inputSize, config.inputSize, 3];
  return {
    backbone: buildBackbone(config, 1),
    head: buildProjectionHead(featureDim, featureDim, 128, 1),
    optimizer: tf.train.adam(1e-3),
    images: tf.randomUniform(shape, 0, 1, "float32", 1) as tf.Tensor4D,
    otherViews: tf.randomUniform(shape, 0, 1, "float32", 2) as tf.Tensor4D,
    batch,
  };
}

/** The SimCLR loss of one step: both views in one pass, as [2B] rows, regrouped as [B, 2, D]. */
export function simclrStepLoss(state: SimclrStepState): tf.Scalar {
  const { backbone, head, images, otherViews, batch } = state;
  const views = tf.concat([images, otherViews], 0);
  const projected = head.apply(
    backbone.apply(views, { training: true }) as tf.Tensor,
    { training: true },
  ) as tf.Tensor2D;
  const pairs = tf.transpose(tf.reshape(projected, [2, batch, -1]), [1, 0, 2]) as tf.Tensor3D;
  return ntXentLoss(pairs);
}

export function disposeSimclrStepState(state: SimclrStepState): void {
  tf.dispose([state.images, state.otherViews]);
  state.optimizer.dispose();
  state.backbone.dispose();
  state.head.dispose();
}

/** Throws when a step's loss is not a number: a broken step must not be timed as a fast one. */
export function checkLoss(loss: tf.Scalar): void {
  const value = loss.dataSync()[0];
  loss.dispose();
  if (!Number.isFinite(value)) throw new Error(`Cannot benchmark: the loss became ${value}`);
}

/** The step on this thread's backend, one core: what every trainer ran before issue 11. */
export const singleThreadStep: StepFactory = (spec) => {
  const state = buildSimclrStepState(spec);
  return {
    forward: () =>
      tf.tidy(() => {
        (state.backbone.predict(state.images) as tf.Tensor).dataSync();
      }),
    trainStep: () => checkLoss(state.optimizer.minimize(() => simclrStepLoss(state), true)!),
    dispose: () => disposeSimclrStepState(state),
  };
};
