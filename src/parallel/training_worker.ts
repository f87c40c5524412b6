/**
 * A training worker thread: its own tfjs backend (one wasm instance, one core) and its own copy
 * of the networks, kept identical to every other worker's by construction: each step they all
 * add up the same gradients (see collective.ts) and apply the same Adam update.
 */
/// <reference lib="deno.worker" />
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../backend/backend.ts";
import { weakAugment } from "../augment/weak.ts";
import { batchToTensor } from "../data/dataset.ts";
import { mineNeighbours } from "../mining/knn.ts";
import { reinitialiseHead } from "../models/clustering_head.ts";
import { StreamModels } from "../stream/stream_models.ts";
import { Random } from "../util/random.ts";
import { StageTrainers } from "../run/stage_trainers.ts";
import { evaluateHeads, type ScanTrainer } from "../stages/scan.ts";
import type { SelfLabelTrainer } from "../stages/selflabel.ts";
import { type Collective, sharedCollective, SOLO } from "./collective.ts";
import { FlatAdam } from "./flat_adam.ts";
import type {
  ImageShard,
  PretextRequest,
  TrainerAt,
  WorkerReply,
  WorkerRequest,
  WorkerResult,
} from "./messages.ts";
import { FlatVariables, readWeights, writeWeights } from "./network_weights.ts";
import { applyGradient, simclrGradient } from "./simclr_step.ts";
import { synchroniseBatchNorm } from "./sync_batch_norm.ts";

interface WorkerState {
  readonly rank: number;
  readonly collective: Collective;
  /** What batch norm synchronises with: `collective`, or SOLO while this worker trains alone. */
  bnPeers: Collective;
  readonly models: StreamModels;
  readonly contrastive: FlatVariables;
  /** The contrastive variables' values, kept so a step need not read them back. */
  contrastiveParams: Float32Array;
  pretextAdam?: FlatAdam;
  scan?: ScanTrainer;
  /** Builds the SCAN and self-labelling trainers from the config, with their named streams. */
  readonly trainers: StageTrainers;
  selflabel?: SelfLabelTrainer;
}

let state: WorkerState | undefined;

self.onmessage = async (event: MessageEvent<{ id: number; request: WorkerRequest }>) => {
  const { id, request } = event.data;
  let reply: WorkerReply;
  let transfer: Transferable[] = [];
  try {
    const result = await handle(request);
    transfer = transferablesOf(result);
    reply = { id, ok: true, result };
  } catch (error) {
    reply = { id, ok: false, error: (error as Error)?.stack ?? String(error) };
  }
  self.postMessage(reply, transfer);
};

async function handle(request: WorkerRequest): Promise<WorkerResult> {
  if (request.type === "init") {
    const backend = await initBackend(request.backend);
    const collective = sharedCollective(request.buffers, request.rank);
    const models = StreamModels.build(request.config);
    writeWeights(models, request.weights);
    const contrastive = new FlatVariables([models.backbone, models.projection]);
    state = {
      rank: request.rank,
      collective,
      bnPeers: collective,
      trainers: new StageTrainers(request.config),
      models,
      contrastive,
      contrastiveParams: contrastive.read(),
    };
    const s = state;
    synchroniseBatchNorm(models.backbone, () => s.bnPeers);
    return { type: "init", backend };
  }
  if (state === undefined) throw new Error(`Cannot run ${request.type}: the worker has no init`);
  switch (request.type) {
    case "pretext":
      return pretextStep(state, request);
    case "embed":
      return { type: "embed", embeddings: state.models.embeddings(asDataset(request.shard)) };
    case "scanFeatures":
      return alone(state, () => {
        const scan = scanTrainer(state!, request.at);
        const rows = request.anchors.length / request.dim;
        const a = tf.tensor2d(request.anchors, [rows, request.dim]);
        const b = tf.tensor2d(request.neighbours, [rows, request.dim]);
        try {
          return { type: "scan", losses: scan.stepOnFeatures(a, b) } as const;
        } finally {
          tf.dispose([a, b]);
        }
      });
    case "scanImages":
      return alone(state, () => {
        const scan = scanTrainer(state!, request.at);
        const a = batchToTensor({
          ids: [],
          data: request.anchors.pixels,
          shape: shapeOf(request.anchors),
        });
        const b = batchToTensor({
          ids: [],
          data: request.neighbours.pixels,
          shape: shapeOf(request.neighbours),
        });
        try {
          return { type: "scan", losses: scan.step(a, b) };
        } finally {
          tf.dispose([a, b]);
        }
      });
    case "selflabel":
      return alone(state, () => {
        const s = state!;
        if (request.fresh || s.selflabel === undefined) {
          s.selflabel?.dispose();
          // A frozen backbone belongs to the pretext task, which goes on every round.
          s.selflabel = s.trainers.selflabel(s.models.clustering, request.head, {
            stream: "round.selflabel.augment",
            position: request.at.position,
            headOnly: s.trainers.config.clusterHeadOnly,
          });
        }
        s.selflabel.scaleLearningRate(request.at.learningRateScale ?? 1);
        const images = batchToTensor({
          ids: [],
          data: request.shard.pixels,
          shape: shapeOf(request.shard),
        });
        try {
          return { type: "selflabel", result: s.selflabel.step(images) };
        } finally {
          images.dispose();
        }
      });
    case "headLogits":
      return { type: "logits", logits: state.models.headLogitsOf(request.features, request.n) };
    case "logits":
      return { type: "logits", logits: state.models.logits(asDataset(request.shard)) };
    case "evaluateHeads": {
      const { logits, n, clusters, neighbours, k, entropyWeight } = request;
      const losses = evaluateHeads(logits, n, clusters, neighbours, k, entropyWeight);
      return { type: "scan", losses };
    }
    case "mine":
      return {
        type: "mine",
        neighbours: mineNeighbours(request.features, request.n, request.dim, request.k),
      };
    case "weights":
      return { type: "weights", weights: readWeights(state.models) };
    case "refreshHead":
      reinitialiseHead(state.models.heads, request.head, request.seed);
      return { type: "refreshHead" };
    case "setWeights":
      writeWeights(state.models, request.weights);
      state.contrastiveParams = state.contrastive.read();
      return { type: "setWeights" };
  }
}

