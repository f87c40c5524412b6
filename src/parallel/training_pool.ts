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
import type { BackendName } from "../backend/backend.ts";
import type { ScanConfig } from "../config.ts";
import type { WeakOptions } from "../augment/options.ts";
import type { ImageBatch } from "../data/dataset.ts";
import { concatFloat32 } from "../util/concat.ts";
import { collectiveBuffers } from "./collective.ts";
import type {
  Embeddings,
  ImageShard,
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
  /** The starting weights of all three networks. */
  readonly weights: NetworkWeights;
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
  /** With `gradientOnly`: the gradient of the batch's loss, flat over backbone and projection. */
  readonly gradient?: Float32Array;
}

interface Pending {
  resolve(result: WorkerResult): void;
  reject(error: Error): void;
}

/** Images per embedding request to one worker: bounds the memory of a pass over a large store. */
const EMBED_CHUNK = 512;

/** N training threads with identical networks. */
export class TrainingPool {
  readonly threads: number;
  readonly #workers: Worker[];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #broken: Error | undefined;
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
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(
        `Cannot open a training pool: threads must be >= 1, current value is ${threads}`,
      );
    }
    const slotFloats = Math.max(
      // Summed gradients: at most every weight of the three networks.
      totalFloats(options.weights),
      // Gathered projections: 2 views of every image of a batch, at the projection's width.
      2 * (options.maxBatch ?? options.config.pretext.batchSize) *
        (options.weights.projection.at(-1)?.length ?? 128),
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
      let workerMs = 0;
      for (const r of results) if (r.type === "pretext") workerMs = Math.max(workerMs, r.ms);
      const first = results[0];
      if (first.type !== "pretext") throw new Error(`Cannot take a SimCLR step: got ${first.type}`);
      return { loss: first.loss, workerMs, gradient: first.gradient };
    });
  }

  /**
   * Backbone and projected features of `batch` in inference mode, the workers sharing the
   * images; rows in the batch's order.
   */
  embed(batch: ImageBatch): Promise<Embeddings> {
    return this.#serial(async () => {
      const [count, size] = batch.shape;
      const chunks: ImageShard[] = [];
      const stride = size * size * 3;
      for (let start = 0; start < count; start += EMBED_CHUNK) {
        const end = Math.min(count, start + EMBED_CHUNK);
        chunks.push({
          pixels: batch.data.subarray(start * stride, end * stride),
          count: end - start,
          size,
        });
      }
      const parts: Embeddings[] = new Array(chunks.length);
      let next = 0;
      // Each worker takes the next chunk when it is free, so a slow worker delays nobody.
      await Promise.all(this.#workers.map(async (_, rank) => {
        while (next < chunks.length) {
          const i = next++;
          const result = await this.#call(rank, { type: "embed", shard: chunks[i] });
          if (result.type === "embed") parts[i] = result.embeddings;
        }
      }));
      return {
        backbone: concatFloat32(parts.map((p) => p.backbone)),
        projected: concatFloat32(parts.map((p) => p.projected)),
      };
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

  #serial<T>(body: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#broken) throw this.#broken;
      return body();
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  #call(rank: number, request: WorkerRequest): Promise<WorkerResult> {
    if (this.#broken) return Promise.reject(this.#broken);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
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

function totalFloats(weights: NetworkWeights): number {
  let n = 0;
  for (const w of [...weights.backbone, ...weights.projection, ...weights.heads]) n += w.length;
  return n;
}
