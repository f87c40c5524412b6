/**
 * The three networks of a stream (backbone f, projection head g, clustering heads h) as one
 * owned set, with the synchronous inference the stream needs between training steps. The trainer
 * keeps two sets: the one it trains, and a snapshot of it taken at the end of each round that
 * serves new images, so an assignment always comes from the model version it names.
 */
import { concatFloat32 } from "../util/concat.ts";
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { MineOn, ScanConfig } from "../config.ts";
import { batchToTensor, type Dataset, gatherBatch } from "../data/dataset.ts";
import { buildClusteringHead } from "../models/clustering_head.ts";
import { miningVectors } from "../mining/mining_vectors.ts";
import { loadModel, saveModel } from "../models/io_handler.ts";
import { buildProjectionHead } from "../models/projection_head.ts";
import { BACKBONES, buildBackbone } from "../models/resnet.ts";
import {
  type ClusteringModel,
  type ContrastiveModel,
  headLogits,
  projectFeatures,
} from "../stages/models.ts";

/** Images per inference batch: large enough to amortise a call, small enough for memory. */
const INFERENCE_BATCH = 128;

/** Backbone, projection head and clustering heads; the backbone is shared by both models. */
export class StreamModels {
  readonly backbone: tfl.LayersModel;
  readonly projection: tfl.LayersModel;
  readonly heads: tfl.LayersModel;

  private constructor(
    backbone: tfl.LayersModel,
    projection: tfl.LayersModel,
    heads: tfl.LayersModel,
  ) {
    this.backbone = backbone;
    this.projection = projection;
    this.heads = heads;
  }

  /**
   * Fresh networks for `config`, seeded from `config.seed`.
   *
   * @throws {RangeError} for an unknown backbone preset.
   */
  static build(config: ScanConfig): StreamModels {
    const preset = BACKBONES[config.backbone];
    if (!preset) {
      throw new RangeError(
        `Cannot build stream models: backbone must be one of ${
          Object.keys(BACKBONES).join(", ")
        }, current value is ${config.backbone}`,
      );
    }
    const backbone = buildBackbone({ ...preset, inputSize: config.inputSize }, config.seed);
    const shape = backbone.outputs[0].shape;
    const dim = shape[shape.length - 1] as number;
    return new StreamModels(
      backbone,
      buildProjectionHead(dim, dim, 128, config.seed + 1),
      buildClusteringHead(dim, config.clusters, config.heads, config.seed + 2),
    );
  }

  /** The networks saved by `save` in `dir`. */
  static async load(dir: string): Promise<StreamModels> {
    return new StreamModels(
      await loadModel(dir, "backbone"),
      await loadModel(dir, "projection"),
      await loadModel(dir, "heads"),
    );
  }

  /** Backbone + projection head, as the pretext stage trains it. */
  get contrastive(): ContrastiveModel {
    return { backbone: this.backbone, projection: this.projection };
  }

  /** Backbone + clustering heads, as the SCAN and self-labelling stages train it. */
  get clustering(): ClusteringModel {
    return { backbone: this.backbone, heads: this.heads };
  }

  /** Copy every weight (batch-norm statistics included) from `source`, of the same shapes. */
  copyFrom(source: StreamModels): void {
    this.backbone.setWeights(source.backbone.getWeights());
    this.projection.setWeights(source.projection.getWeights());
    this.heads.setWeights(source.heads.getWeights());
  }

  /** Save the three networks into `dir` (crash-safe per file, see `saveModel`). */
  async save(dir: string): Promise<void> {
    await saveModel(this.backbone, dir, "backbone");
    await saveModel(this.projection, dir, "projection");
    await saveModel(this.heads, dir, "heads");
  }

  /**
   * L2-normalised pretext features of the images at `indices` (default all) of `dataset`,
   * float32 `[indices.length, D]`, in inference mode.
   */
  features(dataset: Dataset, indices: readonly number[] = range(dataset.n)): Float32Array {
    const parts = inBatches(
      indices,
      (indices) =>
        tf.tidy(() =>
          projectFeatures(this.contrastive, batchToTensor(gatherBatch(dataset, indices)), false)
            .dataSync() as Float32Array
        ),
    );
    return concatFloat32(parts);
  }

