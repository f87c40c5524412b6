/**
 * What a step of each stage costs on this machine, measured at the start of a budgeted run
 * through the code paths the stages use: SimCLR steps through a training pool, SCAN and
 * self-labelling steps through the stage trainers, embedding through `embedDataset`. The
 * networks are throwaway copies built from the config, so the run's own weights and random
 * streams are untouched.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BackendName } from "../../src/backend/backend.ts";
import {
  augmentationOf,
  makeConfigFrom,
  PROJECTION_DIM,
  type ScanConfig,
} from "../../src/config.ts";
import { batchToTensor, type Dataset, gatherBatch } from "../../src/data/dataset.ts";
import { mineNeighbours } from "../../src/mining/knn.ts";
import { miningDim } from "../../src/mining/mining_vectors.ts";
import { buildClusteringHead } from "../../src/models/clustering_head.ts";
import { buildProjectionHead } from "../../src/models/projection_head.ts";
import { buildBackbone } from "../../src/models/resnet.ts";
import { TrainingPool } from "../../src/parallel/training_pool.ts";
import type { StageTimings } from "../../src/run/budget_plan.ts";
import { backboneConfig, featureDim, saveClustering } from "../../src/run/checkpoints.ts";
import { embedDataset } from "../../src/run/inference.ts";
import { StageTrainers } from "../../src/run/stage_trainers.ts";
import type { ClusteringModel, ContrastiveModel } from "../../src/stages/models.ts";
import { evaluateHeads } from "../../src/stages/scan.ts";
import { Random } from "../../src/util/random.ts";
import type * as tfl from "@tensorflow/tfjs-layers";

/** Timed steps per stage, after one untimed warm-up step (SCAN's cost milliseconds: more). */
export const TIMED_STEPS = 2;
const TIMED_SCAN_STEPS = 10;
/** Images embedded to time inference. */
const EMBED_SAMPLE = 256;
/** Images whose exact kNN is timed (about a second here); larger sets are scaled from it. */
const KNN_SAMPLE = 4096;
/** Images whose heads' SCAN losses are timed (random logits and neighbours). */
const HEAD_LOSS_SAMPLE = 2048;

/** What measuring needs from the run. */
export interface MeasureRun {
  readonly config: ScanConfig;
  readonly train: Dataset;
  readonly threads: number;
  readonly backend: BackendName;
}

/** Seconds per call of `step`, over `count` calls after a warm-up. */
async function timed(step: () => Promise<unknown> | unknown, count = TIMED_STEPS): Promise<number> {
  await step();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await step();
  return (performance.now() - t0) / 1000 / count;
}

/** The first `count` images of `dataset`, as a dataset. */
function firstImages(dataset: Dataset, count: number): Dataset {
  const n = Math.min(count, dataset.n);
  const stride = dataset.size * dataset.size * 3;
  return {
    n,
    size: dataset.size,
    pixels: dataset.pixels.subarray(0, n * stride),
    ids: dataset.ids.slice(0, n),
    paths: dataset.paths.slice(0, n),
  };
}

/** Measure every stage's step on `run.train`; leaves no tensor behind. */
export async function measureTimings(run: MeasureRun): Promise<StageTimings> {
  const { config } = run;
  const started = performance.now();

  const backbone = buildBackbone(backboneConfig(config), 0);
  const dim = featureDim(backbone);
  const projection = buildProjectionHead(dim, dim, PROJECTION_DIM, 1);
  const heads = buildClusteringHead(dim, config.clusters, config.heads, 2);
  try {
    return await measureWith(run, { backbone, projection, heads }, started);
  } finally {
    backbone.dispose();
    projection.dispose();
    heads.dispose();
  }
}

