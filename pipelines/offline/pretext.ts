/**
 * Stage 1, the pretext task (SimCLR, the official code's simclr.py): the backbone and projection
 * head learn features under which two augmentations of an image are close. Trained for
 * `config.pretext.epochs`, checkpointed in `pretext/` after every epoch; a resumed run starts at
 * the first epoch not done. Also the paper's baseline: k-means on these features.
 */
import * as tf from "@tensorflow/tfjs-core";
import { concatMap } from "rxjs";
import { augmentationOf } from "../../src/config.ts";
import { type Dataset, gatherBatch } from "../../src/data/dataset.ts";
import { kmeans } from "../../src/mining/kmeans.ts";
import { readWeights, writeWeights } from "../../src/parallel/network_weights.ts";
import { TrainingPool } from "../../src/parallel/training_pool.ts";
import { loadOrBuildContrastive, saveContrastive } from "../../src/run/checkpoints.ts";
import type { ContrastiveModel } from "../../src/stages/models.ts";
import { logLine } from "../../src/util/progress.ts";
import type { PretextReport, StageContext, StageMetrics } from "./context.ts";
import { runEpoch } from "./epoch.ts";
import { metricsOf } from "./evaluate.ts";
import { miningFeatures } from "./mining.ts";

/**
 * Train (or resume) the pretext model; resolves to it, trained for every configured epoch. The
 * SimCLR steps run data-parallel in `run.threads` worker threads; the networks come back to this
 * thread after every epoch for the checkpoint.
 */
export async function trainPretext(run: StageContext): Promise<ContrastiveModel> {
  const { config, train, paths, state, trainers } = run;
  const { batchSize } = config.pretext;
  // The budget may add epochs once the planned ones are done (`deadlineHook`).
  let epochs = config.pretext.epochs;
  const model = await loadOrBuildContrastive(paths, config, state.pretext.epochs > 0);
  if (state.pretext.epochs >= epochs) return model;
  const pool = await TrainingPool.open({
    threads: Math.min(run.threads, Math.min(batchSize, train.n)),
    backend: run.backend,
    config,
    weights: readWeights(model),
    maxBatch: batchSize,
  });
  try {
    for (let epoch = state.pretext.epochs; epoch < epochs; epoch++) {
      const t0 = performance.now();
      const augment = trainers.streams.random("pretext.augment", epoch);
      const loss = await runEpoch(
        `pretext ${epoch + 1}/${epochs}`,
        train,
        batchSize,
        trainers.streams.random("pretext.batches", epoch),
        concatMap((indices: number[]) =>
          pool.pretextStep(gatherBatch(train, indices), {
            learningRate: config.pretext.learningRate,
            temperature: config.temperature,
            seed: augment.int(2 ** 31),
            augmentation: augmentationOf(config),
          })
        ),
        (step) => step.loss,
      );
      writeWeights(model, await pool.weights());
      await saveContrastive(model, paths.pretext);
      state.pretext.epochs = epoch + 1;
      state.pretext.seconds += (performance.now() - t0) / 1000;
      // New features: the neighbours must be mined again.
      state.mining.done = false;
      await run.save();
      logLine(`pretext epoch ${epoch + 1}: NT-Xent ${loss.toFixed(4)}`);
      // Budget hook: stop here when the next epoch would run past the pretext task's deadline.
      const seconds = (performance.now() - t0) / 1000;
      if (
        epoch + 1 < epochs && !(await run.budget?.proceed("pretext", epoch + 1, seconds) ?? true)
      ) break;
      if (epoch + 1 === epochs && (await run.budget?.extend("pretext", epoch + 1, seconds))) {
        epochs++;
      }
    }
  } finally {
    await pool.close();
  }
  return model;
}

/** The pretext stage's report: its time, and k-means on its features when there are labels. */
export async function pretextReport(
  run: StageContext,
  model: ContrastiveModel,
  features: Float32Array,
): Promise<PretextReport> {
  const report: PretextReport = { seconds: run.state.pretext.seconds };
  if (run.evaluation.labels) {
    report.kmeans = await kmeansBaseline(run, model, features, run.evaluation);
  }
  return report;
}

/**
 * The paper's baseline: k-means on the pretext features (those mining used, `mineOn`), fit on
 * train, applied to evaluation.
 */
async function kmeansBaseline(
  run: StageContext,
  model: ContrastiveModel,
  trainFeatures: Float32Array,
  evaluation: Dataset,
): Promise<StageMetrics> {
  const { config, train } = run;
  const dim = trainFeatures.length / train.n;
  const { centroids } = kmeans(
    trainFeatures,
    train.n,
    dim,
    config.clusters,
    run.trainers.streams.random("kmeans"),
  );
  const features = evaluation === train
    ? trainFeatures
    : await miningFeatures(config, model, evaluation);
  const predicted = tf.tidy(() => {
    const x = tf.tensor2d(features, [evaluation.n, dim]);
    const c = tf.tensor2d(centroids, [config.clusters, dim]);
    // argmin |x - c|^2 = argmax (x.c - |c|^2 / 2)
    const score = tf.sub(tf.matMul(x, c, false, true), tf.mul(0.5, tf.sum(tf.square(c), 1)));
    return tf.argMax(score, 1).dataSync() as Int32Array;
  });
  return metricsOf(evaluation, predicted);
}
