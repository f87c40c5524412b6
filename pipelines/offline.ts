/**
 * The paper's offline run, as its sequence of stages, one file each under `offline/`:
 *
 * - Stage 1, pretext task (SimCLR): `offline/pretext.ts`
 * - Stage 1, mining the K nearest neighbours: `offline/mining.ts`
 * - Stage 2, SCAN: `offline/scan.ts`
 * - Stage 3, self-labelling: `offline/selflabel.ts`
 *
 * Each stage is resumable from its last epoch, with checkpoints and hand-off files in the run
 * directory (`src/run/run_dir.ts`), and each is a stream of batches through the stage's operator.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BackendName } from "../src/backend/backend.ts";
import { defaultThreads } from "../src/parallel/threads.ts";
import { makeConfigFrom, type ScanConfig } from "../src/config.ts";
import {
  type BudgetPlan,
  describePlan,
  MAX_EPOCHS,
  planBudget,
  type TrainingStage,
} from "../src/run/budget_plan.ts";
import { logLine, setDeadline } from "../src/util/progress.ts";
import type { Dataset } from "../src/data/dataset.ts";
import { budgetPlanSchema, runStateSchema, savedConfigSchema } from "../src/protocol/disk_state.ts";
import { emptyRunState, type RunPaths, runPaths, type RunState } from "../src/run/run_dir.ts";
import { StageTrainers } from "../src/run/stage_trainers.ts";
import { readJsonIfExists, writeJsonAtomic } from "../src/util/atomic_write.ts";
import type {
  MiningReport,
  PretextReport,
  ScanReport,
  SelfLabelReport,
  StageContext,
} from "./offline/context.ts";
import { type BaselineReport, rawPixelBaseline } from "./offline/baseline.ts";
import { measureTimings } from "./offline/measure.ts";
import { mine } from "./offline/mining.ts";
import { pretextReport, trainPretext } from "./offline/pretext.ts";
import { trainScan } from "./offline/scan.ts";
import { trainSelfLabel } from "./offline/selflabel.ts";

export type { StageMetrics } from "./offline/context.ts";

/** What an offline run needs. */
export interface OfflineRun {
  readonly config: ScanConfig;
  /** The images the stages train on. */
  readonly train: Dataset;
  /** Labelled images to report metrics on (the test split); defaults to `train`. */
  readonly evaluation?: Dataset;
  readonly runDir: string;
  /** Training threads (default: every core). */
  readonly threads?: number;
  /** Their compute backend (default: this thread's). */
  readonly backend?: BackendName;
  /**
   * A time budget: epochs are planned from step times measured at the start (docs/training.md),
   * except the stages in `fixedEpochs` (from flags). A resumed run keeps its stored plan.
   */
  readonly budget?: {
    readonly minutes: number;
    readonly fixedEpochs?: Partial<Record<TrainingStage, number>>;
  };
}

/** The budget part of the summary: the plan, and the time each stage took. */
export interface BudgetReport {
  readonly minutes: number;
  readonly planned: {
    readonly pretext: { epochs: number; seconds: number };
    readonly mining: { seconds: number };
    readonly scan: { epochs: number; seconds: number };
    readonly selflabel: { epochs: number; seconds: number };
    readonly overheadSeconds: number;
  };
  /** Stages stopped at their deadline before their planned epochs: the epochs they did. */
  readonly cut: Partial<Record<TrainingStage, number>>;
  readonly actual: {
    readonly pretext: number;
    readonly mining: number;
    readonly scan: number;
    readonly selflabel: number;
    /** The whole run in this process, measuring and evaluation included. */
    readonly total: number;
  };
  readonly timings: BudgetPlan["timings"];
}

/** The JSON a finished run prints. */
export interface OfflineSummary {
  readonly train: { images: number };
  readonly evaluation: { images: number; labelled: boolean };
  /** K-means on the raw pixels, scored like the stages (with labels only). */
  readonly baseline?: BaselineReport;
  readonly pretext: PretextReport;
  readonly mining: MiningReport;
  readonly scan: ScanReport;
  readonly selflabel: SelfLabelReport;
  readonly seconds: number;
  /** With a budget: planned and actual time per stage. */
  readonly budget?: BudgetReport;
}

