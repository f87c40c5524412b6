/**
 * Decoding off the main thread: a fixed set of workers (`decode_worker.ts`), each given at most
 * `perWorker` files at a time. A worker that crashes or exceeds the time limit is replaced; the
 * file that timed out is refused, and the others it held are retried once on a fresh worker, so
 * one bad file costs no other image.
 */
import { defer, finalize, type OperatorFunction } from "rxjs";
import type { ImageLimits } from "../image/limits.ts";
import { resolveLimits } from "../image/limits.ts";
import type { Refusal } from "../image/load.ts";
import type { DecodeReply, DecodeRequest } from "./decode_worker.ts";
import { mapInOrder } from "./map_in_order.ts";

/** A decoded image at the model's size. */
export interface DecodedImage {
  /** The path as given. */
  path: string;
  /** SHA-256 of the file's bytes, hex. */
  id: string;
  /** Size of the original image. */
  width: number;
  height: number;
  /** size * size * 3 bytes, row-major RGB. */
  pixels: Uint8Array;
}

/** What decoding one path gives. */
export type IngestResult = DecodedImage | Refusal;

/** True for a decoded image. */
export function isDecoded(result: IngestResult): result is DecodedImage {
  return "pixels" in result;
}

/** How decoding runs. */
export interface DecodeOptions {
  /** Side S of the stored images (pixels are S * S * 3 bytes). */
  size: number;
  /** Number of workers (default 1). */
  workers?: number;
  /** Files given to one worker at once (default 2: one is read while another decodes). */
  perWorker?: number;
  /** Limits on file size and pixel count (defaults of `DEFAULT_IMAGE_LIMITS`). */
  limits?: Partial<ImageLimits>;
  /** Longest a file may take before its worker is replaced and it is refused (default 60000). */
  timeoutMs?: number;
}

interface Job {
  seq: number;
  path: string;
  root: string | undefined;
  bytes: Uint8Array | undefined;
  retried: boolean;
  timer: ReturnType<typeof setTimeout>;
  slot: Slot;
  resolve: (result: IngestResult) => void;
}

interface Slot {
  worker: Worker;
  jobs: Set<Job>;
}

/** A fixed pool of decode workers; `close()` terminates them and settles what is in flight. */
export class DecodePool {
  readonly #options: Required<DecodeOptions>;
  readonly #slots: Slot[] = [];
  readonly #waiting: Job[] = [];
  #seq = 0;
  #closed = false;

  /** @throws {RangeError} for invalid options. */
  constructor(options: DecodeOptions) {
    const resolved = {
      size: options.size,
      workers: options.workers ?? 1,
      perWorker: options.perWorker ?? 2,
      limits: resolveLimits(options.limits),
      timeoutMs: options.timeoutMs ?? 60_000,
    };
    for (const key of ["size", "workers", "perWorker"] as const) {
      if (!Number.isInteger(resolved[key]) || resolved[key] < 1) {
        throw new RangeError(
          `Cannot decode in workers: ${key} must be a positive integer, current value is ` +
            `${resolved[key]}`,
        );
      }
    }
    if (!(resolved.timeoutMs > 0)) {
      throw new RangeError(
        `Cannot decode in workers: timeoutMs must be positive, current value is ` +
          `${resolved.timeoutMs}`,
      );
    }
    this.#options = resolved;
  }

  /** Most files in flight at once: `workers * perWorker`. */
  get capacity(): number {
    return this.#options.workers * this.#options.perWorker;
  }

  /** Files being read or decoded now (at most `capacity`). */
  get inFlight(): number {
    return this.#slots.reduce((sum, slot) => sum + slot.jobs.size, 0);
  }

