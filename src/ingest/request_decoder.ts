/**
 * Decoding for the classify service: the bytes of a request are decoded in a worker of a
 * `DecodePool`, with the limits, time limit and concurrency bound of ingest, never on the
 * service's main thread (a hostile JPEG once took 6.6 s and 1.5 GB there). Requests beyond the
 * pool's capacity wait in a short line; beyond that they are refused at once as busy, so a
 * flood of requests cannot queue memory without bound.
 */
import type { ImageLimits } from "../image/limits.ts";
import { type DecodedImage, DecodePool, isDecoded } from "./decode_pool.ts";

/** Options of `RequestDecoder`. */
export interface RequestDecoderOptions {
  /** Side S of the model's input: pixels are S * S * 3 bytes. */
  size: number;
  limits?: Partial<ImageLimits>;
  /** Longest one decode may take, in ms (default 60000, as ingest). */
  timeoutMs?: number;
  /** Decode workers (default 1) and requests per worker at once (default 2). */
  workers?: number;
  perWorker?: number;
  /** Requests waiting beyond those decoding before more are refused as busy (default 16). */
  maxWaiting?: number;
}

/** Bounded decoding of request bytes in worker threads. */
export class RequestDecoder {
  readonly #pool: DecodePool;
  readonly #maxWaiting: number;

  /** @throws {RangeError} for invalid options. */
  constructor(options: RequestDecoderOptions) {
    this.#pool = new DecodePool(options);
    this.#maxWaiting = options.maxWaiting ?? 16;
    if (!Number.isInteger(this.#maxWaiting) || this.#maxWaiting < 0) {
      throw new RangeError(
        `Cannot decode requests: maxWaiting must be an integer >= 0, current value is ` +
          `${this.#maxWaiting}`,
      );
    }
  }

  /** Requests decoding or waiting now. */
  get pending(): number {
    return this.#pool.inFlight + this.#pool.waiting;
  }

  /**
   * The image at the model's size.
   *
   * @throws {Error} saying why it was not decoded: busy, over a limit, too slow, not an image.
   */
  async decode(bytes: Uint8Array): Promise<DecodedImage> {
    if (this.pending >= this.#pool.capacity + this.#maxWaiting) {
      throw new Error(
        `busy: ${this.pending} requests are decoding or waiting, at most ` +
          `${this.#pool.capacity + this.#maxWaiting}; try again later`,
      );
    }
    const result = await this.#pool.decodeBytes(bytes);
    if (!isDecoded(result)) throw new Error(result.reason);
    return result;
  }

  /** Terminate the workers; requests in flight are refused. */
  close(): void {
    this.#pool.close();
  }
}
