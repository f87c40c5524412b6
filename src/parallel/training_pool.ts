/**
 * The main side of data-parallel training: N worker threads, each with its own tfjs backend and
 * its own copy of the networks. A SimCLR step splits the batch into N shards (whole images, both
 * views of an image in one shard), each worker computes the gradients of the whole batch's loss
 * through its shard, the workers add them up over shared memory, and each applies the same
 * update; the main thread only sends the shards and awaits the loss, so it stays free to serve.
 *
 * One request at a time: the pool's methods are serialised, since every worker must see the
 * same sequence of steps.
 */
import { type BackendName, ensureBackendAvailable } from "../backend/backend.ts";
import { PROJECTION_DIM, type ScanConfig } from "../config.ts";
import type { WeakOptions } from "../augment/options.ts";
import type { ImageBatch } from "../data/dataset.ts";
import { StreamModels } from "../stream/stream_models.ts";
import { concatFloat32 } from "../util/concat.ts";
import { collectiveBuffers } from "./collective.ts";
import type { Neighbours } from "../mining/knn.ts";
import type { ScanLosses } from "../stages/scan.ts";
import type { SelfLabelLoss } from "../stages/selflabel.ts";
import type {
  Embeddings,
  EvaluateHeadsRequest,
  ImageShard,
  SelfLabelRequest,
  TrainerAt,
  WorkerReply,
  WorkerRequest,
  WorkerResult,
} from "./messages.ts";
import type { NetworkWeights } from "./network_weights.ts";

/** Options of {@link TrainingPool.open}. */
export interface PoolOptions {
  readonly threads: number;
  readonly backend: BackendName;
  /** Shapes the networks (backbone, input size, clusters, heads). */
  readonly config: ScanConfig;
  /**
   * The starting weights; a network left out keeps the initialisation the config's seed gives
   * (identical in every worker).
   */
  readonly weights: Partial<NetworkWeights>;
  /** The largest SimCLR batch a step will get (default: the config's pretext batch size). */
  readonly maxBatch?: number;
}

/** Options of one SimCLR step. */
export interface PretextStepOptions {
  readonly learningRate: number;
  readonly temperature: number;
  /** Seeds the augmentations of this step (each worker derives its own stream from it). */
  readonly seed: number;
  /** False: views are the images and their mirror images, no random augmentation. */
  readonly augment?: boolean;
  readonly augmentation?: Partial<WeakOptions>;
  /** Compute the summed gradient and return it, leaving the weights as they are. */
  readonly gradientOnly?: boolean;
}

/** Result of one step: the loss of the whole batch, and the slowest worker's compute time. */
export interface PretextStepResult {
  readonly loss: number;
  readonly workerMs: number;
  /** Each worker's time spent waiting for its peers in this step, in rank order. */
  readonly waitMs: number[];
  /** With `gradientOnly`: the gradient of the batch's loss, flat over backbone and projection. */
  readonly gradient?: Float32Array;
}

interface Pending {
  resolve(result: WorkerResult): void;
  reject(error: Error): void;
}

/**
 * The longest a request may wait for its worker's answer: far beyond any step or pass here (a
 * SimCLR step of resnet-small at batch 512 takes about a second a core).
 */
const REPLY_TIMEOUT_MS = 10 * 60_000;

/** Images per inference request to one worker: bounds the memory of a pass over a large store. */
const EMBED_CHUNK = 512;

/** N training threads with identical networks. */
export class TrainingPool {
  readonly threads: number;
  readonly #workers: Worker[];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #broken: Error | undefined;
  /** Whether workers other than the first hold older weights than it (see `#alone`). */
  #stale = false;
  #closed = false;

