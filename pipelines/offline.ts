/**
 * The paper's offline run: pretext (SimCLR), mining, SCAN, self-labelling, each stage resumable
 * from its last epoch, with checkpoints and hand-off files in the run directory. Each stage is a
 * stream of batches through the stage's operator.
 */
import * as tf from "@tensorflow/tfjs-core";
import { concatMap, from, lastValueFrom, map, type OperatorFunction, pipe, reduce } from "rxjs";
import { augmentationOf, type ScanConfig } from "../src/config.ts";
import { type Dataset, epochBatches, gatherBatch } from "../src/data/dataset.ts";
import { type ClusteringMetrics, labelledMetrics } from "../src/eval/metrics.ts";
import { kmeans } from "../src/mining/kmeans.ts";
import { mineNeighbours } from "../src/mining/knn.ts";
import { neighbourAccuracy } from "../src/mining/neighbour_accuracy.ts";
import { argmaxRows } from "../src/operators/classify.ts";
import {
  type FeaturePairBatch,
  featurePairStep,
  type PairBatch,
  pairStep,
  trainStep,
} from "../src/operators/train_step.ts";
import { emptyRunState, type RunPaths, runPaths, type RunState } from "../src/run/run_dir.ts";
import type { ClusteringModel, ContrastiveModel } from "../src/stages/models.ts";
import { PretextTrainer } from "../src/stages/pretext.ts";
import { evaluateHeads, type ScanLosses, ScanTrainer } from "../src/stages/scan.ts";
import { SelfLabelTrainer } from "../src/stages/selflabel.ts";
import { runStateSchema, savedConfigSchema } from "../src/protocol/disk_state.ts";
import {
  bytesOf,
  readJsonIfExists,
  writeFileAtomic,
  writeJsonAtomic,
} from "../src/util/atomic_write.ts";
import {
  disposeClustering,
  featureDim,
  loadClustering,
  loadOrBuildClustering,
  loadOrBuildContrastive,
  saveClustering,
  saveContrastive,
} from "../src/run/checkpoints.ts";
import {
  allHeadLogits,
  backboneFeaturesOf,
  embedDataset,
  predictDataset,
} from "../src/run/inference.ts";
import { logLine, progressBar } from "../src/util/progress.ts";
import { Random } from "../src/util/random.ts";

/** What an offline run needs. */
export interface OfflineRun {
  readonly config: ScanConfig;
  /** The images the three stages train on. */
  readonly train: Dataset;
  /** Labelled images to report metrics on (the test split); defaults to `train`. */
  readonly evaluation?: Dataset;
  readonly runDir: string;
}

/** Metrics of one stage on the evaluation images, when they have labels. */
export type StageMetrics = Omit<ClusteringMetrics, "mapping">;

/** The JSON a finished run prints. */
export interface OfflineSummary {
  readonly train: { images: number };
  readonly evaluation: { images: number; labelled: boolean };
  readonly pretext: { seconds: number; kmeans?: StageMetrics };
  readonly mining: { seconds: number; neighbourAccuracy?: number };
  readonly scan: {
    seconds: number;
    bestHead: number;
    loss: { total: number; consistency: number; entropy: number };
    metrics?: StageMetrics;
  };
  readonly selflabel: { seconds: number; metrics?: StageMetrics };
  readonly seconds: number;
}

