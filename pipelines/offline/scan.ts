/**
 * Stage 2, SCAN (the official code's scan.py): clustering heads on the pretext backbone, trained so
 * that an image and a mined neighbour get the same confident cluster. After every epoch each head's
 * loss over the training images is measured; the lowest so far is checkpointed in `scan/` (the
 * model self-labelling starts from), the latest in `scan-last/` (the one a resume continues).
 */
import * as tf from "@tensorflow/tfjs-core";
import { map, type OperatorFunction, pipe } from "rxjs";
import type { ScanConfig } from "../../src/config.ts";
import { type Dataset, gatherBatch } from "../../src/data/dataset.ts";
import {
  type FeaturePairBatch,
  featurePairStep,
  type PairBatch,
  pairStep,
} from "../../src/operators/train_step.ts";
import {
  disposeClustering,
  featureDim,
  loadClustering,
  loadOrBuildClustering,
  saveClustering,
} from "../../src/run/checkpoints.ts";
import { neighbourAgreement } from "../../src/eval/neighbour_agreement.ts";
import { topClusters } from "../../src/eval/selflabel_diagnosis.ts";
import { allHeadLogits, backboneFeaturesOf } from "../../src/run/inference.ts";
import type { ClusteringModel } from "../../src/stages/models.ts";
import { evaluateHeads, type ScanLosses } from "../../src/stages/scan.ts";
import { logLine } from "../../src/util/progress.ts";
import type { Random } from "../../src/util/random.ts";
import type { ScanReport, StageContext } from "./context.ts";
import { runEpoch } from "./epoch.ts";
import { evaluate } from "./evaluate.ts";

/** Backbone features of the training images, computed once when the backbone is frozen. */
interface FrozenFeatures {
  readonly data: Float32Array;
  readonly dim: number;
}

/**
 * What SCAN hands on: its best model (the caller owns it), the kept head, the report, and how
 * well the kept head's clusters keep the mined neighbourhoods on train (NaN when no list holds
 * another image).
 */
export interface Clustered {
  readonly model: ClusteringModel;
  readonly head: number;
  readonly report: ScanReport;
  readonly agreement: number;
}

/**
 * Train (or resume) SCAN on `backbone` (which it takes over) with the mined `neighbours`; resolves
 * to the best checkpoint, loaded back.
 */
export async function trainScan(
  run: StageContext,
  backbone: ClusteringModel["backbone"],
  neighbours: Int32Array,
): Promise<Clustered> {
  const { config, train, paths, state, trainers } = run;
  const { batchSize } = config.scan;
  // The budget may add epochs once the planned ones are done (`deadlineHook`).
  let epochs = config.scan.epochs;
  const k = config.neighbours;
  const clustering = await loadOrBuildClustering(paths, config, backbone, state);
  if (state.scan.epochs < epochs) {
    const trainer = trainers.scan(clustering, { position: state.scan.epochs });
    // With a frozen backbone its features are computed once, without augmentation.
    const frozen = config.clusterHeadOnly
      ? { data: await backboneFeaturesOf(clustering, train), dim: featureDim(clustering.backbone) }
      : undefined;
    for (let epoch = state.scan.epochs; epoch < epochs; epoch++) {
      const t0 = performance.now();
      // The epoch's batch order and its neighbour draws come from one stream.
      const rng = trainers.streams.random("scan.batches", epoch);
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
        `scan ${epoch + 1}/${epochs}`,
        train,
        batchSize,
        rng,
        step,
        (l) => Math.min(...l.total),
      );
      const { losses } = await headLosses(clustering, train, neighbours, config, frozen);
      const best = losses.total.indexOf(Math.min(...losses.total));
      if (state.scan.bestLoss === null || losses.total[best] < state.scan.bestLoss) {
        state.scan.bestLoss = losses.total[best];
        state.scan.bestHead = best;
        await saveClustering(clustering, paths.scan);
      }
      await saveClustering(clustering, paths.scanLast);
      state.scan.epochs = epoch + 1;
      state.scan.seconds += (performance.now() - t0) / 1000;
      await run.save();
      logLine(
        `scan epoch ${epoch + 1}: head ${best} total ${losses.total[best].toFixed(4)} ` +
          `consistency ${losses.consistency[best].toFixed(4)} entropy ${
            losses.entropy[best].toFixed(4)
          }`,
      );
      const seconds = (performance.now() - t0) / 1000;
      if (epoch + 1 < epochs && !(await run.budget?.proceed("scan", epoch + 1, seconds) ?? true)) {
        break;
      }
      if (epoch + 1 === epochs && (await run.budget?.extend("scan", epoch + 1, seconds))) {
        epochs++;
      }
    }
    trainer.dispose();
  }
  disposeClustering(clustering);

  const model = await loadClustering(paths.scan);
  const { losses: bestLosses, logits } = await headLosses(model, train, neighbours, config);
  const head = state.scan.bestHead;
  // The kept head's clusters on train, for the final model's choice after self-labelling
  // (src/run/final_model.ts): read off this pass rather than a second one.
  const { clusters } = topClusters(logits[head], train.n, config.clusters);
  const agreement = neighbourAgreement(clusters, neighbours, config.neighbours);
  const report: ScanReport = {
    seconds: state.scan.seconds,
    bestHead: head,
    loss: {
      total: bestLosses.total[head],
      consistency: bestLosses.consistency[head],
      entropy: bestLosses.entropy[head],
    },
  };
  if (run.evaluation.labels) report.metrics = await evaluate(model, head, run.evaluation, config);
  return { model, head, report, agreement };
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
  features: FrozenFeatures,
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

/**
 * Per-head SCAN losses over the training images (no augmentation), to pick the best head, with
 * the logits they came from. With a frozen backbone the heads read its stored features;
 * otherwise one inference pass runs them all.
 */
async function headLosses(
  model: ClusteringModel,
  train: Dataset,
  neighbours: Int32Array,
  config: ScanConfig,
  frozen?: FrozenFeatures,
): Promise<{ losses: ScanLosses; logits: Float32Array[] }> {
  const logits = frozen
    ? tf.tidy(() => {
      const out = model.heads.apply(tf.tensor2d(frozen.data, [train.n, frozen.dim])) as
        | tf.Tensor2D
        | tf.Tensor2D[];
      return (Array.isArray(out) ? out : [out]).map((l) => l.dataSync() as Float32Array);
    })
    : await allHeadLogits(model, train, config.heads);
  const losses = evaluateHeads(
    logits,
    train.n,
    config.clusters,
    neighbours,
    config.neighbours,
    config.entropyWeight,
  );
  return { losses, logits };
}
