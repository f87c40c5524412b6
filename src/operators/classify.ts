import * as tf from "@tensorflow/tfjs-core";
import { map, type OperatorFunction } from "rxjs";
import { batchToTensor, type ImageBatch } from "../data/dataset.ts";
import { type ClusteringModel, headLogits } from "../stages/models.ts";

/** Cluster probabilities of a batch from one head, as plain bytes. */
export interface ProbabilityBatch {
  readonly ids: readonly string[];
  /** float32 softmax probabilities [B, C]. */
  readonly data: Float32Array;
  readonly shape: readonly [number, number];
}

/**
 * Classifies each image batch with one clustering head (inference mode).
 *
 * ```
 * batches:           --a----b--|
 * classify(m, head): --P----Q--|   (P = softmax of head `head` on a)
 * ```
 *
 * @example
 * from(batches).pipe(classify(model, best)).subscribe((p) => publish(p));
 */
export function classify(
  model: ClusteringModel,
  head: number,
): OperatorFunction<ImageBatch, ProbabilityBatch> {
  return map((batch) => {
    const probabilities = tf.tidy(() =>
      tf.softmax(headLogits(model, batchToTensor(batch), false)[head])
    );
    const data = probabilities.dataSync() as Float32Array;
    const shape: [number, number] = [probabilities.shape[0], probabilities.shape[1]];
    probabilities.dispose();
    return { ids: batch.ids, data, shape };
  });
}

/** Most probable cluster and its probability for each row of a probability batch. */
export function argmaxRows(
  probabilities: Float32Array,
  rows: number,
  clusters: number,
): { clusters: Int32Array; confidence: Float32Array } {
  const best = new Int32Array(rows);
  const confidence = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    let c = 0;
    for (let j = 1; j < clusters; j++) {
      if (probabilities[i * clusters + j] > probabilities[i * clusters + c]) c = j;
    }
    best[i] = c;
    confidence[i] = probabilities[i * clusters + c];
  }
  return { clusters: best, confidence };
}
