/**
 * What the training pool's main side and its workers say to each other. Every request carries an
 * id; the worker answers it with the same id, with a result or an error message.
 */
import type { BackendName } from "../backend/backend.ts";
import type { ScanConfig } from "../config.ts";
import type { WeakOptions } from "../augment/options.ts";
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
  readonly weights: NetworkWeights;
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

export interface WeightsRequest {
  readonly type: "weights";
}

export interface SetWeightsRequest {
  readonly type: "setWeights";
  readonly weights: NetworkWeights;
}

export type WorkerRequest =
  | InitRequest
  | PretextRequest
  | EmbedRequest
  | WeightsRequest
  | SetWeightsRequest;

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
    readonly gradient?: Float32Array;
  }
  | { readonly type: "embed"; readonly embeddings: Embeddings }
  | { readonly type: "weights"; readonly weights: NetworkWeights }
  | { readonly type: "setWeights" };

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly result: WorkerResult }
  | { readonly id: number; readonly ok: false; readonly error: string };
