/**
 * scanstream: SCAN (Van Gansbeke et al., "Learning to Classify Images without Labels", ECCV 2020)
 * on Deno, as RxJS operators joined by NATS subjects.
 *
 * The layers, from the bottom: the compute backend; pure tensor math (augmentations, losses,
 * mining, metrics); models; stage trainers; RxJS operators; transport (NATS and in-process bus);
 * pipelines (offline three-stage run, stream).
 *
 * @example
 * ```ts
 * import { initBackend, loadDataset, makeConfig, runOffline } from "./mod.ts";
 * await initBackend("wasm");
 * const config = makeConfig("fixtures");
 * const train = await loadDataset("fixtures/shapes", {
 *   size: config.inputSize,
 *   labels: "fixtures/shapes/labels.csv",
 * });
 * const summary = await runOffline({ config, train, runDir: "runs/shapes" });
 * console.log(summary.selflabel.metrics);
 * ```
 * @module
 */

export { type BackendName, BACKENDS, initBackend } from "./src/backend/backend.ts";
export {
  type ConfigOverrides,
  makeConfig,
  PRESETS,
  type ScanConfig,
  type StageConfig,
} from "./src/config.ts";
export { type Dataset, type ImageBatch } from "./src/data/dataset.ts";
export { loadDataset, type LoadOptions } from "./src/data/load_dataset.ts";
export { decodeImage } from "./src/image/decode.ts";
export { type LoadedImage, loadImageFile, type Refusal } from "./src/image/load.ts";
export { strongAugment } from "./src/augment/strong.ts";
export { weakAugment } from "./src/augment/weak.ts";
export { ntXentLoss, simclrLoss } from "./src/losses/nt_xent.ts";
export { scanLoss } from "./src/losses/scan_loss.ts";
export { confidenceCrossEntropy, confidenceTargets } from "./src/losses/confidence_ce.ts";
export { mineNeighbours } from "./src/mining/knn.ts";
export { miningVectors } from "./src/mining/mining_vectors.ts";
export { withPixels } from "./src/mining/pixel_mix.ts";
export { NeighbourIndex } from "./src/mining/neighbour_index.ts";
export { kmeans } from "./src/mining/kmeans.ts";
export { clusteringMetrics } from "./src/eval/metrics.ts";
export { hungarian } from "./src/eval/hungarian.ts";
export { type BackboneConfig, BACKBONES, buildBackbone } from "./src/models/resnet.ts";
export { buildProjectionHead } from "./src/models/projection_head.ts";
export { buildClusteringHead } from "./src/models/clustering_head.ts";
export { loadModel, saveModel } from "./src/models/io_handler.ts";
export { PretextTrainer } from "./src/stages/pretext.ts";
export { ScanTrainer } from "./src/stages/scan.ts";
export { SelfLabelTrainer } from "./src/stages/selflabel.ts";
export { embed, type FeatureBatch } from "./src/operators/embed.ts";
export { classify, type ProbabilityBatch } from "./src/operators/classify.ts";
export { pairStep, trainStep } from "./src/operators/train_step.ts";
export { type Bus, type BusMessage } from "./src/transport/bus.ts";
export { MemoryBus } from "./src/transport/memory_bus.ts";
export { NatsBus } from "./src/transport/nats_bus.ts";
export { subjects } from "./src/transport/subjects.ts";
export { type OfflineRun, type OfflineSummary, runOffline } from "./pipelines/offline.ts";
export { Random } from "./src/util/random.ts";
export { randomInvert } from "./src/augment/invert.ts";
export { type RunningStream, startStream, type StreamOptions } from "./pipelines/stream.ts";
export { makeRoundConfig, type RoundConfig } from "./src/stream/round_config.ts";
export { StreamTrainer } from "./src/stream/trainer.ts";
export {
  type AssignmentEvent,
  assignmentEvent,
  type ClusterUpdateEvent,
  clusterUpdateEvent,
  decodeEvent,
  type LabelEvent,
  labelEvent,
  type RefusalEvent,
  refusalEvent,
} from "./src/stream/events.ts";
export { type BoardOptions, type RunningBoard, startBoard } from "./src/board/board_server.ts";
