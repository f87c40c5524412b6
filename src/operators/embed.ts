import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { map, type OperatorFunction } from "rxjs";
import { batchToTensor, type ImageBatch } from "../data/dataset.ts";
import { type ContrastiveModel, projectFeatures } from "../stages/models.ts";

/** Feature vectors of a batch, as plain bytes. */
export interface FeatureBatch {
  readonly ids: readonly string[];
  /** float32 [B, D], L2-normalised rows. */
  readonly data: Float32Array;
  readonly shape: readonly [number, number];
}

/**
 * Embeds each image batch with the pretext model (inference mode).
 *
 * ```
 * batches:  --a----b--|
 * embed(m): --A----B--|   (A = L2-normalised features of a)
 * ```
 *
 * @example
 * from(batches).pipe(embed(model)).subscribe((f) => index.insert(f));
 */
export function embed(model: ContrastiveModel): OperatorFunction<ImageBatch, FeatureBatch> {
  return embedWith((images) => projectFeatures(model, images, false));
}

/**
 * Embeds each image batch with the backbone alone (inference mode): the features the clustering
 * heads read, for SCAN with a frozen backbone.
 *
 * ```
 * batches:                 --a----b--|
 * backboneFeatures(f):     --A----B--|   (A = f(a), not normalised)
 * ```
 */
export function backboneFeatures(
  backbone: tfl.LayersModel,
): OperatorFunction<ImageBatch, FeatureBatch> {
  return embedWith((images) => backbone.apply(images, { training: false }) as tf.Tensor2D);
}

function embedWith(
  forward: (images: tf.Tensor4D) => tf.Tensor2D,
): OperatorFunction<ImageBatch, FeatureBatch> {
  return map((batch) => {
    const features = tf.tidy(() => forward(batchToTensor(batch)));
    const data = features.dataSync() as Float32Array;
    const shape: [number, number] = [features.shape[0], features.shape[1]];
    features.dispose();
    return { ids: batch.ids, data, shape };
  });
}
