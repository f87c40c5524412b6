import * as tf from "@tensorflow/tfjs-core";
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
  return map((batch) => {
    const features = tf.tidy(() => projectFeatures(model, batchToTensor(batch), false));
    const data = features.dataSync() as Float32Array;
    const shape: [number, number] = [features.shape[0], features.shape[1]];
    features.dispose();
    return { ids: batch.ids, data, shape };
  });
}