  /**
   * Backbone features `[indices.length, F]` (what the clustering heads read) and L2-normalised
   * pretext features `[indices.length, D]` (what neighbours are mined from) of the images at
   * `indices` (default all), from one inference pass through the backbone.
   */
  embeddings(
    dataset: Dataset,
    indices: readonly number[] = range(dataset.n),
  ): { backbone: Float32Array; projected: Float32Array } {
    const parts = inBatches(indices, (indices) =>
      tf.tidy(() => {
        const features = this.backbone.apply(
          batchToTensor(gatherBatch(dataset, indices)),
          { training: false },
        ) as tf.Tensor2D;
        const projected = this.projection.apply(features, { training: false }) as tf.Tensor2D;
        return [features.dataSync() as Float32Array, projected.dataSync() as Float32Array];
      }));
    return {
      backbone: concatFloat32(parts.map((p) => p[0])),
      projected: concatFloat32(parts.map((p) => p[1])),
    };
  }

  /**
   * The vectors `mineOn` mines on for the images at `indices` of `dataset`
   * (src/mining/mining_vectors.ts), from one inference pass.
   */
  miningVectors(dataset: Dataset, indices: readonly number[], mineOn: MineOn): Float32Array {
    if (mineOn === "projection") return this.features(dataset, indices);
    return miningVectors(
      mineOn,
      this.embeddings(dataset, indices),
      indices.length,
      gatherBatch(dataset, indices).data,
      dataset.size,
    );
  }

  /**
   * `embeddings`, yielding to the event loop between inference batches, so that a store of
   * thousands of images does not hold new images back for seconds. The networks must not change
   * until it resolves.
   */
  async embeddingsAsync(
    dataset: Dataset,
    indices: readonly number[] = range(dataset.n),
  ): Promise<{ backbone: Float32Array; projected: Float32Array }> {
    const backbone: Float32Array[] = [];
    const projected: Float32Array[] = [];
    for (let start = 0; start < indices.length; start += INFERENCE_BATCH) {
      if (start > 0) await new Promise((resolve) => setTimeout(resolve, 0));
      const part = this.embeddings(dataset, indices.slice(start, start + INFERENCE_BATCH));
      backbone.push(part.backbone);
      projected.push(part.projected);
    }
    return { backbone: concatFloat32(backbone), projected: concatFloat32(projected) };
  }

  /** Logits `[n, C]` of every head for backbone features `[n, F]`. */
  headLogitsOf(features: Float32Array, n: number): Float32Array[] {
    return tf.tidy(() => {
      const out = this.heads.apply(tf.tensor2d(features, [n, features.length / n]), {
        training: false,
      }) as tf.Tensor2D | tf.Tensor2D[];
      return (Array.isArray(out) ? out : [out]).map((l) => l.dataSync() as Float32Array);
    });
  }

  /**
   * Cluster probabilities of head `head` for backbone features `[n, F]` (computed by another
   * process with these networks), float32 `[n, C]`: `probabilities` without the backbone pass.
   */
  probabilitiesOf(features: Float32Array, n: number, head: number): Float32Array {
    return tf.tidy(() => {
      const out = this.heads.apply(tf.tensor2d(features, [n, features.length / n]), {
        training: false,
      }) as tf.Tensor2D | tf.Tensor2D[];
      return tf.softmax((Array.isArray(out) ? out : [out])[head]).dataSync() as Float32Array;
    });
  }

  /**
   * Logits of every head for the images at `indices` (default all), one float32
   * `[indices.length, C]` array per head, in inference mode.
   */
  logits(dataset: Dataset, indices: readonly number[] = range(dataset.n)): Float32Array[] {
    const parts = inBatches(
      indices,
      (indices) =>
        tf.tidy(() =>
          headLogits(this.clustering, batchToTensor(gatherBatch(dataset, indices)), false)
            .map((l) => l.dataSync() as Float32Array)
        ),
    );
    const heads = parts[0]?.length ?? 0;
    return Array.from({ length: heads }, (_, h) => concatFloat32(parts.map((p) => p[h])));
  }

  /**
   * Cluster probabilities of head `head` for the images at `indices` (default all), float32
   * `[indices.length, C]`, in inference mode.
   */
  probabilities(
    dataset: Dataset,
    head: number,
    indices: readonly number[] = range(dataset.n),
  ): Float32Array {
    const parts = inBatches(indices, (indices) =>
      tf.tidy(() =>
        tf.softmax(
          headLogits(this.clustering, batchToTensor(gatherBatch(dataset, indices)), false)[head],
        ).dataSync() as Float32Array
      ));
    return concatFloat32(parts);
  }

  dispose(): void {
    this.backbone.dispose();
    this.projection.dispose();
    this.heads.dispose();
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function inBatches<T>(indices: readonly number[], run: (batch: number[]) => T): T[] {
  const out: T[] = [];
  for (let start = 0; start < indices.length; start += INFERENCE_BATCH) {
    out.push(run(indices.slice(start, start + INFERENCE_BATCH)));
  }
  return out;
}
