/**
 * What the training pool's main side and its workers say to each other. Every request carries an
 * id; the worker answers it with the same id, with a result or an error message.
 */
import type { BackendName } from "../backend/backend.ts";
import type { ScanConfig } from "../config.ts";
import type { WeakOptions } from "../augment/options.ts";
import type { Neighbours } from "../mining/knn.ts";
import type { ScanLosses } from "../stages/scan.ts";
import type { SelfLabelLoss } from "../stages/selflabel.ts";
import type { CollectiveBuffers } from "./collective.ts";
import type { NetworkWeights } from "./network_weights.ts";

/** uint8 images [count, size, size, 3], as a batch travels to a worker. */
export interface ImageShard {
  readonly pixels: Uint8Array;
  readonly count: number;
  readonly size: number;
}

export interface InitRequest {
  readonly type: "init";
  readonly backend: BackendName;
  readonly config: ScanConfig;
  readonly rank: number;
  readonly buffers: CollectiveBuffers;
  /** Starting weights; a network left out keeps its seeded initialisation. */
  readonly weights: Partial<NetworkWeights>;
}

/**
 * One SimCLR step's share: this worker's images; every worker sends its projected views to the
 * others, so the loss is the NT-Xent of the whole batch.
 */
export interface PretextRequest {
  readonly type: "pretext";
  readonly shard: ImageShard;
  /** Seeds this worker's augmentation of its shard. */
  readonly seed: number;
  /** False: the two views are the images and their mirror images (tests, benchmarks). */
  readonly augment: boolean;
  readonly augmentation?: Partial<WeakOptions>;
  readonly learningRate: number;
  readonly temperature: number;
  /** Return the summed gradient instead of applying it (tests compare it across pool sizes). */
  readonly gradientOnly?: boolean;
}

export interface EmbedRequest {
  readonly type: "embed";
  readonly shard: ImageShard;
}

/**
 * Where a stage trainer made by this request starts its random stream (`StageTrainers`, the
 * stream's `round.*.augment` streams): the round it is made at. Settings come from the config.
 */
export interface TrainerAt {
  readonly position: number;
  /** The fraction of the config's learning rate this step takes (default 1): see round.ts. */
  readonly learningRateScale?: number;
}

/** One SCAN step of the heads alone on backbone features (frozen backbone), rows [b, dim]. */
export interface ScanFeaturesRequest {
  readonly type: "scanFeatures";
  readonly anchors: Float32Array;
  readonly neighbours: Float32Array;
  readonly dim: number;
  readonly at: TrainerAt;
}

/** One SCAN step of backbone and heads on anchor and neighbour images. */
export interface ScanImagesRequest {
  readonly type: "scanImages";
  readonly anchors: ImageShard;
  readonly neighbours: ImageShard;
  readonly at: TrainerAt;
}

/** One self-labelling step on images; `fresh` starts a new optimiser (the kept head changed). */
export interface SelfLabelRequest {
  readonly type: "selflabel";
  readonly shard: ImageShard;
  readonly fresh: boolean;
  readonly head: number;
  readonly at: TrainerAt;
}

/** Logits of every head for backbone features [n, dim]. */
export interface HeadLogitsRequest {
  readonly type: "headLogits";
  readonly features: Float32Array;
  readonly n: number;
}

/** Logits of every head for images (inference mode). */
export interface LogitsRequest {
  readonly type: "logits";
  readonly shard: ImageShard;
}

/** The K nearest neighbours of every row of `features` [n, dim] (mineNeighbours). */
export interface MineRequest {
  readonly type: "mine";
  readonly features: Float32Array;
  readonly n: number;
  readonly dim: number;
  readonly k: number;
}

/** SCAN losses of every head over a whole set (`evaluateHeads`), to pick the best head. */
export interface EvaluateHeadsRequest {
  readonly type: "evaluateHeads";
  readonly logits: Float32Array[];
  readonly n: number;
  readonly clusters: number;
  readonly neighbours: Int32Array;
  readonly k: number;
  readonly entropyWeight: number;
}

export interface WeightsRequest {
  readonly type: "weights";
}

export interface SetWeightsRequest {
  readonly type: "setWeights";
  readonly weights: NetworkWeights;
}

/** Re-initialise one clustering head (fresh weights from `seed`; see `reinitialiseHead`). */
export interface RefreshHeadRequest {
  readonly type: "refreshHead";
  readonly head: number;
  readonly seed: number;
}

export type WorkerRequest =
  | InitRequest
  | PretextRequest
  | EmbedRequest
  | ScanFeaturesRequest
  | ScanImagesRequest
  | SelfLabelRequest
  | HeadLogitsRequest
  | LogitsRequest
  | MineRequest
  | EvaluateHeadsRequest
  | WeightsRequest
  | SetWeightsRequest
  | RefreshHeadRequest;

/** Backbone features [n, F] and L2-normalised projected features [n, D]. */
export interface Embeddings {
  readonly backbone: Float32Array;
  readonly projected: Float32Array;
}

export type WorkerResult =
  | { readonly type: "init"; readonly backend: string }
  | {
    readonly type: "pretext";
    readonly loss: number;
    readonly ms: number;
    /** Of `ms`, the time spent waiting for the other workers. */
    readonly waitMs: number;
    readonly gradient?: Float32Array;
  }
  | { readonly type: "embed"; readonly embeddings: Embeddings }
  | { readonly type: "scan"; readonly losses: ScanLosses }
  | { readonly type: "selflabel"; readonly result: SelfLabelLoss }
  | { readonly type: "logits"; readonly logits: Float32Array[] }
  | { readonly type: "mine"; readonly neighbours: Neighbours }
  | { readonly type: "weights"; readonly weights: NetworkWeights }
  | { readonly type: "setWeights" }
  | { readonly type: "refreshHead" };

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly result: WorkerResult }
  | { readonly id: number; readonly ok: false; readonly error: string };
