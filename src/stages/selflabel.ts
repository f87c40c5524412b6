/**
 * Stage 3, self-labelling: images the model already classifies confidently (max probability above
 * the threshold on a weak augmentation) become pseudo-labels for a class-balanced cross-entropy on
 * a strong augmentation of the same image. More images pass the threshold as training goes on.
 */
import * as tf from "@tensorflow/tfjs-core";
import { setLearningRate } from "./learning_rate.ts";
import type { StrongOptions } from "../augment/options.ts";
import { strongAugment } from "../augment/strong.ts";
import { weakAugment } from "../augment/weak.ts";
import { confidenceCrossEntropy, confidenceTargets } from "../losses/confidence_ce.ts";
import type { Random } from "../util/random.ts";
import { type ClusteringModel, headLogits, trainableVariables } from "./models.ts";

/** Options of `SelfLabelTrainer`. */
export interface SelfLabelOptions {
  readonly learningRate: number;
  /** Confidence a weak view needs to become a pseudo-label (paper: 0.99). */
  readonly threshold: number;
  /** The head kept by the SCAN stage; the others are not trained further. */
  readonly head: number;
  /** Overrides of both augmentations (the weak view's fields apply to both). */
  readonly augmentation?: Partial<StrongOptions>;
  /**
   * Train the kept head only, on the frozen backbone's features of both views (inference mode),
   * where the backbone belongs to another task: in the stream it goes on with SimCLR steps.
   */
  readonly headOnly?: boolean;
}

/** One image of a batch that passed the threshold, and the cluster it was taught. */
export interface AcceptedLabel {
  /** Row in the batch. */
  readonly row: number;
  /** Cluster of the trained head. */
  readonly cluster: number;
  /** Probability of that cluster under the weak view. */
  readonly confidence: number;
}

/** Result of one self-labelling step. */
export interface SelfLabelLoss {
  readonly loss: number;
  /** Images of the batch that passed the threshold. */
  readonly confident: number;
  /** Those images, their pseudo-labels and confidences. */
  readonly accepted: readonly AcceptedLabel[];
}

/** The self-labelling optimiser over a clustering model; owns the optimiser, not the model. */
export class SelfLabelTrainer {
  readonly #model: ClusteringModel;
  readonly #options: SelfLabelOptions;
  readonly #rng: Random;
  readonly #optimizer: tf.Optimizer;
  readonly #variables: tf.Variable[];

  constructor(model: ClusteringModel, options: SelfLabelOptions, rng: Random) {
    this.#model = model;
    this.#options = options;
    this.#rng = rng;
    this.#optimizer = tf.train.adam(options.learningRate);
    this.#variables = options.headOnly
      ? trainableVariables(model.heads)
      : trainableVariables(model.backbone, model.heads);
  }

  /**
   * Train at `scale` times the configured learning rate from the next step on, the optimiser's
   * moments kept (the stream cools its rates while no image arrives).
   */
  scaleLearningRate(scale: number): void {
    setLearningRate(this.#optimizer, this.#options.learningRate * scale);
  }

  /** The kept head's logits; the backbone in inference mode when it is frozen. */
  #logits(images: tf.Tensor4D): tf.Tensor2D {
    return headLogits(this.#model, images, !this.#options.headOnly)[this.#options.head];
  }

  /** One step on a batch [B, S, S, 3] in [0, 1]. */
  step(images: tf.Tensor4D): SelfLabelLoss {
    // Targets come from a forward pass outside the gradient closure: tfjs cannot differentiate
    // through indices computed inside `minimize`, and the weak view must not receive gradients.
    // Training mode, as the official code: batch-norm statistics then see weak views as well as
    // strong ones, so they do not drift to strongly augmented images only.
    const weakLogits = tf.tidy(() =>
      this.#logits(weakAugment(images, this.#rng, this.#options.augmentation))
    );
    const { targets, weights, numConfident, confidence } = confidenceTargets(
      weakLogits,
      this.#options.threshold,
      true,
    );
    weakLogits.dispose();
    const accepted: AcceptedLabel[] = [];
    weights.forEach((w, row) => {
      if (w > 0) accepted.push({ row, cluster: targets[row], confidence: confidence[row] });
    });
    if (numConfident === 0) return { loss: 0, confident: 0, accepted };
    const strong = strongAugment(images, this.#rng, this.#options.augmentation);
    const cost = this.#optimizer.minimize(
      () => confidenceCrossEntropy(this.#logits(strong), targets, weights),
      true,
      this.#variables,
    );
    strong.dispose();
    const loss = cost!.dataSync()[0];
    cost!.dispose();
    return { loss, confident: numConfident, accepted };
  }

  dispose(): void {
    this.#optimizer.dispose();
  }
}