  private constructor(workers: Worker[]) {
    this.threads = workers.length;
    this.#workers = workers;
    for (const worker of workers) {
      worker.onmessage = (event: MessageEvent<WorkerReply>) => this.#settle(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        this.#fail(new Error(`A training worker failed: ${event.message}`));
      };
    }
  }

  /**
   * Start `threads` workers with `weights` and wait until all are ready.
   *
   * @throws {RangeError} for a thread count below 1.
   * @throws {Error} when a worker cannot initialise its backend or networks.
   */
  static async open(options: PoolOptions): Promise<TrainingPool> {
    const { threads } = options;
    // A missing native package is reported once, here, rather than once per worker.
    await ensureBackendAvailable(options.backend);
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(
        `Cannot open a training pool: threads must be >= 1, current value is ${threads}`,
      );
    }
    const slotFloats = Math.max(
      // Summed gradients: at most every weight of the three networks.
      totalFloats(options.weights, options.config),
      // Gathered projections: 2 views of every image of a batch, at the projection's width.
      2 * (options.maxBatch ?? options.config.pretext.batchSize) *
        (options.weights.projection?.at(-1)?.length ?? PROJECTION_DIM),
    );
    const buffers = collectiveBuffers(threads, slotFloats);
    const workers = Array.from(
      { length: threads },
      () => new Worker(new URL("./training_worker.ts", import.meta.url).href, { type: "module" }),
    );
    const pool = new TrainingPool(workers);
    try {
      await Promise.all(workers.map((_, rank) =>
        pool.#call(rank, {
          type: "init",
          backend: options.backend,
          config: options.config,
          rank,
          buffers,
          weights: options.weights,
        })
      ));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /** One SimCLR step on `batch` (all its images, split across the workers). */
  pretextStep(batch: ImageBatch, options: PretextStepOptions): Promise<PretextStepResult> {
    return this.#serial(async () => {
      const shards = split(batch, this.threads);
      const results = await Promise.all(shards.map((shard, rank) =>
        this.#call(rank, {
          type: "pretext",
          shard,
          seed: options.seed * 7919 + rank,
          augment: options.augment ?? true,
          augmentation: options.augmentation,
          learningRate: options.learningRate,
          temperature: options.temperature,
          gradientOnly: options.gradientOnly,
        })
      ));
      const steps = results.map((r) => {
        if (r.type !== "pretext") throw new Error(`Cannot take a SimCLR step: got ${r.type}`);
        return r;
      });
      const [first] = steps;
      return {
        loss: first.loss,
        workerMs: Math.max(...steps.map((r) => r.ms)),
        waitMs: steps.map((r) => r.waitMs),
        gradient: first.gradient,
      };
    });
  }

  /**
   * Backbone and projected features of `batch` in inference mode, the workers sharing the
   * images; rows in the batch's order.
   */
  embed(batch: ImageBatch): Promise<Embeddings> {
    return this.#serial(async () => {
      const parts = await this.#chunked(batch, async (rank, shard) => {
        const result = await this.#call(rank, { type: "embed", shard });
        if (result.type !== "embed") throw new Error(`Cannot embed: got ${result.type}`);
        return result.embeddings;
      });
      return {
        backbone: concatFloat32(parts.map((p) => p.backbone)),
        projected: concatFloat32(parts.map((p) => p.projected)),
      };
    });
  }

  /**
   * One SCAN step of the heads on backbone features (frozen backbone), rows of `dim` floats.
   * Runs on the first worker alone: a few small matrix products.
   */
  scanOnFeatures(
    anchors: Float32Array,
    neighbours: Float32Array,
    dim: number,
    at: TrainerAt,
  ): Promise<ScanLosses> {
    return this.#alone(async () => {
      const result = await this.#call(0, {
        type: "scanFeatures",
        anchors,
        neighbours,
        dim,
        at,
      });
      if (result.type !== "scan") throw new Error(`Cannot take a SCAN step: got ${result.type}`);
      return result.losses;
    });
  }

  /** One SCAN step of backbone and heads on images, on the first worker alone. */
  scanOnImages(
    anchors: ImageBatch,
    neighbours: ImageBatch,
    at: TrainerAt,
  ): Promise<ScanLosses> {
    return this.#alone(async () => {
      const result = await this.#call(0, {
        type: "scanImages",
        anchors: whole(anchors),
        neighbours: whole(neighbours),
        at,
      });
      if (result.type !== "scan") throw new Error(`Cannot take a SCAN step: got ${result.type}`);
      return result.losses;
    });
  }

  /** One self-labelling step on the first worker alone (see `SelfLabelRequest`). */
  selflabel(
    batch: ImageBatch,
    options: Omit<SelfLabelRequest, "type" | "shard">,
  ): Promise<SelfLabelLoss> {
    return this.#alone(async () => {
      const result = await this.#call(0, { type: "selflabel", shard: whole(batch), ...options });
      if (result.type !== "selflabel") {
        throw new Error(`Cannot take a self-labelling step: got ${result.type}`);
      }
      return result.result;
    });
  }

  /** Logits of every head for backbone features [n, F]. */
  headLogits(features: Float32Array, n: number): Promise<Float32Array[]> {
    return this.#serial(async () => {
      const result = await this.#call(0, { type: "headLogits", features, n });
      if (result.type !== "logits") throw new Error(`Cannot compute logits: got ${result.type}`);
      return result.logits;
    });
  }

  /** Logits of every head for the images of `batch` (inference mode), the workers sharing them. */
  logits(batch: ImageBatch): Promise<Float32Array[]> {
    return this.#serial(async () => {
      const parts = await this.#chunked(batch, async (rank, shard) => {
        const result = await this.#call(rank, { type: "logits", shard });
        if (result.type !== "logits") throw new Error(`Cannot compute logits: got ${result.type}`);
        return result.logits;
      });
      const heads = parts[0]?.length ?? 0;
      return Array.from({ length: heads }, (_, h) => concatFloat32(parts.map((p) => p[h])));
    });
  }

  /** SCAN losses of every head over a whole set (see `evaluateHeads`), computed in a worker. */
  evaluateHeads(request: Omit<EvaluateHeadsRequest, "type">): Promise<ScanLosses> {
    return this.#serial(async () => {
      const result = await this.#call(0, { type: "evaluateHeads", ...request });
      if (result.type !== "scan") throw new Error(`Cannot evaluate heads: got ${result.type}`);
      return result.losses;
    }, false);
  }

  /** The `k` nearest neighbours of every row of `features` [n, dim], mined in a worker. */
  mine(features: Float32Array, n: number, dim: number, k: number): Promise<Neighbours> {
    return this.#serial(async () => {
      const result = await this.#call(0, { type: "mine", features, n, dim, k });
      if (result.type !== "mine") throw new Error(`Cannot mine neighbours: got ${result.type}`);
      return result.neighbours;
    }, false);
  }

  /**
   * Re-initialise clustering head `head` (fresh weights from `seed`); the optimisers keep their
   * state. On the first worker alone, like the SCAN steps that train the heads.
   */
  refreshHead(head: number, seed: number): Promise<void> {
    return this.#alone(async () => {
      const result = await this.#call(0, { type: "refreshHead", head, seed });
      if (result.type !== "refreshHead") {
        throw new Error(`Cannot refresh a head: got ${result.type}`);
      }
    });
  }

  /** A copy of the networks' weights (all workers hold the same). */
  weights(): Promise<NetworkWeights> {
    return this.#serial(async () => {
      const result = await this.#call(0, { type: "weights" });
      if (result.type !== "weights") throw new Error(`Cannot read weights: got ${result.type}`);
      return result.weights;
    });
  }

  /** Replace the networks' weights in every worker (optimiser state is kept). */
  setWeights(weights: NetworkWeights): Promise<void> {
    return this.#serial(async () => {
      await Promise.all(
        this.#workers.map((_, rank) => this.#call(rank, { type: "setWeights", weights })),
      );
    });
  }

  /** Stop the workers; pending requests fail. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const worker of this.#workers) worker.terminate();
    this.#fail(new Error("The training pool was closed"));
    await Promise.resolve();
  }

  /**
   * Inference over `batch` in chunks, each worker taking the next chunk when it is free, so a
   * slow worker delays nobody; results in the batch's order.
   */
  async #chunked<T>(
    batch: ImageBatch,
    run: (rank: number, shard: ImageShard) => Promise<T>,
  ): Promise<T[]> {
    const [count, size] = batch.shape;
    const stride = size * size * 3;
    const chunks: ImageShard[] = [];
    // At least one chunk per worker, so a single batch is shared too.
    const chunk = Math.max(1, Math.min(EMBED_CHUNK, Math.ceil(count / this.threads)));
    for (let start = 0; start < count; start += chunk) {
      const end = Math.min(count, start + chunk);
      chunks.push({
        pixels: batch.data.slice(start * stride, end * stride),
        count: end - start,
        size,
      });
    }
    const parts: T[] = new Array(chunks.length);
    let next = 0;
    await Promise.all(this.#workers.map(async (_, rank) => {
      while (next < chunks.length) {
        const i = next++;
        parts[i] = await run(rank, chunks[i]);
      }
    }));
    return parts;
  }

  /**
   * A training request that only the first worker runs: afterwards the others hold stale
   * weights, so they get the first worker's before the next request that involves them.
   */
  #alone<T>(body: () => Promise<T>): Promise<T> {
    return this.#serial(async () => {
      this.#stale = this.threads > 1;
      return await body();
    }, false);
  }

  #serial<T>(body: () => Promise<T>, needsPeers = true): Promise<T> {
    const run = this.#queue.then(async () => {
      if (this.#broken) throw this.#broken;
      if (needsPeers && this.#stale) {
        const result = await this.#call(0, { type: "weights" });
        if (result.type !== "weights") throw new Error(`Cannot share weights: got ${result.type}`);
        await Promise.all(
          this.#workers.slice(1).map((_, r) =>
            this.#call(r + 1, { type: "setWeights", weights: result.weights })
          ),
        );
        this.#stale = false;
      }
      return body();
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  #call(rank: number, request: WorkerRequest): Promise<WorkerResult> {
    if (this.#broken) return Promise.reject(this.#broken);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      // A worker that never answers (lost, or stuck) fails the pool instead of hanging its user.
      const watchdog = setTimeout(() => {
        this.#fail(
          new Error(
            `A training worker did not answer: worker ${rank}, request ${request.type}, ` +
              `after ${REPLY_TIMEOUT_MS / 1000} s`,
          ),
        );
      }, REPLY_TIMEOUT_MS);
      this.#pending.set(id, {
        resolve: (result) => {
          clearTimeout(watchdog);
          resolve(result);
        },
        reject: (error) => {
          clearTimeout(watchdog);
          reject(error);
        },
      });
      this.#workers[rank].postMessage({ id, request });
    });
  }

  #settle(reply: WorkerReply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.result);
    else {
      // A worker that failed mid-step leaves its peers at a barrier: the pool cannot go on.
      const error = new Error(`A training worker failed: ${reply.error}`);
      pending.reject(error);
      this.#fail(error);
    }
  }

  #fail(error: Error): void {
    this.#broken ??= error;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      pending.reject(error);
    }
  }
}