/** Run (or resume) the three stages; resolves to the summary once all are done. */
export async function runOffline(run: OfflineRun): Promise<OfflineSummary> {
  const { config, train } = run;
  const evaluation = run.evaluation ?? train;
  const paths = runPaths(run.runDir);
  await Deno.mkdir(paths.root, { recursive: true });
  await checkConfig(paths, config);
  const state: RunState = (await readJsonIfExists(paths.state, runStateSchema())) ??
    emptyRunState();
  const save = () => writeJsonAtomic(paths.state, state);
  if (train.n <= config.neighbours) {
    throw new RangeError(
      `Cannot run SCAN: the training set must hold more images than neighbours (K = ${config.neighbours}), ` +
        `current value is ${train.n}`,
    );
  }
  const started = performance.now();

  // Stage 1: pretext.
  const contrastive = await loadOrBuildContrastive(paths, config, state.pretext.epochs > 0);
  if (state.pretext.epochs < config.pretext.epochs) {
    const trainer = new PretextTrainer(
      contrastive,
      {
        learningRate: config.pretext.learningRate,
        temperature: config.temperature,
        augmentation: augmentationOf(config),
      },
      new Random(config.seed * 7919 + state.pretext.epochs),
    );
    for (let epoch = state.pretext.epochs; epoch < config.pretext.epochs; epoch++) {
      const t0 = performance.now();
      const loss = await runEpoch(
        `pretext ${epoch + 1}/${config.pretext.epochs}`,
        train,
        config.pretext.batchSize,
        new Random(config.seed * 104729 + epoch),
        pipe(map((indices: number[]) => gatherBatch(train, indices)), trainStep(trainer)),
        (l) => l,
      );
      await saveContrastive(contrastive, paths.pretext);
      state.pretext.epochs = epoch + 1;
      state.pretext.seconds += (performance.now() - t0) / 1000;
      state.mining.done = false;
      await save();
      logLine(`pretext epoch ${epoch + 1}: NT-Xent ${loss.toFixed(4)}`);
    }
    trainer.dispose();
  }

  // Stage 2: mining, and the paper's k-means baseline on the same features.
  let features: Float32Array;
  let neighbours: Int32Array;
  const k = config.neighbours;
  if (!state.mining.done) {
    const t0 = performance.now();
    features = await embedDataset(contrastive, train);
    const dim = features.length / train.n;
    neighbours = mineNeighbours(features, train.n, dim, k).indices;
    await writeFileAtomic(paths.features, bytesOf(features));
    await writeFileAtomic(paths.neighbours, bytesOf(neighbours));
    state.mining = { done: true, seconds: (performance.now() - t0) / 1000 };
    await save();
  } else {
    features = new Float32Array((await Deno.readFile(paths.features)).buffer);
    neighbours = new Int32Array((await Deno.readFile(paths.neighbours)).buffer);
  }
  const pretextReport: OfflineSummary["pretext"] = { seconds: state.pretext.seconds };
  const miningReport: OfflineSummary["mining"] = { seconds: state.mining.seconds };
  if (train.labels) miningReport.neighbourAccuracy = neighbourAccuracy(neighbours, k, train.labels);
  if (evaluation.labels) {
    pretextReport.kmeans = await kmeansBaseline(contrastive, train, features, evaluation, config);
  }
  contrastive.projection.dispose();

  // Stage 3: SCAN.
  const clustering = await loadOrBuildClustering(paths, config, contrastive.backbone, state);
  if (state.scan.epochs < config.scan.epochs) {
    const trainer = new ScanTrainer(
      clustering,
      {
        learningRate: config.scan.learningRate,
        entropyWeight: config.entropyWeight,
        augment: true,
        augmentation: augmentationOf(config),
      },
      new Random(config.seed * 15485863 + state.scan.epochs),
    );
    // With a frozen backbone its features are computed once, without augmentation.
    const frozen = config.clusterHeadOnly
      ? { data: await backboneFeaturesOf(clustering, train), dim: featureDim(clustering.backbone) }
      : undefined;
    for (let epoch = state.scan.epochs; epoch < config.scan.epochs; epoch++) {
      const t0 = performance.now();
      const rng = new Random(config.seed * 32452843 + epoch);
      const step: OperatorFunction<number[], ScanLosses> = frozen
        ? pipe(
          map((indices) => pairFeatures(indices, frozen, neighbours, k, rng)),
          featurePairStep(trainer),
        )
        : pipe(
          map((indices) => pairWithNeighbours(indices, train, neighbours, k, rng)),
          pairStep(trainer),
        );
      await runEpoch(
        `scan ${epoch + 1}/${config.scan.epochs}`,
        train,
        config.scan.batchSize,
        rng,
        step,
        (l) => Math.min(...l.total),
      );
      const losses = await headLosses(clustering, train, neighbours, config, frozen);
      const best = losses.total.indexOf(Math.min(...losses.total));
      if (state.scan.bestLoss === null || losses.total[best] < state.scan.bestLoss) {
        state.scan.bestLoss = losses.total[best];
        state.scan.bestHead = best;
        await saveClustering(clustering, paths.scan);
      }
      await saveClustering(clustering, paths.scanLast);
      state.scan.epochs = epoch + 1;
      state.scan.seconds += (performance.now() - t0) / 1000;
      await save();
      logLine(
        `scan epoch ${epoch + 1}: head ${best} total ${losses.total[best].toFixed(4)} ` +
          `consistency ${losses.consistency[best].toFixed(4)} entropy ${
            losses.entropy[best].toFixed(4)
          }`,
      );
    }
    trainer.dispose();
  }
  disposeClustering(clustering);
  const best = await loadClustering(paths.scan);
  const bestLosses = await headLosses(best, train, neighbours, config);
  const head = state.scan.bestHead;
  const scanReport: OfflineSummary["scan"] = {
    seconds: state.scan.seconds,
    bestHead: head,
    loss: {
      total: bestLosses.total[head],
      consistency: bestLosses.consistency[head],
      entropy: bestLosses.entropy[head],
    },
  };
  if (evaluation.labels) scanReport.metrics = await evaluate(best, head, evaluation, config);

  // Stage 4: self-labelling, from the best SCAN model.
  let selflabelled = best;
  if (state.selflabel.epochs > 0) {
    disposeClustering(best);
    selflabelled = await loadClustering(paths.selflabel);
  }
  if (state.selflabel.epochs < config.selflabel.epochs) {
    const trainer = new SelfLabelTrainer(
      selflabelled,
      {
        learningRate: config.selflabel.learningRate,
        threshold: config.confidenceThreshold,
        head,
        augmentation: augmentationOf(config),
      },
      new Random(config.seed * 49979687 + state.selflabel.epochs),
    );
    for (let epoch = state.selflabel.epochs; epoch < config.selflabel.epochs; epoch++) {
      const t0 = performance.now();
      let confident = 0;
      const loss = await runEpoch(
        `selflabel ${epoch + 1}/${config.selflabel.epochs}`,
        train,
        config.selflabel.batchSize,
        new Random(config.seed * 86028121 + epoch),
        pipe(map((indices: number[]) => gatherBatch(train, indices)), trainStep(trainer)),
        (l) => {
          confident += l.confident;
          return l.loss;
        },
      );
      await saveClustering(selflabelled, paths.selflabel);
      state.selflabel.epochs = epoch + 1;
      state.selflabel.seconds += (performance.now() - t0) / 1000;
      await save();
      logLine(
        `selflabel epoch ${epoch + 1}: cross-entropy ${loss.toFixed(4)}, confident ${confident}`,
      );
    }
    trainer.dispose();
  } else if (state.selflabel.epochs === 0) {
    // No self-labelling configured: the SCAN model is the final one.
    await saveClustering(selflabelled, paths.selflabel);
  }
  const selflabelReport: OfflineSummary["selflabel"] = { seconds: state.selflabel.seconds };
  if (evaluation.labels) {
    selflabelReport.metrics = await evaluate(selflabelled, head, evaluation, config);
  }
  disposeClustering(selflabelled);

  return {
    train: { images: train.n },
    evaluation: { images: evaluation.n, labelled: evaluation.labels !== undefined },
    pretext: pretextReport,
    mining: miningReport,
    scan: scanReport,
    selflabel: selflabelReport,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * One epoch: shuffled batches of indices through a stage's step operator, yielding to the event
 * loop between steps (so signals and timers are served); resolves to the mean loss.
 */
async function runEpoch<R>(
  label: string,
  dataset: Dataset,
  batchSize: number,
  rng: Random,
  step: OperatorFunction<number[], R>,
  lossOf: (result: R) => number,
): Promise<number> {
  const batches = epochBatches(dataset.n, Math.min(batchSize, dataset.n), (x) => rng.shuffle(x));
  const bar = progressBar(label, batches.length);
  const { sum, count } = await lastValueFrom(
    from(batches).pipe(
      concatMap(async (indices) => {
        await new Promise((resolve) => setTimeout(resolve, 0));
        return indices;
      }),
      step,
      map(lossOf),
      reduce((acc, loss) => {
        bar.tick(1, `loss ${loss.toFixed(4)}`);
        return { sum: acc.sum + loss, count: acc.count + 1 };
      }, { sum: 0, count: 0 }),
    ),
  );
  const mean = sum / Math.max(count, 1);
  bar.done(`mean loss ${mean.toFixed(4)}`);
  return mean;
}

/** Anchors at `indices` and, for each, one of its K mined neighbours drawn at random. */
function pairWithNeighbours(
  indices: number[],
  dataset: Dataset,
  neighbours: Int32Array,
  k: number,
  rng: Random,
): PairBatch {
  // As in the official NeighborsDataset, the draw is over all K (the anchor itself included).
  const picked = indices.map((i) => neighbours[i * k + rng.int(k)]);
  return { anchors: gatherBatch(dataset, indices), neighbours: gatherBatch(dataset, picked) };
}

/** Backbone features of anchors at `indices` and of one random neighbour of each. */
function pairFeatures(
  indices: number[],
  features: { data: Float32Array; dim: number },
  neighbours: Int32Array,
  k: number,
  rng: Random,
): FeaturePairBatch {
  const { data, dim } = features;
  const anchors = new Float32Array(indices.length * dim);
  const picked = new Float32Array(indices.length * dim);
  indices.forEach((i, b) => {
    const j = neighbours[i * k + rng.int(k)];
    anchors.set(data.subarray(i * dim, (i + 1) * dim), b * dim);
    picked.set(data.subarray(j * dim, (j + 1) * dim), b * dim);
  });
  return { anchors, neighbours: picked, shape: [indices.length, dim] };
}

/** A run directory keeps the config it was started with; a resume may only change epochs. */
async function checkConfig(paths: RunPaths, config: ScanConfig): Promise<void> {
  const saved = await readJsonIfExists(paths.config, savedConfigSchema()) as
    | ScanConfig
    | undefined;
  if (saved) {
    // Runs saved before `invertProbability` existed trained without inversion. Keys are sorted,
    // so an old config.json compares equal whatever order its fields were written in.
    const strip = (c: ScanConfig) =>
      JSON.stringify(
        {
          ...c,
          invertProbability: c.invertProbability ?? 0,
          pretext: { ...c.pretext, epochs: 0 },
          scan: { ...c.scan, epochs: 0 },
          selflabel: { ...c.selflabel, epochs: 0 },
        },
        (_key, value) =>
          value && typeof value === "object" && !Array.isArray(value)
            ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a < b ? -1 : 1))
            : value,
      );
    if (strip(saved) !== strip(config)) {
      throw new Error(
        `Cannot resume run ${paths.root}: it was started with a different config ` +
          `(only epochs may change on resume). Use a new --out directory, or the saved settings: ` +
          JSON.stringify(saved),
      );
    }
  }
  await writeJsonAtomic(paths.config, config);
}

