/**
 * What every stage of the offline run shares: the run's config, images, directory and progress,
 * the trainer factory, and the shape of each stage's part of the summary.
 */
import type { BackendName } from "../../src/backend/backend.ts";
import type { ScanConfig } from "../../src/config.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import type { ClusteringMetrics } from "../../src/eval/metrics.ts";
import type { FinalChoice, RunPaths, RunState } from "../../src/run/run_dir.ts";
import type { StageTrainers } from "../../src/run/stage_trainers.ts";

/** The run as the stages see it. */
export interface StageContext {
  readonly config: ScanConfig;
  /** The images the stages train on. */
  readonly train: Dataset;
  /** Labelled images to report metrics on (the test split), or `train`. */
  readonly evaluation: Dataset;
  readonly paths: RunPaths;
  /** Progress of every stage; a stage updates its part, then calls `save`. */
  readonly state: RunState;
  /** Write `state` to the run directory (after every epoch, so a run resumes where it stopped). */
  readonly save: () => Promise<void>;
  /** Builds each stage's trainer, with its named random stream. */
  readonly trainers: StageTrainers;
  /** Training threads for the data-parallel stages. */
  readonly threads: number;
  /** Their compute backend. */
  readonly backend: BackendName;
  /**
   * With a time budget: asked after each epoch of a stage (but its last) whether another fits
   * before the stage's deadline; false ends the stage early, and the plan records the cut.
   */
  readonly budget?: {
    proceed(
      stage: "pretext" | "scan" | "selflabel",
      epochsDone: number,
      epochSeconds: number,
    ): Promise<boolean>;
    /**
     * Asked after a stage's last planned epoch: true when one more epoch fits before its
     * deadline (and is recorded), so the stage trains it.
     */
    extend(
      stage: "pretext" | "scan" | "selflabel",
      epochsDone: number,
      epochSeconds: number,
    ): Promise<boolean>;
  };
}

/** Metrics of one stage on the evaluation images, when they have labels. */
export type StageMetrics = Omit<ClusteringMetrics, "mapping">;

/** Stage 1, pretext: its time, and the paper's k-means baseline on its features. */
export interface PretextReport {
  seconds: number;
  kmeans?: StageMetrics;
}

/** Stage 1, mining: its time, and how often a mined neighbour shares its anchor's label. */
export interface MiningReport {
  seconds: number;
  neighbourAccuracy?: number;
}

/** Stage 2, SCAN: the kept head, its losses on the training images, and its metrics. */
export interface ScanReport {
  seconds: number;
  bestHead: number;
  loss: { total: number; consistency: number; entropy: number };
  metrics?: StageMetrics;
}

/**
 * Stage 3, self-labelling: its time, the self-labelled model's metrics, and which model the run
 * serves (absent when self-labelling did not train).
 */
export interface SelfLabelReport {
  seconds: number;
  metrics?: StageMetrics;
  final?: FinalChoice;
}
