/**
 * Building, loading and saving the networks of an offline run: where each stage's checkpoint comes
 * from (a fresh seeded build, or the run directory on resume) is decided here.
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { PROJECTION_DIM, type ScanConfig } from "../config.ts";
import { buildClusteringHead } from "../models/clustering_head.ts";
import { loadModel, saveModel } from "../models/io_handler.ts";
import { buildProjectionHead } from "../models/projection_head.ts";
import { BACKBONES, buildBackbone } from "../models/resnet.ts";
import type { ClusteringModel, ContrastiveModel } from "../stages/models.ts";
import { RandomStreams } from "../util/random_streams.ts";
import type { RunPaths, RunState } from "./run_dir.ts";

/** The backbone preset named by the config, at the config's input size. */
export function backboneConfig(config: ScanConfig) {
  const preset = BACKBONES[config.backbone];
  if (!preset) {
    throw new RangeError(
      `Cannot build backbone: must be one of ${Object.keys(BACKBONES).join(", ")}, ` +
        `current value is ${config.backbone}`,
    );
  }
  return { ...preset, inputSize: config.inputSize };
}

/** The pretext model: from the run directory when resuming, else freshly built from the seed. */
export async function loadOrBuildContrastive(
  paths: RunPaths,
  config: ScanConfig,
  resume: boolean,
): Promise<ContrastiveModel> {
  if (resume) {
    return {
      backbone: await loadModel(paths.pretext, "backbone"),
      projection: await loadModel(paths.pretext, "projection"),
    };
  }
  const streams = new RandomStreams(config.seed);
  const backbone = buildBackbone(backboneConfig(config), streams.seedOf("backbone.init"));
  const dim = featureDim(backbone);
  return {
    backbone,
    projection: buildProjectionHead(dim, dim, PROJECTION_DIM, streams.seedOf("projection.init")),
  };
}

/**
 * The SCAN model: the latest SCAN checkpoint when resuming (disposing the pretext backbone), else
 * the pretext backbone with fresh clustering heads.
 */
export async function loadOrBuildClustering(
  paths: RunPaths,
  config: ScanConfig,
  pretextBackbone: tfl.LayersModel,
  state: RunState,
): Promise<ClusteringModel> {
  if (state.scan.epochs > 0) {
    pretextBackbone.dispose();
    return await loadClustering(paths.scanLast);
  }
  const heads = buildClusteringHead(
    featureDim(pretextBackbone),
    config.clusters,
    config.heads,
    new RandomStreams(config.seed).seedOf("heads.init"),
  );
  return { backbone: pretextBackbone, heads };
}

/** Width of the backbone's output features. */
export function featureDim(backbone: tfl.LayersModel): number {
  const shape = backbone.outputs[0].shape;
  return shape[shape.length - 1] as number;
}

/** Save a pretext model as `backbone` and `projection` in `dir`. */
export async function saveContrastive(model: ContrastiveModel, dir: string): Promise<void> {
  await saveModel(model.backbone, dir, "backbone");
  await saveModel(model.projection, dir, "projection");
}

/** Save a clustering model as `backbone` and `heads` in `dir`. */
export async function saveClustering(model: ClusteringModel, dir: string): Promise<void> {
  await saveModel(model.backbone, dir, "backbone");
  await saveModel(model.heads, dir, "heads");
}

/** Load a clustering model saved by `saveClustering` (the scan/ and selflabel/ checkpoints). */
export async function loadClustering(dir: string): Promise<ClusteringModel> {
  return { backbone: await loadModel(dir, "backbone"), heads: await loadModel(dir, "heads") };
}

/** Free both networks of a clustering model. */
export function disposeClustering(model: ClusteringModel): void {
  model.backbone.dispose();
  model.heads.dispose();
}