/** Run (or resume) the stages; resolves to the summary once all are done. */
export async function runOffline(run: OfflineRun): Promise<OfflineSummary> {
  const { train } = run;
  const evaluation = run.evaluation ?? train;
  const paths = runPaths(run.runDir);
  await Deno.mkdir(paths.root, { recursive: true });
  const started = performance.now();
  const threads = run.threads ?? defaultThreads("train");
  const backend = run.backend ?? (tf.getBackend() as BackendName);
  const state: RunState = (await readJsonIfExists(paths.state, runStateSchema())) ??
    emptyRunState();
  let config = run.config;
  let plan: BudgetPlan | undefined;
  let budgetHook: StageContext["budget"];
  if (run.budget) {
    plan = await budgetPlan(run, paths, evaluation, threads, backend);
    const fixed = run.budget.fixedEpochs ?? {};
    const epochs = (stage: TrainingStage) =>
      fixed[stage] ?? plan!.cut?.[stage] ?? plan![stage].epochs;
    config = makeConfigFrom(config, {
      pretext: { epochs: epochs("pretext") },
      scan: { epochs: epochs("scan") },
      selflabel: { epochs: epochs("selflabel") },
    });
    // What is left of the budget: a resumed run has spent some of it already.
    const spent = state.pretext.seconds + state.mining.seconds + state.scan.seconds +
      state.selflabel.seconds;
    const deadline = started + (plan.minutes * 60 - spent) * 1000;
    setDeadline(deadline);
    budgetHook = deadlineHook(plan, fixed, deadline, async (cut) => {
      plan = { ...plan!, cut };
      await writeJsonAtomic(paths.plan, plan);
    });
  }
  await checkConfig(paths, config);
  if (train.n <= config.neighbours) {
    throw new RangeError(
      `Cannot run SCAN: the training set must hold more images than neighbours (K = ${config.neighbours}), ` +
        `current value is ${train.n}`,
    );
  }
  const stages: StageContext = {
    config,
    train,
    evaluation,
    paths,
    state,
    save: () => writeJsonAtomic(paths.state, state),
    trainers: new StageTrainers(config),
    threads,
    backend,
    budget: budgetHook,
  };

  const baseline = evaluation.labels
    ? rawPixelBaseline(
      train,
      evaluation,
      config.clusters,
      stages.trainers.streams.random("baseline.kmeans"),
    )
    : undefined;
  const contrastive = await trainPretext(stages);
  const mined = await mine(stages, contrastive);
  const pretext = await pretextReport(stages, contrastive, mined.features);
  // SCAN keeps the backbone and drops the projection head.
  contrastive.projection.dispose();
  const scan = await trainScan(stages, contrastive.backbone, mined.neighbours);
  const selflabel = await trainSelfLabel(
    stages,
    scan.model,
    scan.head,
    mined.neighbours,
    scan.agreement,
  );
  setDeadline(undefined);
  const seconds = (performance.now() - started) / 1000;
  return {
    train: { images: train.n },
    evaluation: { images: evaluation.n, labelled: evaluation.labels !== undefined },
    ...(baseline ? { baseline } : {}),
    pretext,
    mining: mined.report,
    scan: scan.report,
    selflabel,
    seconds,
    ...(plan ? { budget: budgetReport(plan, state, seconds) } : {}),
  };
}

/**
 * The run's plan: the stored one when resuming (so a resume trains what was planned), else one
 * measured now and stored. Explicit epochs are applied by the caller.
 */
async function budgetPlan(
  run: OfflineRun,
  paths: RunPaths,
  evaluation: Dataset,
  threads: number,
  backend: BackendName,
): Promise<BudgetPlan> {
  const { minutes, fixedEpochs = {} } = run.budget!;
  const stored: BudgetPlan | undefined = await readJsonIfExists(paths.plan, budgetPlanSchema());
  if (stored) {
    const differs = stored.minutes !== minutes ? ` (not the ${minutes} min asked now)` : "";
    logLine(`resuming with the stored plan of ${stored.minutes} min${differs}`);
    for (const line of describePlan(stored)) logLine(line);
    return stored;
  }
  const timings = await measureTimings({ config: run.config, train: run.train, threads, backend });
  const plan = planBudget(
    minutes,
    run.config,
    {
      train: run.train.n,
      evaluation: evaluation.n,
      labelled: evaluation.labels !== undefined,
    },
    timings,
    fixedEpochs,
  );
  for (const line of describePlan(plan)) logLine(line);
  await writeJsonAtomic(paths.plan, plan);
  return plan;
}

