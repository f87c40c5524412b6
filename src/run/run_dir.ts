/**
 * The layout of a run directory, derived in one place: every stage's checkpoint and hand-off file
 * (features, neighbours) has its path here, so the stages and the tasks cannot disagree.
 */
import { join } from "node:path";

/** Paths inside a run directory. */
export interface RunPaths {
  readonly root: string;
  /** The frozen config the run was started with. */
  readonly config: string;
  /** Progress of each stage, for resuming. */
  readonly state: string;
  /** The time budget's plan (epochs per stage), when the run has one; a resume keeps it. */
  readonly plan: string;
  /** Pretext model: backbone + projection head. */
  readonly pretext: string;
  /** Pretext features of the training images, float32 [n, D]. */
  readonly features: string;
  /** Mined neighbours of the training images, int32 [n, K]. */
  readonly neighbours: string;
  /** Best SCAN model so far (lowest loss on the training images): backbone + clustering heads. */
  readonly scan: string;
  /** Latest SCAN model, for resuming an interrupted SCAN stage. */
  readonly scanLast: string;
  /** Self-labelled model: backbone + clustering heads (the best head is the one trained). */
  readonly selflabel: string;
}

/** The paths of the run at `root`. */
export function runPaths(root: string): RunPaths {
  return {
    root,
    config: join(root, "config.json"),
    state: join(root, "state.json"),
    plan: join(root, "plan.json"),
    pretext: join(root, "pretext"),
    features: join(root, "features.f32"),
    neighbours: join(root, "neighbours.i32"),
    scan: join(root, "scan"),
    scanLast: join(root, "scan-last"),
    selflabel: join(root, "selflabel"),
  };
}

/** Which checkpoint serves as a run's model. */
export type RunStage = "selflabel" | "scan";

/** The model a run serves, chosen without labels once self-labelling ends (final_model.ts). */
export interface FinalChoice {
  readonly stage: RunStage;
  /** Each model's agreement with the mined neighbours on the training images. */
  readonly agreement: { readonly scan: number; readonly selflabel: number };
}

/** What a run has done so far; written after every epoch. */
export interface RunState {
  pretext: { epochs: number; seconds: number };
  mining: { done: boolean; seconds: number };
  scan: { epochs: number; seconds: number; bestHead: number; bestLoss: number | null };
  selflabel: { epochs: number; seconds: number };
  /** Absent until self-labelling has trained and the final model is chosen. */
  final?: FinalChoice;
}

/** The state of a run that has not started. */
export function emptyRunState(): RunState {
  return {
    pretext: { epochs: 0, seconds: 0 },
    mining: { done: false, seconds: 0 },
    scan: { epochs: 0, seconds: 0, bestHead: 0, bestLoss: null },
    selflabel: { epochs: 0, seconds: 0 },
  };
}