/** `measureTimings` with throwaway networks (the caller disposes them). */
async function measureWith(
  run: MeasureRun,
  networks: ClusteringModel & ContrastiveModel,
  started: number,
): Promise<StageTimings> {
  const { config, train } = run;
  const { backbone, projection } = networks;
  const dim = featureDim(backbone);
  const indices = (batch: number) => Array.from({ length: Math.min(batch, train.n) }, (_, i) => i);
  // Pretext: a pool as the stage opens it, given the networks' weights as the stage gives them.
  const read = (m: tfl.LayersModel) =>
    m.getWeights().map((w) => (w.dataSync() as Float32Array).slice());
  const pretextBatch = gatherBatch(train, indices(config.pretext.batchSize));
  const opening = performance.now();
  const pool = await TrainingPool.open({
    threads: Math.min(run.threads, pretextBatch.ids.length),
    backend: run.backend,
    config,
    weights: { backbone: read(backbone), projection: read(projection) },
    maxBatch: config.pretext.batchSize,
  });
  const poolOpen = (performance.now() - opening) / 1000;
  let pretextStep: number;
  try {
    let seed = 0;
    pretextStep = await timed(() =>
      pool.pretextStep(pretextBatch, {
        learningRate: config.pretext.learningRate,
        temperature: config.temperature,
        seed: seed++,
        augmentation: augmentationOf(config),
      })
    );
  } finally {
    await pool.close();
  }

  const model: ClusteringModel = { backbone, heads: networks.heads };
  // Inference: a small warm-up, then a sample.
  await embedDataset({ backbone, projection }, firstImages(train, 16));
  const sample = firstImages(train, EMBED_SAMPLE);
  const embedding = performance.now();
  await embedDataset({ backbone, projection }, sample);
  const embedImage = (performance.now() - embedding) / 1000 / sample.n;

  // Every image confident: the self-labelling step at its dearest (weak and strong views).
  const trainers = new StageTrainers(makeConfigFrom(config, { confidenceThreshold: 1e-6 }));
  const scanStep = await timedScan(trainers, model, train, indices(config.scan.batchSize), dim);
  const selflabel = trainers.selflabel(model, 0);
  const selfImages = gatherBatch(train, indices(config.selflabel.batchSize));
  const selflabelStep = await timed(() => {
    const images = batchToTensor(selfImages);
    try {
      return selflabel.step(images);
    } finally {
      images.dispose();
    }
  });
  selflabel.dispose();
  // Every epoch ends with a checkpoint (SCAN: two), written as the stages write them.
  const dir = await Deno.makeTempDir({ prefix: "scanstream_measure_" });
  const saving = performance.now();
  try {
    await saveClustering(model, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const checkpoint = (performance.now() - saving) / 1000;
  const headLossImage = timedHeadLosses(config);
  const knnSample = timedKnn(config, train.n, dim);
  return {
    checkpoint,
    headLossImage,
    knnSample,
    pretextStep,
    scanStep,
    selflabelStep,
    embedImage,
    poolOpen,
    measuring: (performance.now() - started) / 1000,
  };
}

/** One SCAN step as the stage takes it: on frozen features, or on strong views of images. */
async function timedScan(
  trainers: StageTrainers,
  model: ClusteringModel,
  train: Dataset,
  batch: number[],
  dim: number,
): Promise<number> {
  const trainer = trainers.scan(model);
  try {
    if (trainers.config.clusterHeadOnly) {
      const features = tf.randomNormal([batch.length, dim], 0, 1, "float32", 1) as tf.Tensor2D;
      try {
        return await timed(() => trainer.stepOnFeatures(features, features), TIMED_SCAN_STEPS);
      } finally {
        features.dispose();
      }
    }
    const images = gatherBatch(train, batch);
    return await timed(() => {
      const a = batchToTensor(images);
      const n = batchToTensor(images);
      try {
        return trainer.step(a, n);
      } finally {
        a.dispose();
        n.dispose();
      }
    });
  } finally {
    trainer.dispose();
  }
}

/**
 * Seconds per training image of `evaluateHeads` (every head's SCAN loss over an image and its K
 * neighbours), as each SCAN epoch ends: linear in the images, so a sample of random logits and
 * neighbours gives it. On 60,000 images with 5 heads and K = 20 it is seconds per epoch, more
 * than the epoch's steps on frozen features.
 */
function timedHeadLosses(config: ScanConfig): number {
  const n = HEAD_LOSS_SAMPLE;
  const k = config.neighbours;
  const rng = new Random(0);
  const neighbours = Int32Array.from({ length: n * k }, (_, i) => i % k === 0 ? i / k : rng.int(n));
  const logits = Array.from(
    { length: config.heads },
    () => Float32Array.from({ length: n * config.clusters }, () => rng.normal()),
  );
  const started = performance.now();
  evaluateHeads(logits, n, config.clusters, neighbours, k, config.entropyWeight);
  return (performance.now() - started) / 1000 / n;
}

/**
 * The exact kNN of mining over a sample of random vectors as wide as the mining vectors (their
 * values do not change its cost): all n images when they are few, else `KNN_SAMPLE`.
 */
function timedKnn(config: ScanConfig, n: number, backboneDim: number) {
  const images = Math.min(n, KNN_SAMPLE);
  const dim = miningDim(config.mineOn, backboneDim, PROJECTION_DIM, config.inputSize);
  const k = Math.min(config.neighbours, images);
  const rng = new Random(0);
  const vectors = Float32Array.from({ length: images * dim }, () => rng.normal());
  const started = performance.now();
  mineNeighbours(vectors, images, dim, k);
  return { images, seconds: (performance.now() - started) / 1000 };
}