/**
 * The stages' budget hook: a stage whose epochs the budget planned stops when its next epoch
 * (as long as its last) would end after the deadline less what the later stages were planned
 * to take; and when it has done its planned epochs with time to spare (its steps ran faster than
 * measured at the start), the pretext task and SCAN go on an epoch at a time while one still fits,
 * within `MAX_EPOCHS`: the user's time goes into training, not into finishing early. Either way
 * the epochs the deadline set are stored in the plan (`cut`), so a resume trains the same.
 */
export function deadlineHook(
  plan: BudgetPlan,
  fixed: Partial<Record<TrainingStage, number>>,
  deadline: number,
  record: (cut: Partial<Record<TrainingStage, number>>) => Promise<void>,
): StageContext["budget"] {
  const later: Record<TrainingStage, number> = {
    pretext: plan.mining.seconds + plan.scan.seconds + plan.selflabel.seconds +
      plan.overheadSeconds,
    // SCAN's final head losses and the evaluation passes are most of the overhead.
    scan: plan.selflabel.seconds + plan.overheadSeconds / 2,
    selflabel: plan.overheadSeconds / 4,
  };
  const cut: Partial<Record<TrainingStage, number>> = { ...plan.cut };
  return {
    async proceed(stage, epochsDone, epochSeconds) {
      if (fixed[stage] !== undefined) return true;
      if (performance.now() + epochSeconds * 1000 <= deadline - later[stage] * 1000) return true;
      logLine(
        `budget: ${stage} stops after ${epochsDone} of ${plan[stage].epochs} planned epochs; ` +
          `another (${epochSeconds.toFixed(0)}s) would end past its deadline`,
      );
      cut[stage] = epochsDone;
      await record({ ...cut });
      return false;
    },
    async extend(stage, epochsDone, epochSeconds) {
      // Self-labelling is not lengthened: it often loses to SCAN (final_model.ts).
      if (fixed[stage] !== undefined || stage === "selflabel") return false;
      if (epochsDone >= MAX_EPOCHS[stage]) return false;
      if (performance.now() + epochSeconds * 1000 > deadline - later[stage] * 1000) return false;
      if (cut[stage] === undefined) {
        logLine(
          `budget: ${stage} did its ${plan[stage].epochs} planned epochs ahead of its deadline; ` +
            `it goes on while another epoch (${epochSeconds.toFixed(0)}s) fits`,
        );
      }
      cut[stage] = epochsDone + 1;
      await record({ ...cut });
      return true;
    },
  };
}

/** Planned and actual time per stage (actual over every session of a resumed run). */
function budgetReport(plan: BudgetPlan, state: RunState, seconds: number): BudgetReport {
  const planned = (p: BudgetPlan["pretext"]) => ({ epochs: p.epochs, seconds: p.seconds });
  return {
    minutes: plan.minutes,
    planned: {
      pretext: planned(plan.pretext),
      mining: plan.mining,
      scan: planned(plan.scan),
      selflabel: planned(plan.selflabel),
      overheadSeconds: plan.overheadSeconds,
    },
    cut: plan.cut ?? {},
    actual: {
      pretext: state.pretext.seconds,
      mining: state.mining.seconds,
      scan: state.scan.seconds,
      selflabel: state.selflabel.seconds,
      total: seconds,
    },
    timings: plan.timings,
  };
}

/** A run directory keeps the config it was started with; a resume may only change epochs. */
async function checkConfig(paths: RunPaths, config: ScanConfig): Promise<void> {
  const saved = await readJsonIfExists(paths.config, savedConfigSchema()) as ScanConfig | undefined;
  if (saved) {
    // Runs saved before `invertProbability` existed trained without inversion. Keys are sorted,
    // so an old config.json compares equal whatever order its fields were written in.
    const strip = (c: ScanConfig) =>
      JSON.stringify(
        {
          ...c,
          invertProbability: c.invertProbability ?? 0,
          // Runs saved before `colourAugment` existed trained with colour augmentation.
          colourAugment: c.colourAugment ?? true,
          // Runs saved before `mineOn` existed mined on the projection.
          mineOn: c.mineOn ?? "projection",
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
