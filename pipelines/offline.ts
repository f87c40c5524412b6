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
import type { ScanConfig } from "../src/config.ts";
import type { Dataset } from "../src/data/dataset.ts";
import { runStateSchema, savedConfigSchema } from "../src/protocol/disk_state.ts";
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
}

/** The JSON a finished run prints. */
export interface OfflineSummary {
  readonly train: { images: number };
  readonly evaluation: { images: number; labelled: boolean };
  readonly pretext: PretextReport;
  readonly mining: MiningReport;
  readonly scan: ScanReport;
  readonly selflabel: SelfLabelReport;
  readonly seconds: number;
}

/** Run (or resume) the stages; resolves to the summary once all are done. */
export async function runOffline(run: OfflineRun): Promise<OfflineSummary> {
  const { config, train } = run;
  const evaluation = run.evaluation ?? train;
  const paths = runPaths(run.runDir);
  await Deno.mkdir(paths.root, { recursive: true });
  await checkConfig(paths, config);
  const state: RunState = (await readJsonIfExists(paths.state, runStateSchema())) ??
    emptyRunState();
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
    threads: run.threads ?? defaultThreads("train"),
    backend: run.backend ?? (tf.getBackend() as BackendName),
  };
  const started = performance.now();

  const contrastive = await trainPretext(stages);
  const mined = await mine(stages, contrastive);
  const pretext = await pretextReport(stages, contrastive, mined.features);
  // SCAN keeps the backbone and drops the projection head.
  contrastive.projection.dispose();
  const scan = await trainScan(stages, contrastive.backbone, mined.neighbours);
  const selflabel = await trainSelfLabel(stages, scan.model, scan.head);

  return {
    train: { images: train.n },
    evaluation: { images: evaluation.n, labelled: evaluation.labels !== undefined },
    pretext,
    mining: mined.report,
    scan: scan.report,
    selflabel,
    seconds: (performance.now() - started) / 1000,
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
