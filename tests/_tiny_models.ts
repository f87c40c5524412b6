/**
 * Tiny seeded networks and images for the unit tests of the stage trainers, the operators and the
 * stream's models: resnet-tiny at 8 px, so a training step takes milliseconds.
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { makeConfig, PROJECTION_DIM, type ScanConfig } from "../src/config.ts";
import type { Dataset, ImageBatch } from "../src/data/dataset.ts";
import { buildClusteringHead } from "../src/models/clustering_head.ts";
import { buildProjectionHead } from "../src/models/projection_head.ts";
import { BACKBONES, buildBackbone } from "../src/models/resnet.ts";
import type { ClusteringModel, ContrastiveModel } from "../src/stages/models.ts";
import { Random } from "../src/util/random.ts";

/** Side of the tiny images. */
export const TINY_SIZE = 8;

/** The fixtures preset at 8 px with 3 clusters and 2 heads: what `StreamModels.build` takes. */
export function tinyConfig(overrides: { seed?: number } = {}): ScanConfig {
  return makeConfig("fixtures", {
    inputSize: TINY_SIZE,
    clusters: 3,
    heads: 2,
    neighbours: 3,
    ...overrides,
  });
}

function tinyBackbone(seed: number): { backbone: tfl.LayersModel; dim: number } {
  const backbone = buildBackbone({ ...BACKBONES["resnet-tiny"], inputSize: TINY_SIZE }, seed);
  return { backbone, dim: backbone.outputs[0].shape[1] as number };
}

/** Backbone + projection head, the same weights for the same seed. */
export function tinyContrastive(seed = 1): ContrastiveModel {
  const { backbone, dim } = tinyBackbone(seed);
  return { backbone, projection: buildProjectionHead(dim, dim, PROJECTION_DIM, seed + 1) };
}

/** Backbone + 2 clustering heads of 3 clusters, the same weights for the same seed. */
export function tinyClustering(seed = 1): ClusteringModel {
  const { backbone, dim } = tinyBackbone(seed);
  return { backbone, heads: buildClusteringHead(dim, 3, 2, seed + 2) };
}

/** Free every network of a model. */
export function disposeModel(model: ContrastiveModel | ClusteringModel): void {
  for (const network of Object.values(model) as tfl.LayersModel[]) network.dispose();
}

/** `n` seeded random images of 8x8, as a dataset. */
export function randomDataset(n: number, seed = 1): Dataset {
  const rng = new Random(seed);
  return {
    n,
    size: TINY_SIZE,
    pixels: Uint8Array.from({ length: n * TINY_SIZE * TINY_SIZE * 3 }, () => rng.int(256)),
    ids: Array.from({ length: n }, (_, i) => `image-${i}`),
    paths: Array.from({ length: n }, (_, i) => `image-${i}.png`),
  };
}

/** `b` seeded random images of 8x8, as a batch of bytes. */
export function randomBatch(b: number, seed = 1): ImageBatch {
  const { pixels, ids } = randomDataset(b, seed);
  return { ids, data: pixels, shape: [b, TINY_SIZE, TINY_SIZE, 3] };
}

/** `b` seeded random images of 8x8 in [0, 1], as a tensor the caller disposes. */
export function randomImages(b: number, seed = 1): tf.Tensor4D {
  const rng = new Random(seed);
  return tf.tensor4d(
    Float32Array.from({ length: b * TINY_SIZE * TINY_SIZE * 3 }, () => rng.next()),
    [b, TINY_SIZE, TINY_SIZE, 3],
  );
}

/** A copy of every trainable weight of `network`, to compare before and after a step. */
export function weightsOf(network: tfl.LayersModel): Float32Array[] {
  return network.trainableWeights.map((w) => (w.read().dataSync() as Float32Array).slice());
}

/** Whether any value differs between two `weightsOf` copies. */
export function changed(before: Float32Array[], after: Float32Array[]): boolean {
  return before.some((w, i) => w.some((v, j) => v !== after[i][j]));
}