  /** Files waiting for a free worker. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Read and decode the file at `path` in a worker. Never rejects: every failure is a refusal.
   * Calls beyond `capacity` wait in line; callers bound their own concurrency to `capacity`.
   *
   * @param root the watched directory (a real path): the file must still lie inside it when it
   *   is opened (see `LoadOptions.root`).
   */
  decode(path: string, root?: string): Promise<IngestResult> {
    if (this.#closed) {
      return Promise.resolve({ path, reason: "not decoded: the ingest was stopped" });
    }
    return new Promise((resolve) => {
      const job = { seq: ++this.#seq, path, root, retried: false, resolve } as Job;
      this.#waiting.push(job);
      this.#drain();
    });
  }

  /**
   * Decode image bytes (a classify request) in a worker, under the same limits, time limit and
   * concurrency as files. Never rejects: every failure is a refusal, with `label` as its path.
   */
  decodeBytes(bytes: Uint8Array, label = "request"): Promise<IngestResult> {
    if (this.#closed) {
      return Promise.resolve({ path: label, reason: "not decoded: the decoder was stopped" });
    }
    return new Promise((resolve) => {
      const job = {
        seq: ++this.#seq,
        path: label,
        root: undefined,
        bytes,
        retried: false,
        resolve,
      } as Job;
      this.#waiting.push(job);
      this.#drain();
    });
  }

  /** Terminate the workers; files in flight are refused. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const slot of this.#slots.splice(0)) {
      slot.worker.terminate();
      for (const job of slot.jobs) this.#settle(job, stopped(job.path));
    }
    for (const job of this.#waiting.splice(0)) job.resolve(stopped(job.path));
  }

  #assign(job: Job, slot: Slot): void {
    job.slot = slot;
    slot.jobs.add(job);
    job.timer = setTimeout(() => this.#timeout(job), this.#options.timeoutMs);
    const { size, limits } = this.#options;
    const request: DecodeRequest = {
      seq: job.seq,
      path: job.path,
      root: job.root,
      bytes: job.bytes,
      size,
      limits,
    };
    slot.worker.postMessage(request);
  }

  #freeSlot(): Slot | null {
    let best: Slot | null = null;
    for (const slot of this.#slots) {
      if (slot.jobs.size < this.#options.perWorker && (!best || slot.jobs.size < best.jobs.size)) {
        best = slot;
      }
    }
    if (best && best.jobs.size === 0) return best;
    if (this.#slots.length < this.#options.workers) return this.#startWorker();
    return best;
  }

  #startWorker(): Slot {
    const worker = new Worker(new URL("./decode_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const slot: Slot = { worker, jobs: new Set() };
    worker.onmessage = (event: MessageEvent<DecodeReply>) => {
      const reply = event.data;
      const job = [...slot.jobs].find((j) => j.seq === reply.seq);
      if (!job) return;
      this.#settle(
        job,
        reply.ok
          ? {
            path: job.path,
            id: reply.id,
            width: reply.width,
            height: reply.height,
            pixels: reply.pixels,
          }
          : { path: job.path, reason: reply.reason },
      );
    };
    worker.onerror = (event) => {
      // Handled here: an unhandled worker error would end the whole process.
      event.preventDefault();
      this.#replace(slot, null, `the decoder crashed (${event.message})`);
    };
    this.#slots.push(slot);
    return slot;
  }

  #timeout(job: Job): void {
    const seconds = this.#options.timeoutMs / 1000;
    this.#replace(job.slot, job, `decoding took longer than ${seconds} s (timeoutMs)`);
  }

  /**
   * Drop a failed worker. `culprit` (when known) is refused; the other files it held are retried
   * once, and refused if they fail again, since the culprit could have been any of them.
   */
  #replace(slot: Slot, culprit: Job | null, reason: string): void {
    slot.worker.terminate();
    const index = this.#slots.indexOf(slot);
    if (index >= 0) this.#slots.splice(index, 1);
    const jobs = [...slot.jobs];
    slot.jobs.clear();
    for (const job of jobs) {
      clearTimeout(job.timer);
      if (job === culprit || job.retried || this.#closed) {
        job.resolve({ path: job.path, reason });
      } else {
        job.retried = true;
        this.#waiting.unshift(job);
      }
    }
    this.#drain();
  }

  #settle(job: Job, result: IngestResult): void {
    clearTimeout(job.timer);
    job.slot.jobs.delete(job);
    job.resolve(result);
    this.#drain();
  }

  #drain(): void {
    while (!this.#closed && this.#waiting.length > 0) {
      const slot = this.#freeSlot();
      if (slot === null) return;
      this.#assign(this.#waiting.shift()!, slot);
    }
  }
}

function stopped(path: string): Refusal {
  return { path, reason: "not decoded: the ingest was stopped" };
}

/**
 * Decode absolute paths to images at the model's size in worker threads, at most
 * `workers * perWorker` at once; bad files become refusals and the stream goes on. Results keep
 * the order of the paths. The workers start on subscription and are terminated on unsubscribe or
 * completion.
 *
 * ```
 * paths:   a---b---c(bad)---d--|
 * output:  ---a---b----c(refusal)--d--|
 * ```
 *
 * @example
 * ```ts
 * of("/data/a.png").pipe(decodeInWorkers({ size: 32 })).subscribe(console.log);
 * ```
 * @throws {RangeError} for invalid options, on subscription.
 */
export function decodeInWorkers(options: DecodeOptions): OperatorFunction<string, IngestResult> {
  return (source) =>
    defer(() => {
      const pool = new DecodePool(options);
      return source.pipe(
        mapInOrder((path) => pool.decode(path), pool.capacity),
        finalize(() => pool.close()),
      );
    });
}
