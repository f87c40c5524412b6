/**
 * The stream's store of ingested images at model resolution: what the trainer samples batches
 * from and what re-embedding walks over. Pixels live in one growable uint8 buffer (S*S*3 bytes
 * per image, append-only); `view()` hands the offline stages' `Dataset` over it.
 *
 * On disk a store is an append-only pixel file plus an index (JSON, replaced atomically) that
 * says how many images the pixel file holds: a crash at any moment leaves the last index and a
 * pixel file at least that long, and loading keeps exactly the images the index records.
 */
import { join } from "node:path";
import type { Dataset } from "../data/dataset.ts";
import { storeIndexSchema } from "../protocol/disk_state.ts";
import { readJsonIfExists, writeJsonAtomic } from "../util/atomic_write.ts";
import type { Random } from "../util/random.ts";

/** One ingested image. */
export interface StoredImage {
  /** Content hash (sha-256 hex). */
  readonly id: string;
  /** Where it came from. */
  readonly path: string;
  /** uint8 RGB at model resolution, S*S*3 bytes (`toPixels`). */
  readonly pixels: Uint8Array;
  /** When it was ingested, ms since the epoch; defaults to now. */
  readonly receivedAt?: number;
  /** Class name, where ground truth is known (reporting only). */
  readonly label?: string;
}

/** File names inside a store directory. */
export const STORE_FILES = Object.freeze({ pixels: "pixels.u8", index: "index.json" });

/** The index file: everything but the pixels, for the first `n` images of the pixel file. */
interface StoreIndex {
  format: 1;
  size: number;
  n: number;
  ids: string[];
  paths: string[];
  receivedAt: number[];
  /** Class name per image, "" where unknown. */
  labels: string[];
}

/** In-memory store of ingested images, growing by doubling, with crash-safe persistence. */
export class ImageStore {
  /** Side S of the square model input. */
  readonly size: number;
  readonly #stride: number;
  #n = 0;
  #pixels: Uint8Array;
  #ids: string[] = [];
  #paths: string[] = [];
  #receivedAt: number[] = [];
  #labels: string[] = [];
  #indexOfId = new Map<string, number>();
  /** Directory the pixel file of which holds the first `#persisted` images. */
  #savedTo: string | undefined;
  #persisted = 0;
  /** Saves run one at a time: each appends where the previous one stopped. */
  #saving: Promise<void> = Promise.resolve();