/** One SimCLR step's share: augment this worker's images, then `simclrGradient`. */
function pretextStep(s: WorkerState, request: PretextRequest): WorkerResult {
  const started = performance.now();
  const waitedBefore = s.collective.waitedMs();
  const { shard, temperature } = request;
  const views = tf.tidy(() => {
    const images = batchToTensor({ ids: [], data: shard.pixels, shape: shapeOf(shard) });
    if (!request.augment) return tf.concat([images, tf.reverse(images, 2)]);
    const rng = new Random(request.seed);
    return tf.concat([
      weakAugment(images, rng, request.augmentation),
      weakAugment(images, rng, request.augmentation),
    ]);
  });
  const step = {
    model: s.models.contrastive,
    variables: s.contrastive,
    params: s.contrastiveParams,
    collective: s.collective,
  };
  const { loss, gradient } = simclrGradient(step, views, temperature);
  views.dispose();
  const waitMs = () => s.collective.waitedMs() - waitedBefore;
  if (request.gradientOnly) {
    return { type: "pretext", loss, ms: performance.now() - started, waitMs: waitMs(), gradient };
  }
  // A new rate keeps Adam's moments: the stream cools its rate while no image arrives.
  if (s.pretextAdam === undefined) {
    s.pretextAdam = new FlatAdam(s.contrastive.size, { learningRate: request.learningRate });
  } else s.pretextAdam.learningRate = request.learningRate;
  applyGradient(step, s.pretextAdam, gradient);
  return { type: "pretext", loss, ms: performance.now() - started, waitMs: waitMs() };
}

/**
 * Run `body` with batch norm local to this worker: SCAN and self-labelling steps run on one
 * worker for the whole batch (they are cheap next to SimCLR's), so there are no peers to meet.
 */
function alone<T>(s: WorkerState, body: () => T): T {
  s.bnPeers = SOLO;
  try {
    return body();
  } finally {
    s.bnPeers = s.collective;
  }
}

/** The SCAN optimiser, made on first use. */
function scanTrainer(s: WorkerState, at: TrainerAt): ScanTrainer {
  s.scan ??= s.trainers.scan(s.models.clustering, {
    stream: "round.scan.augment",
    position: at.position,
  });
  s.scan.scaleLearningRate(at.learningRateScale ?? 1);
  return s.scan;
}

function shapeOf(shard: ImageShard): [number, number, number, 3] {
  return [shard.count, shard.size, shard.size, 3];
}

function asDataset(shard: ImageShard) {
  return { n: shard.count, size: shard.size, pixels: shard.pixels, ids: [], paths: [] };
}

function transferablesOf(result: WorkerResult): Transferable[] {
  const buffers: ArrayBufferLike[] = [];
  // Embeddings are cloned: their arrays may share one buffer. Weights are copies of their own.
  if (result.type === "weights") {
    const { backbone, projection, heads } = result.weights;
    for (const w of [...backbone, ...projection, ...heads]) buffers.push(w.buffer);
  }
  return buffers as Transferable[];
}
