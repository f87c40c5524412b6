/**
 * Inference over a whole dataset, in order and in fixed-size batches through the stage operators:
 * what mining, head selection, evaluation, the eval task and the report need.
 */
import * as tf from "@tensorflow/tfjs-core";
import { from, lastValueFrom, map, reduce } from "rxjs";
import { batchToTensor, type Dataset, gatherBatch } from "../data/dataset.ts";
import { classify } from "../operators/classify.ts";
import { backboneFeatures, embed } from "../operators/embed.ts";
import { type ClusteringModel, type ContrastiveModel, headLogits } from "../stages/models.ts";
import { concatFloat32 } from "../util/concat.ts";

/** Images per inference batch. */
export const INFERENCE_BATCH = 256;

/** Batches of a whole dataset in order, for inference. */
export function inOrder(dataset: Dataset) {
  const batches: number[][] = [];
  for (let i = 0; i < dataset.n; i += INFERENCE_BATCH) {
    batches.push(Array.from({ length: Math.min(INFERENCE_BATCH, dataset.n - i) }, (_, j) => i + j));
  }
  return from(batches).pipe(map((indices) => gatherBatch(dataset, indices)));
}

/** Pretext features of every image, float32 [n, D]. */
export async function embedDataset(
  model: ContrastiveModel,
  dataset: Dataset,
): Promise<Float32Array> {
  const parts = await lastValueFrom(
    inOrder(dataset).pipe(embed(model), reduce((acc, f) => [...acc, f.data], [] as Float32Array[])),
  );
  return concatFloat32(parts);
}

/** Cluster probabilities of every image from one head, float32 [n, C]. */
export async function predictDataset(
  model: ClusteringModel,
  head: number,
  dataset: Dataset,
): Promise<Float32Array> {
  const parts = await lastValueFrom(
    inOrder(dataset).pipe(
      classify(model, head),
      reduce((acc, p) => [...acc, p.data], [] as Float32Array[]),
    ),
  );
  return concatFloat32(parts);
}

/** Backbone features of every image, float32 [n, F]. */
export async function backboneFeaturesOf(
  model: Pick<ClusteringModel, "backbone">,
  dataset: Dataset,
): Promise<Float32Array> {
  const parts = await lastValueFrom(
    inOrder(dataset).pipe(
      backboneFeatures(model.backbone),
      reduce((acc, f) => [...acc, f.data], [] as Float32Array[]),
    ),
  );
  return concatFloat32(parts);
}

/** Logits [n * C] of every head, from one inference pass. */
export async function allHeadLogits(model: ClusteringModel, dataset: Dataset, heads: number) {
  const perBatch = await lastValueFrom(
    inOrder(dataset).pipe(
      map((batch) =>
        tf.tidy(() =>
          headLogits(model, batchToTensor(batch), false).map((l) => l.dataSync() as Float32Array)
        )
      ),
      reduce((acc, logits) => [...acc, logits], [] as Float32Array[][]),
    ),
  );
  return Array.from({ length: heads }, (_, h) => concatFloat32(perBatch.map((b) => b[h])));
}