/** The whole batch as one shard. */
function whole(batch: ImageBatch): ImageShard {
  const [count, size] = batch.shape;
  return { pixels: batch.data, count, size };
}

/** Split a batch into `parts` shards of whole images, sizes differing by at most one. */
export function split(batch: ImageBatch, parts: number): ImageShard[] {
  const [count, size] = batch.shape;
  if (count < parts) {
    throw new RangeError(
      `Cannot split a batch of ${count} images across ${parts} workers: each needs at least one`,
    );
  }
  const stride = size * size * 3;
  const shards: ImageShard[] = [];
  let start = 0;
  for (let p = 0; p < parts; p++) {
    const n = Math.floor(count / parts) + (p < count % parts ? 1 : 0);
    shards.push({ pixels: batch.data.slice(start * stride, (start + n) * stride), count: n, size });
    start += n;
  }
  return shards;
}

/**
 * Floats in every network. A network left out of `weights` keeps its seeded initialisation in
 * the workers: it is built here too, only to be counted.
 */
function totalFloats(weights: Partial<NetworkWeights>, config: ScanConfig): number {
  const count = (ws: readonly Float32Array[]) => ws.reduce((n, w) => n + w.length, 0);
  const { backbone, projection, heads } = weights;
  if (backbone !== undefined && projection !== undefined && heads !== undefined) {
    return count(backbone) + count(projection) + count(heads);
  }
  const built = StreamModels.build(config);
  try {
    const all = built.backbone.countParams() + built.projection.countParams() +
      built.heads.countParams();
    return all;
  } finally {
    built.dispose();
  }
}
