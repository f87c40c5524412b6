/**
 * Stage 1, mining (the end of the official simclr.py): the K nearest neighbours of every training
 * image under the pretext features (the projection z, or with `mineOn: "backbone-pixels"` the
 * backbone features h beside the images' pixels), the hand-off to SCAN. Features and neighbours
 * are written to the run directory; a resumed run reads them back unless the pretext model
 * changed since.
 */
import type { Dataset } from "../../src/data/dataset.ts";
import type { ScanConfig } from "../../src/config.ts";
import { mineNeighbours } from "../../src/mining/knn.ts";
import { neighbourAccuracy } from "../../src/mining/neighbour_accuracy.ts";
import { withPixels } from "../../src/mining/pixel_mix.ts";
import { backboneFeaturesOf, embedDataset } from "../../src/run/inference.ts";
import type { ContrastiveModel } from "../../src/stages/models.ts";
import { bytesOf, writeFileAtomic } from "../../src/util/atomic_write.ts";
import type { MiningReport, StageContext } from "./context.ts";

/** What mining hands on: the features mined on [n, D] and the neighbour lists [n, K]. */
export interface Mined {
  readonly features: Float32Array;
  /** Row i holds the K nearest images of image i, itself first. */
  readonly neighbours: Int32Array;
  readonly report: MiningReport;
}

/** Mine (or read back) the neighbours of the training images under `model`'s features. */
export async function mine(run: StageContext, model: ContrastiveModel): Promise<Mined> {
  const { train, paths, state } = run;
  const k = run.config.neighbours;
  let features: Float32Array;
  let neighbours: Int32Array;
  if (!state.mining.done) {
    const t0 = performance.now();
    features = await miningFeatures(run.config, model, train);
    const dim = features.length / train.n;
    neighbours = mineNeighbours(features, train.n, dim, k).indices;
    await writeFileAtomic(paths.features, bytesOf(features));
    await writeFileAtomic(paths.neighbours, bytesOf(neighbours));
    state.mining = { done: true, seconds: (performance.now() - t0) / 1000 };
    await run.save();
  } else {
    features = new Float32Array((await Deno.readFile(paths.features)).buffer);
    neighbours = new Int32Array((await Deno.readFile(paths.neighbours)).buffer);
  }
  const report: MiningReport = { seconds: state.mining.seconds };
  if (train.labels) report.neighbourAccuracy = neighbourAccuracy(neighbours, k, train.labels);
  return { features, neighbours, report };
}

/** The vectors `config.mineOn` names for every image of `dataset`, float32 [n, D]. */
export async function miningFeatures(
  config: ScanConfig,
  model: ContrastiveModel,
  dataset: Dataset,
): Promise<Float32Array> {
  if (config.mineOn === "projection") return await embedDataset(model, dataset);
  const h = await backboneFeaturesOf(model, dataset);
  return withPixels(h, dataset.n, h.length / dataset.n, dataset.pixels, dataset.size);
}
