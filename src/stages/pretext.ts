/**
 * Stage 1, the pretext task (SimCLR): two augmentations of each image must map close, every other
 * image of the batch far (NT-Xent over both views, temperature 0.1 in the paper).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { WeakOptions } from "../augment/options.ts";
import { weakAugment } from "../augment/weak.ts";
import { ntXentLoss } from "../losses/nt_xent.ts";
import type { Random } from "../util/random.ts";
import { type ContrastiveModel, projectFeatures, trainableVariables } from "./models.ts";

/** Options of `PretextTrainer`. */
export interface PretextOptions {
  /** Adam learning rate. */
  readonly learningRate: number;
  /** NT-Xent temperature. */
  readonly temperature: number;
  /** Overrides of the weak augmentation that makes the two views. */
  readonly augmentation?: Partial<WeakOptions>;
}

/** One SimCLR optimiser over a contrastive model; owns the optimiser, not the model. */
export class PretextTrainer {
  readonly #model: ContrastiveModel;
  readonly #options: PretextOptions;
  readonly #rng: Random;
  readonly #optimizer: tf.Optimizer;
  readonly #variables: tf.Variable[];

  constructor(model: ContrastiveModel, options: PretextOptions, rng: Random) {
    this.#model = model;
    this.#options = options;
    this.#rng = rng;
    this.#optimizer = tf.train.adam(options.learningRate);
    this.#variables = trainableVariables(model.backbone, model.projection);
  }

  /**
   * One SimCLR step on a batch [B, S, S, 3] in [0, 1]; returns the NT-Xent loss before the
   * update. Both views go through the network as one batch of 2B, so batch norm sees both.
   */
  step(images: tf.Tensor4D): number {
    if (images.shape[0] < 2) {
      throw new RangeError(
        `Cannot take a SimCLR step: a batch needs at least 2 images, current value is ${
          images.shape[0]
        }`,
      );
    }
    const views = tf.tidy(() =>
      tf.concat([
        weakAugment(images, this.#rng, this.#options.augmentation),
        weakAugment(images, this.#rng, this.#options.augmentation),
      ])
    );
    const b = images.shape[0];
    const cost = this.#optimizer.minimize(
      () => {
        const z = projectFeatures(this.#model, views, true);
        const pairs = tf.stack(
          [tf.slice(z, [0, 0], [b, -1]), tf.slice(z, [b, 0], [b, -1])],
          1,
        ) as tf.Tensor3D;
        return ntXentLoss(pairs, this.#options.temperature);
      },
      true,
      this.#variables,
    );
    views.dispose();
    const loss = cost!.dataSync()[0];
    cost!.dispose();
    return loss;
  }

  dispose(): void {
    this.#optimizer.dispose();
  }
}
