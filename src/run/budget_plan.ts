/**
 * A time budget turned into epoch counts. The run measures what a step of each stage costs on
 * this machine (`pipelines/offline/measure.ts`), sets aside what does not scale with epochs
 * (mining, the evaluation passes, opening the training pool), and splits the rest across the
 * training stages by `BUDGET_SHARES`. Pure: the same timings give the same plan.
 */
import type { ScanConfig } from "../config.ts";

/** Seconds each unit of work takes on this machine, as measured at the start of a run. */
export interface StageTimings {
  /** One SimCLR step at the pretext batch size, through the training pool. */
  readonly pretextStep: number;
  /** One SCAN step at the SCAN batch size (head-only on features, or full). */
  readonly scanStep: number;
  /** One self-labelling step at its batch size. */
  readonly selflabelStep: number;
  /** Embedding one image (a backbone forward pass, batched). */
  readonly embedImage: number;
  /** Writing one checkpoint (backbone and a head or projection), as every epoch ends. */
  readonly checkpoint: number;
  /**
   * Every head's SCAN loss over one training image and its neighbours, given the logits (a SCAN
   * epoch ends with it over every training image, to choose the head). Absent in plans made
   * before it was measured: counted as 0 there.
   */
  readonly headLossImage?: number;
  /**
   * The exact kNN of mining (similarities and top K) over `images` random vectors of the mining
   * width. Absent in plans made before it was measured: counted as 0 there.
   */
  readonly knnSample?: { readonly images: number; readonly seconds: number };
  /** Opening the training pool (its workers and networks). */
  readonly poolOpen: number;
  /** What the measurement itself took; spent before the plan starts. */
  readonly measuring: number;
}

/** Epochs of one training stage and the seconds they are expected to take. */
export interface StagePlan {
  readonly epochs: number;
  readonly seconds: number;
  /** True when the epochs came from a flag, not the budget. */
  readonly fixed: boolean;
}

/** The plan of a run, stored in its directory so that a resume keeps it. */
export interface BudgetPlan {
  readonly minutes: number;
  readonly timings: StageTimings;
  readonly pretext: StagePlan;
  readonly mining: { readonly seconds: number };
  readonly scan: StagePlan;
  readonly selflabel: StagePlan;
  /** Evaluation passes and the pool's start: time that no epoch count changes. */
  readonly overheadSeconds: number;
  /**
   * The epochs the deadline set, where they differ from the plan: fewer for a stage stopped at its
   * deadline, more for one that went on because its steps ran faster than measured.
   */
  readonly cut?: Partial<Record<TrainingStage, number>>;
}

/** The training stages a budget is split across. */
export type TrainingStage = "pretext" | "scan" | "selflabel";

/**
 * Shares of the trainable time. The paper's CIFAR-10 run spends most of its time on SimCLR
 * (500 epochs), then SCAN and self-labelling; a head-only SCAN epoch on a CPU costs little, so its
 * epochs are capped and what it does not use goes back to the pretext task.
 */
export const BUDGET_SHARES: Readonly<Record<TrainingStage, number>> = {
  pretext: 0.75,
  scan: 0.15,
  selflabel: 0.1,
};

/** Most epochs a budget gives a stage (beyond them the measured gains were nil). */
export const MAX_EPOCHS: Readonly<Record<TrainingStage, number>> = {
  pretext: 500,
  scan: 200,
  selflabel: 10,
};

/** Least epochs a budget gives a stage: SCAN needs one to have a model; the others may have none. */
const MIN_EPOCHS: Readonly<Record<TrainingStage, number>> = { pretext: 1, scan: 1, selflabel: 0 };

/** Steps of an epoch over n images (a last partial batch is dropped when others exist). */
export function stepsPerEpoch(n: number, batchSize: number): number {
  return Math.max(1, Math.floor(n / Math.min(batchSize, n)));
}

/** The sizes a plan depends on besides the config. */
export interface PlanSizes {
  readonly train: number;
  readonly evaluation: number;
  readonly labelled: boolean;
}

/**
 * Plan `minutes` of training for `config` over `sizes` with `timings`. Stages in `fixedEpochs`
 * (from flags) keep their epochs; the others share what is left by `BUDGET_SHARES`, within
 * [`MIN_EPOCHS`, `MAX_EPOCHS`], and the pretext task takes what SCAN and self-labelling leave;
 * the time whole epochs leave over goes out an epoch at a time (see the body).
 *
 * @throws {RangeError} for a budget that is not a positive number.
 */
