/**
 * Opens a finished (or interrupted) run directory for inference: its frozen config, the final
 * clustering model and the head SCAN kept. The final model is the one the run chose after
 * self-labelling (`state.final`, see final_model.ts); a run without that choice serves its
 * self-labelled checkpoint when present, else the best SCAN checkpoint.
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { join } from "node:path";
import { makeConfig, PRESETS, type ScanConfig } from "../config.ts";
import { loadModel } from "../models/io_handler.ts";
import type { ClusteringModel } from "../stages/models.ts";
import { runStateSchema, savedConfigSchema } from "../protocol/disk_state.ts";
import { readJsonIfExists } from "../util/atomic_write.ts";
import { runPaths, type RunStage, type RunState } from "./run_dir.ts";

export type { RunStage } from "./run_dir.ts";

/** A run ready for inference; it owns the model's weights until `dispose()`. */
export interface LoadedRun {
  readonly dir: string;
  readonly config: ScanConfig;
  readonly model: ClusteringModel;
  /** The clustering head with the lowest SCAN loss on the training images (`state.json`). */
  readonly head: number;
  readonly stage: RunStage;
  /** Free the model's weights. */
  dispose(): void;
}

/**
 * Load the run at `runDir`.
 *
 * @throws {Error} when the directory is not a run, has no SCAN checkpoint yet, or its files
 *   disagree (a head index beyond the model's heads, an input size other than the config's).
 */
export async function loadRun(runDir: string): Promise<LoadedRun> {
  const paths = runPaths(runDir);
  const fail = (why: string, cause?: unknown) =>
    new Error(`Cannot load run ${runDir}: ${why}`, cause === undefined ? undefined : { cause });
  let savedConfig: Record<string, unknown> | undefined;
  let state: RunState | undefined;
  try {
    savedConfig = await readJsonIfExists(paths.config, savedConfigSchema());
    state = await readJsonIfExists(paths.state, runStateSchema());
  } catch (error) {
    throw fail((error as Error).message, error);
  }
  if (!savedConfig || !state) {
    throw fail(
      "it has no config.json and state.json (is it a directory written by `deno task train`?)",
    );
  }
  const config = parseSavedConfig(savedConfig, fail);
  if (!(state.scan?.epochs > 0)) {
    throw fail("no SCAN epoch has finished yet; train it further with `deno task train`");
  }
  const head = state.scan.bestHead;
  // The run's own choice when it made one (final_model.ts), else the latest stage it saved.
  const stage: RunStage = state.final?.stage !== "scan" && await checkpointExists(paths.selflabel)
    ? "selflabel"
    : "scan";
  const dir = stage === "selflabel" ? paths.selflabel : paths.scan;
  let backbone: tfl.LayersModel | undefined;
  let heads: tfl.LayersModel | undefined;
  try {
    backbone = await loadModel(dir, "backbone");
    heads = await loadModel(dir, "heads");
  } catch (error) {
    backbone?.dispose();
    throw fail((error as Error).message, error);
  }
  const model: ClusteringModel = { backbone, heads };
  const dispose = () => {
    backbone.dispose();
    heads.dispose();
  };
  const headCount = heads.outputs.length;
  const inputSize = backbone.inputs[0].shape[1];
  if (!(Number.isInteger(head) && head >= 0 && head < headCount)) {
    dispose();
    throw fail(`state.json names head ${head}, but the ${stage} model has ${headCount} heads`);
  }
  if (inputSize !== null && inputSize !== config.inputSize) {
    dispose();
    throw fail(
      `the ${stage} backbone takes ${inputSize}px input, but config.json says ${config.inputSize}`,
    );
  }
  return { dir: runDir, config, model, head, stage, dispose };
}

/** Validate a saved config with the same rules as a new one; every field must be present. */
export function parseSavedConfig(
  original: Record<string, unknown>,
  fail: (why: string, cause?: unknown) => Error,
): ScanConfig {
  let saved = original;
  // Runs saved before `colourAugment` existed trained with colour augmentation.
  if (!("colourAugment" in saved)) saved = { ...saved, colourAugment: true };
  // Runs saved before `mineOn` existed mined on the projection.
  if (!("mineOn" in saved)) saved = { ...saved, mineOn: "projection" };
  const missing = Object.keys(PRESETS.fixtures).filter((key) => !(key in saved));
  if (missing.length > 0) throw fail(`config.json lacks ${missing.join(", ")}`);
  try {
    // Every field is overridden, so the preset only supplies the validation.
    return makeConfig("fixtures", saved as Partial<ScanConfig>);
  } catch (error) {
    throw fail(`config.json is invalid: ${(error as Error).message}`, error);
  }
}

async function checkpointExists(dir: string): Promise<boolean> {
  const present = await Promise.all(
    ["backbone.json", "heads.json"].map((file) =>
      Deno.stat(join(dir, file)).then((info) => info.isFile, () => false)
    ),
  );
  return present.every(Boolean);
}
