/**
 * Stage 2, SCAN: clustering heads on the pretext backbone, trained so that an image and one of its
 * mined neighbours get the same confident cluster (consistency), while the mean prediction stays
 * spread over all clusters (entropy). Several heads train at once; the lowest loss wins.
 */
import * as tf from "@tensorflow/tfjs-core";
import { setLearningRate } from "./learning_rate.ts";
import type { StrongOptions } from "../augment/options.ts";
import { strongAugment } from "../augment/strong.ts";
import { scanLoss } from "../losses/scan_loss.ts";
import type { Random } from "../util/random.ts";
import { type ClusteringModel, headLogits, trainableVariables } from "./models.ts";

/** Per-head losses of one SCAN step or evaluation. */
export interface ScanLosses {
  readonly total: number[];
  readonly consistency: number[];
  readonly entropy: number[];
}

/** Options of `ScanTrainer`. */
export interface ScanOptions {
  readonly learningRate: number;
  /** Weight of the entropy term (paper: 5). */
  readonly entropyWeight: number;
  /** Augment anchors and neighbours (the paper uses its strong augmentation here). */
  readonly augment: boolean;
  /** Overrides of the strong augmentation. */
  readonly augmentation?: Partial<StrongOptions>;
}

/** The SCAN optimiser over a clustering model; owns the optimiser, not the model. */
export class ScanTrainer {
  readonly #model: ClusteringModel;
  readonly #options: ScanOptions;
  readonly #rng: Random;
  readonly #optimizer: tf.Optimizer;
  readonly #variables: tf.Variable[];

  constructor(model: ClusteringModel, options: ScanOptions, rng: Random) {
    this.#model = model;
    this.#options = options;
    this.#rng = rng;
    this.#optimizer = tf.train.adam(options.learningRate);
    this.#variables = trainableVariables(model.backbone, model.heads);
  }

  /**
   * Train at `scale` times the configured learning rate from the next step on, the optimiser's
   * moments kept (the stream cools its rates while no image arrives).
   */
  scaleLearningRate(scale: number): void {
    setLearningRate(this.#optimizer, this.#options.learningRate * scale);
  }

  /**
   * One step on anchors [B, S, S, 3] and one neighbour of each [B, S, S, 3]; the gradient is that
   * of the sum of the heads' total losses. Returns each head's losses before the update.
   */
  step(anchors: tf.Tensor4D, neighbours: tf.Tensor4D): ScanLosses {
    const b = anchors.shape[0];
    const inputs = tf.tidy(() => {
      const both = tf.concat([anchors, neighbours]);
      return this.#options.augment
        ? strongAugment(both, this.#rng, this.#options.augmentation)
        : both;
    });
    const parts: tf.Tensor1D[] = [];
    const cost = this.#optimizer.minimize(
      () => {
        const logits = headLogits(this.#model, inputs, true);
        return tf.addN(logits.map((l) => this.#headLoss(l, b, parts))) as tf.Scalar;
      },
      false,
      this.#variables,
    );
    cost?.dispose();
    inputs.dispose();
    return readLosses(parts);
  }

  /**
   * One step on backbone features of anchors [B, F] and of one neighbour each [B, F], updating the
   * clustering heads only (the official code's `update_cluster_head_only`): the backbone is frozen,
   * so its features are computed once, and a step costs a few small matrix products.
   */
  stepOnFeatures(anchors: tf.Tensor2D, neighbours: tf.Tensor2D): ScanLosses {
    const b = anchors.shape[0];
    const inputs = tf.concat([anchors, neighbours]);
    const parts: tf.Tensor1D[] = [];
    const variables = trainableVariables(this.#model.heads);
    const cost = this.#optimizer.minimize(
      () => {
        const out = this.#model.heads.apply(inputs, { training: true }) as
          | tf.Tensor2D
          | tf.Tensor2D[];
        return tf.addN(
          (Array.isArray(out) ? out : [out]).map((l) => this.#headLoss(l, b, parts)),
        ) as tf.Scalar;
      },
      false,
      variables,
    );
    cost?.dispose();
    inputs.dispose();
    return readLosses(parts);
  }

  /** SCAN loss of one head's logits for [anchors; neighbours]; keeps its parts for logging. */
  #headLoss(logits: tf.Tensor2D, b: number, parts: tf.Tensor1D[]): tf.Scalar {
    const loss = scanLoss(
      tf.slice(logits, [0, 0], [b, -1]),
      tf.slice(logits, [b, 0], [b, -1]),
      this.#options.entropyWeight,
    );
    parts.push(tf.keep(tf.stack([loss.total, loss.consistency, loss.entropy]) as tf.Tensor1D));
    return loss.total;
  }

  dispose(): void {
    this.#optimizer.dispose();
  }
}

function readLosses(parts: tf.Tensor1D[]): ScanLosses {
  const values = parts.map((p) => p.dataSync());
  parts.forEach((p) => p.dispose());
  return {
    total: values.map((v) => v[0]),
    consistency: values.map((v) => v[1]),
    entropy: values.map((v) => v[2]),
  };
}

/**
 * The SCAN loss of every head over a whole set, without augmentation or updates, through the same
 * `scanLoss` the training steps use: every (anchor, neighbour) pair is one row, so consistency
 * averages over all pairs and, since each anchor appears equally often, the entropy term is that of
 * the mean prediction over all anchors. Picks the best head on the training images only.
 *
 * @param logits per head, logits [n * C] of the un-augmented images
 * @param neighbours neighbour indices [n * k]; entry 0 of each row is the anchor itself
 */
export function evaluateHeads(
  logits: Float32Array[],
  n: number,
  clusters: number,
  neighbours: Int32Array,
  k: number,
  entropyWeight: number,
): ScanLosses {
  const anchorIndex = new Int32Array(n * (k - 1));
  const neighbourIndex = new Int32Array(n * (k - 1));
  for (let i = 0; i < n; i++) {
    for (let j = 1; j < k; j++) {
      anchorIndex[i * (k - 1) + j - 1] = i;
      neighbourIndex[i * (k - 1) + j - 1] = neighbours[i * k + j];
    }
  }
  const result: ScanLosses = { total: [], consistency: [], entropy: [] };
  for (const l of logits) {
    const [total, consistency, entropy] = tf.tidy(() => {
      const all = tf.tensor2d(l, [n, clusters]);
      const loss = scanLoss(
        tf.gather(all, anchorIndex) as tf.Tensor2D,
        tf.gather(all, neighbourIndex) as tf.Tensor2D,
        entropyWeight,
      );
      return tf.stack([loss.total, loss.consistency, loss.entropy]).dataSync();
    });
    result.total.push(total);
    result.consistency.push(consistency);
    result.entropy.push(entropy);
  }
  return result;
}