export function planBudget(
  minutes: number,
  config: ScanConfig,
  sizes: PlanSizes,
  timings: StageTimings,
  fixedEpochs: Partial<Record<TrainingStage, number>> = {},
): BudgetPlan {
  if (!(minutes > 0 && Number.isFinite(minutes))) {
    throw new RangeError(
      `Cannot plan a budget: minutes must be a positive number, current value is ${minutes}`,
    );
  }
  const n = sizes.train;
  // Every epoch ends with a checkpoint (SCAN: the latest, and the best when it improved).
  const save = timings.checkpoint ?? 0;
  const headLoss = timings.headLossImage ?? 0;
  const epochSeconds: Record<TrainingStage, number> = {
    pretext: stepsPerEpoch(n, config.pretext.batchSize) * timings.pretextStep + save,
    // A SCAN epoch ends with the heads' losses over the training images (one pass without a
    // frozen backbone; a head product with one).
    scan: stepsPerEpoch(n, config.scan.batchSize) * timings.scanStep + 2 * save +
      n * headLoss + (config.clusterHeadOnly ? 0 : n * timings.embedImage),
    selflabel: stepsPerEpoch(n, config.selflabel.batchSize) * timings.selflabelStep + save,
  };
  const mining = n * timings.embedImage + knnSeconds(n, timings);
  // SCAN's frozen features and its best head's losses (a pass each over train; the second also
  // gives the SCAN model's side of the final choice), the self-labelled model over train for the
  // other side, and with labels three passes over the evaluation images (pretext k-means, SCAN,
  // self-labelling).
  const overheadSeconds = timings.poolOpen + 3 * n * timings.embedImage + n * headLoss +
    (sizes.labelled ? 3 * sizes.evaluation * timings.embedImage : 0);
  let left = minutes * 60 - timings.measuring - mining - overheadSeconds;
  const plans: Partial<Record<TrainingStage, StagePlan>> = {};
  for (const stage of ["pretext", "scan", "selflabel"] as const) {
    const epochs = fixedEpochs[stage];
    if (epochs === undefined) continue;
    plans[stage] = { epochs, seconds: epochs * epochSeconds[stage], fixed: true };
    left -= plans[stage]!.seconds;
  }
  const open = (["pretext", "scan", "selflabel"] as const).filter((s) => !plans[s]);
  const shareSum = open.reduce((sum, s) => sum + BUDGET_SHARES[s], 0);
  const available = Math.max(0, left);
  const fit = (stage: TrainingStage, seconds: number): StagePlan => {
    const epochs = Math.max(
      MIN_EPOCHS[stage],
      Math.min(MAX_EPOCHS[stage], Math.floor(seconds / Math.max(epochSeconds[stage], 1e-9))),
    );
    return { epochs, seconds: epochs * epochSeconds[stage], fixed: false };
  };
  for (const stage of open.filter((s) => s !== "pretext")) {
    plans[stage] = fit(stage, (available * BUDGET_SHARES[stage]) / shareSum);
  }
  if (open.includes("pretext")) {
    const others = open.filter((s) => s !== "pretext")
      .reduce((sum, s) => sum + plans[s]!.seconds, 0);
    plans.pretext = fit("pretext", available - others);
  }
  // Whole epochs leave time over (a 20 s self-labelling epoch does not fit a 15 s share): hand it
  // out an epoch at a time, first a self-labelling epoch when it has none, then to the pretext
  // task, then SCAN, then self-labelling, within the caps.
  let spare = available - open.reduce((sum, s) => sum + plans[s]!.seconds, 0);
  const grow = (stage: TrainingStage, upTo: number) => {
    const plan = plans[stage]!;
    const more = Math.max(
      0,
      Math.min(upTo - plan.epochs, Math.floor(spare / Math.max(epochSeconds[stage], 1e-9))),
    );
    if (more === 0) return;
    plans[stage] = {
      epochs: plan.epochs + more,
      seconds: (plan.epochs + more) * epochSeconds[stage],
      fixed: false,
    };
    spare -= more * epochSeconds[stage];
  };
  const order: [TrainingStage, number][] = [
    ["selflabel", 1],
    ["pretext", MAX_EPOCHS.pretext],
    ["scan", MAX_EPOCHS.scan],
    ["selflabel", MAX_EPOCHS.selflabel],
  ];
  for (const [stage, upTo] of order) if (open.includes(stage)) grow(stage, upTo);
  return {
    minutes,
    timings,
    pretext: plans.pretext!,
    mining: { seconds: mining },
    scan: plans.scan!,
    selflabel: plans.selflabel!,
    overheadSeconds,
  };
}

/**
 * The exact kNN over n images: the measured sample scaled by the pairs, (n / images)². An upper
 * estimate past the sample, since the cost per pair falls as blocks grow (on this machine 62 ns
 * a pair at 4,096 images, 44 at 16,384: BENCHMARKS.md).
 */
export function knnSeconds(n: number, timings: StageTimings): number {
  const sample = timings.knnSample;
  if (sample === undefined || sample.images <= 0) return 0;
  return sample.seconds * (n / sample.images) ** 2;
}

/** Seconds as `4m05s`. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** One line per stage: planned epochs and time, for stderr. */
export function describePlan(plan: BudgetPlan): string[] {
  const t = plan.timings;
  const stage = (name: TrainingStage, stepSeconds: number) => {
    const p = plan[name];
    return `  ${name}: ${p.epochs} epochs, ${formatSeconds(p.seconds)}` +
      `${p.fixed ? " (epochs from a flag)" : ""}, ${(1000 * stepSeconds).toFixed(0)} ms a step`;
  };
  return [
    `budget ${plan.minutes} min: measured in ${t.measuring.toFixed(1)}s; ` +
    `mining ${formatSeconds(plan.mining.seconds)}, evaluation and start-up ` +
    `${formatSeconds(plan.overheadSeconds)}`,
    stage("pretext", t.pretextStep),
    stage("scan", t.scanStep),
    stage("selflabel", t.selflabelStep),
  ];
}