/**
 * Per-head SCAN losses over the training images (no augmentation), to pick the best head. With a
 * frozen backbone the heads read its stored features; otherwise one inference pass runs them all.
 */
async function headLosses(
  model: ClusteringModel,
  train: Dataset,
  neighbours: Int32Array,
  config: ScanConfig,
  frozen?: { data: Float32Array; dim: number },
) {
  const logits = frozen
    ? tf.tidy(() => {
      const out = model.heads.apply(tf.tensor2d(frozen.data, [train.n, frozen.dim])) as
        | tf.Tensor2D
        | tf.Tensor2D[];
      return (Array.isArray(out) ? out : [out]).map((l) => l.dataSync() as Float32Array);
    })
    : await allHeadLogits(model, train, config.heads);
  return evaluateHeads(
    logits,
    train.n,
    config.clusters,
    neighbours,
    config.neighbours,
    config.entropyWeight,
  );
}

async function evaluate(
  model: ClusteringModel,
  head: number,
  dataset: Dataset,
  config: ScanConfig,
): Promise<StageMetrics> {
  const p = await predictDataset(model, head, dataset);
  const { clusters } = argmaxRows(p, dataset.n, config.clusters);
  return metricsOf(dataset, clusters);
}

function metricsOf(dataset: Dataset, predicted: Int32Array): StageMetrics {
  const { mapping: _mapping, ...metrics } = labelledMetrics(dataset.labels!, predicted)!;
  return metrics;
}

/** The paper's baseline: k-means on the pretext features, fit on train, applied to evaluation. */
async function kmeansBaseline(
  model: ContrastiveModel,
  train: Dataset,
  trainFeatures: Float32Array,
  evaluation: Dataset,
  config: ScanConfig,
): Promise<StageMetrics> {
  const dim = trainFeatures.length / train.n;
  const { centroids } = kmeans(
    trainFeatures,
    train.n,
    dim,
    config.clusters,
    new Random(config.seed),
  );
  const features = evaluation === train ? trainFeatures : await embedDataset(model, evaluation);
  const predicted = tf.tidy(() => {
    const x = tf.tensor2d(features, [evaluation.n, dim]);
    const c = tf.tensor2d(centroids, [config.clusters, dim]);
    // argmin |x - c|^2 = argmax (x.c - |c|^2 / 2)
    const score = tf.sub(tf.matMul(x, c, false, true), tf.mul(0.5, tf.sum(tf.square(c), 1)));
    return tf.argMax(score, 1).dataSync() as Int32Array;
  });
  return metricsOf(evaluation, predicted);
}
