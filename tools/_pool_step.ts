/**
 * The bench's step as training runs it now: the data-parallel pool of src/parallel/ with
 * `threads` workers (synchronised batch norm, summed gradients, flat Adam), and the same step on
 * this thread, for the per-kernel profile.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BackendName } from "../src/backend/backend.ts";
import { makeConfig } from "../src/config.ts";
import { SOLO } from "../src/parallel/collective.ts";
import { FlatAdam } from "../src/parallel/flat_adam.ts";
import { FlatVariables, readWeights } from "../src/parallel/network_weights.ts";
import { simclrLoss, type SimclrStepState, sumGradients } from "../src/parallel/simclr_step.ts";
import { synchroniseBatchNorm } from "../src/parallel/sync_batch_norm.ts";
import { TrainingPool } from "../src/parallel/training_pool.ts";
import { StreamModels } from "../src/stream/stream_models.ts";
import { Random } from "../src/util/random.ts";
import type { ProfiledStep } from "./_kernel_profile.ts";
import type { BenchStep, StepFactory, StepSpec } from "./_train_step.ts";

/** The config the pool's networks are built from for a spec (projection 128 wide, seed 1). */
function configOf(backbone: string, spec: StepSpec) {
  return makeConfig("fixtures", { backbone, inputSize: spec.config.inputSize, seed: 1 });
}

/** `batch` fixed random images of `size` x `size`, as uint8 pixels (seed 1). */
export function randomImages(
  batch: number,
  size: number,
): { ids: string[]; data: Uint8Array; shape: [number, number, number, 3] } {
  const rng = new Random(1);
  const data = new Uint8Array(batch * size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { ids: [], data, shape: [batch, size, size, 3] };
}

/** The spec's batch of fixed random images. */
function images(spec: StepSpec) {
  return randomImages(spec.batch, spec.config.inputSize);
}

/**
 * The pool's SimCLR step with `threads` workers: the two views of each image are the image and
 * its mirror image (no augmentation, as the bench times the network, not the augmentations);
 * the forward pass is the pool's embedding pass (backbone and projection head) over the batch.
 */
export function poolStep(threads: number, backbone: string, backend: BackendName): StepFactory {
  return async (spec) => {
    const config = configOf(backbone, spec);
    const models = StreamModels.build(config);
    const pool = await TrainingPool.open({
      threads: Math.min(threads, spec.batch),
      backend,
      config,
      weights: readWeights(models),
      maxBatch: spec.batch,
    });
    models.dispose();
    const batch = images(spec);
    const step: BenchStep = {
      forward: async () => {
        await pool.embed(batch);
      },
      trainStep: async () => {
        const { loss } = await pool.pretextStep(batch, {
          learningRate: 1e-3,
          temperature: 0.1,
          seed: 1,
          augment: false,
        });
        if (!Number.isFinite(loss)) throw new Error(`Cannot benchmark: the loss became ${loss}`);
      },
      dispose: () => pool.close(),
    };
    return step;
  };
}

/** The pool's step on this thread with one worker's collective, for `profileStep`. */
export function poolStepHere(backbone: string, spec: StepSpec): {
  step: ProfiledStep;
  dispose(): void;
} {
  const models = StreamModels.build(configOf(backbone, spec));
  synchroniseBatchNorm(models.backbone, SOLO);
  const variables = new FlatVariables([models.backbone, models.projection]);
  const state: SimclrStepState = {
    model: models.contrastive,
    variables,
    params: variables.read(),
    collective: SOLO,
  };
  const adam = new FlatAdam(variables.size, { learningRate: 1e-3 });
  const views = tf.tidy(() => {
    const batch = images(spec);
    const x = tf.div(tf.tensor4d(batch.data, batch.shape, "float32"), 255);
    return tf.concat([x, tf.reverse(x, 2)]) as tf.Tensor4D;
  });
  return {
    step: {
      loss: () => simclrLoss(state, views, 0.1),
      variables: variables.variables as tf.Variable[],
      apply: (grads) => {
        adam.step(state.params, sumGradients(state, grads));
        variables.write(state.params);
      },
    },
    dispose: () => {
      views.dispose();
      models.dispose();
    },
  };
}