  /**
   * @param size side S of the square model input.
   * @throws {RangeError} when it is not a positive integer.
   */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(
        `Cannot create image store: size must be a positive integer, current value is ${size}`,
      );
    }
    this.size = size;
    this.#stride = size * size * 3;
    this.#pixels = new Uint8Array(0);
  }

  /** Number of images stored. */
  get n(): number {
    return this.#n;
  }

  has(id: string): boolean {
    return this.#indexOfId.has(id);
  }

  /** Index of the image with id `id`, or -1. */
  indexOf(id: string): number {
    return this.#indexOfId.get(id) ?? -1;
  }

  /** Where image `i` came from: O(1), unlike `view()`, which copies every id and path. */
  pathOf(i: number): string {
    this.#checkIndex(i);
    return this.#paths[i];
  }

  /** Image `i`'s pixels (S*S*3 bytes, shared with the store, never rewritten): O(1). */
  pixelsOf(i: number): Uint8Array {
    this.#checkIndex(i);
    return this.#pixels.subarray(i * this.#stride, (i + 1) * this.#stride);
  }

  /** When image `i` was ingested, ms since the epoch. */
  receivedAt(i: number): number {
    this.#checkIndex(i);
    return this.#receivedAt[i];
  }

  /**
   * Store an image unless one with the same id is stored already (the same content dropped
   * twice): a duplicate is refused, not an error.
   *
   * @returns its index, and whether it was added (false: `index` is the stored duplicate's).
   * @throws {TypeError} when the id or path is not a non-empty string.
   * @throws {RangeError} when the pixels are not S*S*3 bytes.
   */
  add(image: StoredImage): { index: number; added: boolean } {
    for (const field of ["id", "path"] as const) {
      if (typeof image[field] !== "string" || image[field].length === 0) {
        throw new TypeError(
          `Cannot add image to store: ${field} must be a non-empty string, current value is ` +
            `${String(image[field])}`,
        );
      }
    }
    if (!(image.pixels instanceof Uint8Array) || image.pixels.length !== this.#stride) {
      throw new RangeError(
        `Cannot add image to store: pixels must be ${this.size} x ${this.size} x 3 = ` +
          `${this.#stride} bytes, current length is ${image.pixels?.length}`,
      );
    }
    const existing = this.#indexOfId.get(image.id);
    if (existing !== undefined) return { index: existing, added: false };
    const index = this.#n;
    this.#reserve(index + 1);
    this.#pixels.set(image.pixels, index * this.#stride);
    this.#ids.push(image.id);
    this.#paths.push(image.path);
    this.#receivedAt.push(image.receivedAt ?? Date.now());
    this.#labels.push(image.label ?? "");
    this.#indexOfId.set(image.id, index);
    this.#n = index + 1;
    return { index, added: true };
  }

  /**
   * The images stored now, as a `Dataset`. A snapshot: later adds do not change it (pixels are
   * never rewritten, so it shares the buffer). Labels are present when any image has one.
   */
  view(): Dataset {
    const dataset: Dataset = {
      n: this.#n,
      size: this.size,
      pixels: this.#pixels.subarray(0, this.#n * this.#stride),
      ids: Object.freeze(this.#ids.slice()),
      paths: Object.freeze(this.#paths.slice()),
    };
    if (!this.#labels.some((label) => label !== "")) return dataset;
    const classNames = [...new Set(this.#labels.filter((label) => label !== ""))].sort();
    const classOf = new Map(classNames.map((name, c) => [name, c]));
    const labels = Int32Array.from(this.#labels, (label) => classOf.get(label) ?? -1);
    return { ...dataset, labels, classNames: Object.freeze(classNames) };
  }

  /**
   * `min(count, n)` distinct image indices drawn uniformly without replacement, in random order.
   *
   * @throws {RangeError} when `count` is not a non-negative integer.
   */
  sample(count: number, rng: Random): number[] {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(
        `Cannot sample images: count must be a non-negative integer, current value is ${count}`,
      );
    }
    const n = this.#n;
    const m = Math.min(count, n);
    if (2 * m > n) return rng.shuffle(Array.from({ length: n }, (_, i) => i)).slice(0, m);
    // Floyd's algorithm: m draws whatever n is, so a batch from a large store costs O(batch).
    const chosen = new Set<number>();
    for (let j = n - m; j < n; j++) {
      const t = rng.int(j + 1);
      chosen.add(chosen.has(t) ? j : t);
    }
    return rng.shuffle([...chosen]);
  }

  /**
   * Persist the store to `dir` (created if needed): append the pixels not yet in its pixel
   * file, flush them to disk, then replace the index. Saving again to the same directory
   * appends only the new images; saving to another directory writes it whole. Saves are
   * serialised; images added while one runs are saved by the next.
   */
  save(dir: string): Promise<void> {
    const run = this.#saving.then(() => this.#save(dir));
    this.#saving = run.catch(() => {});
    return run;
  }

  async #save(dir: string): Promise<void> {
    await Deno.mkdir(dir, { recursive: true });
    const count = this.#n;
    const stride = this.#stride;
    const pixels = this.#pixels.subarray(0, count * stride);
    const indexPath = join(dir, STORE_FILES.index);
    if (this.#savedTo !== dir) {
      // Whatever index is there describes other pixels: without it, a crash while the pixel
      // file is rewritten leaves an empty store, not a mix of two.
      await Deno.remove(indexPath).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }
    const file = await Deno.open(join(dir, STORE_FILES.pixels), {
      read: true,
      write: true,
      create: true,
    });
    try {
      const onDisk = Math.floor((await file.stat()).size / stride);
      // Bytes past the last save are a crashed append; bytes from another store are not ours.
      const kept = this.#savedTo === dir ? Math.min(onDisk, this.#persisted) : 0;
      await file.truncate(kept * stride);
      await file.seek(kept * stride, Deno.SeekMode.Start);
      let offset = kept * stride;
      while (offset < pixels.length) offset += await file.write(pixels.subarray(offset));
      await file.syncData();
    } finally {
      file.close();
    }
    const index: StoreIndex = {
      format: 1,
      size: this.size,
      n: count,
      ids: this.#ids.slice(0, count),
      paths: this.#paths.slice(0, count),
      receivedAt: this.#receivedAt.slice(0, count),
      labels: this.#labels.slice(0, count),
    };
    await writeJsonAtomic(indexPath, index);
    this.#savedTo = dir;
    this.#persisted = count;
  }

  /**
   * The store saved in `dir`: the images its index records, whose pixels are all in the pixel
   * file. Pixel bytes past them (an append a crash cut short) are truncated away; without an
   * index (a crash before the first save finished, or a new directory) the store is empty.
   *
   * @param size side S the store must have.
   * @throws {RangeError} when the index was written for another size or is malformed.
   */
  static async load(dir: string, size: number): Promise<ImageStore> {
    const store = new ImageStore(size);
    const index = await readJsonIfExists(join(dir, STORE_FILES.index), storeIndexSchema());
    if (index !== undefined) checkIndexFile(index, size, dir);
    const recorded = index?.n ?? 0;
    const path = join(dir, STORE_FILES.pixels);
    let pixels: Uint8Array;
    try {
      pixels = await Deno.readFile(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      pixels = new Uint8Array(0);
    }
    const stride = store.#stride;
    const n = Math.min(recorded, Math.floor(pixels.length / stride));
    if (pixels.length > n * stride) await Deno.truncate(path, n * stride);
    store.#reserve(n);
    store.#pixels.set(pixels.subarray(0, n * stride));
    for (let i = 0; i < n; i++) {
      store.#ids.push(index!.ids[i]);
      store.#paths.push(index!.paths[i]);
      store.#receivedAt.push(index!.receivedAt[i]);
      store.#labels.push(index!.labels[i]);
      store.#indexOfId.set(index!.ids[i], i);
    }
    store.#n = n;
    store.#savedTo = dir;
    store.#persisted = n;
    return store;
  }

  #reserve(needed: number): void {
    const capacity = this.#pixels.length / this.#stride;
    if (needed <= capacity) return;
    const grown = new Uint8Array(Math.max(needed, 2 * capacity, 64) * this.#stride);
    grown.set(this.#pixels.subarray(0, this.#n * this.#stride));
    this.#pixels = grown;
  }

  #checkIndex(i: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < this.#n)) {
      throw new RangeError(
        `Cannot read image store: index must be an integer in [0, ${this.#n}), ` +
          `current value is ${i}`,
      );
    }
  }
}

function checkIndexFile(index: StoreIndex, size: number, dir: string): void {
  const where = `Cannot load image store from ${dir}`;
  if (index.format !== 1) {
    throw new RangeError(`${where}: index format must be 1, current value is ${index.format}`);
  }
  if (index.size !== size) {
    throw new RangeError(
      `${where}: it holds images of size ${index.size}, expected ${size}`,
    );
  }
  const n = index.n;
  const lists = [index.ids, index.paths, index.receivedAt, index.labels];
  if (
    !Number.isInteger(n) || n < 0 || lists.some((list) => !Array.isArray(list) || list.length !== n)
  ) {
    throw new RangeError(`${where}: the index is malformed (n = ${n} and its lists disagree)`);
  }
  if (new Set(index.ids).size !== n) {
    throw new RangeError(`${where}: the index lists an id twice`);
  }
}
