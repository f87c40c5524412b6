import * as tf from "@tensorflow/tfjs-core";
import { map, type OperatorFunction } from "rxjs";
import { batchToTensor, type ImageBatch } from "../data/dataset.ts";

/** Anchors and one mined neighbour of each, as the SCAN stage consumes them. */
export interface PairBatch {
  readonly anchors: ImageBatch;
  readonly neighbours: ImageBatch;
}

/** Anything that takes a training step on a batch tensor: the pretext and self-label trainers. */
export interface BatchTrainer<R> {
  step(images: tf.Tensor4D): R;
}

/** Anything that takes a training step on (anchor, neighbour) tensors: the SCAN trainer. */
export interface PairTrainer<R> {
  step(anchors: tf.Tensor4D, neighbours: tf.Tensor4D): R;
}

/**
 * Runs one training step per image batch and emits its losses. The operator owns the batch
 * tensor: it is created from the bytes and disposed after the step.
 *
 * ```
 * batches:        --a----b--|
 * trainStep(t):   --x----y--|   (x = t.step(a), the weights updated in between)
 * ```
 *
 * @example
 * from(epoch).pipe(trainStep(pretextTrainer)).subscribe((loss) => progress(loss));
 */
export function trainStep<R>(trainer: BatchTrainer<R>): OperatorFunction<ImageBatch, R> {
  return map((batch) => {
    const images = batchToTensor(batch);
    try {
      return trainer.step(images);
    } finally {
      images.dispose();
    }
  });
}

/**
 * Runs one SCAN step per (anchors, neighbours) batch and emits its per-head losses.
 *
 * ```
 * pairs:          --p----q--|
 * pairStep(t):    --x----y--|
 * ```
 */
export function pairStep<R>(trainer: PairTrainer<R>): OperatorFunction<PairBatch, R> {
  return map(({ anchors, neighbours }) => {
    const a = batchToTensor(anchors);
    const n = batchToTensor(neighbours);
    try {
      return trainer.step(a, n);
    } finally {
      a.dispose();
      n.dispose();
    }
  });
}

/** Backbone features of anchors and of one neighbour each, rows of float32 [B, F]. */
export interface FeaturePairBatch {
  readonly anchors: Float32Array;
  readonly neighbours: Float32Array;
  readonly shape: readonly [number, number];
}

/** Anything that takes a SCAN step on feature tensors: the SCAN trainer with a frozen backbone. */
export interface FeaturePairTrainer<R> {
  stepOnFeatures(anchors: tf.Tensor2D, neighbours: tf.Tensor2D): R;
}

/**
 * Runs one head-only SCAN step per (anchor, neighbour) feature batch and emits its losses.
 *
 * ```
 * pairs:              --p----q--|
 * featurePairStep(t): --x----y--|
 * ```
 */
export function featurePairStep<R>(
  trainer: FeaturePairTrainer<R>,
): OperatorFunction<FeaturePairBatch, R> {
  return map(({ anchors, neighbours, shape }) => {
    const a = tf.tensor2d(anchors, [...shape]);
    const n = tf.tensor2d(neighbours, [...shape]);
    try {
      return trainer.stepOnFeatures(a, n);
    } finally {
      a.dispose();
      n.dispose();
    }
  });
}
