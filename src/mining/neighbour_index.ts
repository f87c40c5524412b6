/**
 * Exact cosine kNN over a store that keeps growing: the streaming form of SCAN's mining step.
 * A new image gets its K neighbours and enters the lists of the images it is now closer to than
 * their current K-th neighbour, so the lists stay exactly those of a full re-mine (ties aside)
 * at O(N * dim) per image instead of O(N^2 * dim). A full re-mine (`replaceAll`, `remine`) is
 * only needed when the backbone, and with it every feature, has changed.
 */
import * as tf from "@tensorflow/tfjs-core";
import { mineNeighbours, type Neighbours } from "./knn.ts";

/** What adding one image did. */
export interface Addition {
  /** Index of the new image in the store. */
  index: number;
  /** Its neighbour list, itself first: `min(k, size)` store indices, most similar first. */
  neighbours: Int32Array;
  /** Cosine similarities matching `neighbours`. */
  similarities: Float32Array;
  /** Ascending indices of the images already stored whose lists the new image entered. */
  updated: number[];
}

/** What adding a batch of images did; the same as adding them one by one in order. */
export interface BatchAddition {
  /** Indices of the new images, consecutive, in the order given. */
  indices: Int32Array;
  /** Entries per list, `min(k, size)` after the batch. */
  listLength: number;
  /** The new images' lists after the whole batch, `indices.length * listLength`, row-major. */
  neighbours: Int32Array;
  /** Cosine similarities matching `neighbours`. */
  similarities: Float32Array;
  /** Ascending indices of the images stored before the batch whose lists changed. */
  updated: number[];
}

/** Options of `NeighbourIndex`. */
export interface NeighbourIndexOptions {
  /**
   * Multiply-adds (store size x batch size x dim) from which similarities are computed with
   * `tf.matMul` rather than plain JS. Default 2^19.
   */
  matMulMinWork?: number;
  /** Rows per chunk of the features kept on the backend for `tf.matMul`. Default 4096. */
  chunkRows?: number;
  /** Most similarities in one product read back from the backend. Default 2^21. */
  blockValues?: number;
}

/**
 * Below this many multiply-adds similarities are computed in plain JS; above it with
 * `tf.matMul`, whose fixed cost (uploads, the call, reading back) is then repaid. Measured on
 * the wasm backend at dim 128 (2 shared cores): uploading the store per call, one query is no
 * faster than JS, while 4 queries are 2.5x (N = 1k) and 16 queries 9x (N = 50k) faster; against
 * chunks kept on the backend one query is about 4x faster (117 vs 460 ns per stored image).
 */
const MATMUL_MIN_WORK = 1 << 19;
/** Similarities per `tf.matMul` block (rows x batch), bounding the memory of one block. */
const BLOCK_VALUES = 1 << 21;
/** Rows of the store per feature chunk kept on the backend (wasm: 4096 beat 2048 and 1024). */
const CHUNK_ROWS = 4096;
const MAGIC = 0x58494e53; // "SNIX" read as a little-endian u32
const FORMAT_VERSION = 1;
const HEADER_BYTES = 24;

/**
 * Incremental exact cosine k-nearest-neighbour index. Features are stored L2-normalised in one
 * growable `Float32Array` (capacity doubles); each image's list holds itself first, then the
 * `k - 1` most similar other images, ties broken by the lower index, like `mineNeighbours`.
 * Until the store holds `k` images every list holds all of them.
 */
export class NeighbourIndex {
  readonly dim: number;
  readonly k: number;
  readonly #matMulMinWork: number;
  readonly #chunkRows: number;
  readonly #blockValues: number;
  #size = 0;
  #capacity = 0;
  #ids: string[] = [];
  #indexOfId = new Map<string, number>();
  #features = new Float32Array(0);
  /** `capacity * k`: list of image i in slots [i * k, i * k + min(k, size)). */
  #neighbours = new Int32Array(0);
  #similarities = new Float32Array(0);
  /** Full chunks of the features on the backend, transposed; a cache that `dispose` frees. */
  #chunks: tf.Tensor2D[] = [];

  /**
   * @param dim feature dimension.
   * @param k list length, the image itself included (paper: 20).
   * @param options tuning, for benchmarks and tests.
   * @throws {RangeError} when either is not a positive integer.
   */
  constructor(dim: number, k: number, options: NeighbourIndexOptions = {}) {
    if (!Number.isInteger(dim) || dim < 1) {
      throw new RangeError(
        `Cannot create neighbour index: dim must be a positive integer, current value is ${dim}`,
      );
    }
    if (!Number.isInteger(k) || k < 1) {
      throw new RangeError(
        `Cannot create neighbour index: k must be a positive integer, current value is ${k}`,
      );
    }
    this.dim = dim;
    this.k = k;
    this.#matMulMinWork = options.matMulMinWork ?? MATMUL_MIN_WORK;
    this.#chunkRows = options.chunkRows ?? CHUNK_ROWS;
    this.#blockValues = options.blockValues ?? BLOCK_VALUES;
    for (
      const [name, value] of [["chunkRows", this.#chunkRows], ["blockValues", this.#blockValues]]
    ) {
      if (!Number.isInteger(value) || (value as number) < 1) {
        throw new RangeError(
          `Cannot create neighbour index: ${name} must be a positive integer, current value is ${value}`,
        );
      }
    }
  }

  /** Number of images stored. */
  get size(): number {
    return this.#size;
  }

  /** Entries in every list now: `min(k, size)`. */
  get listLength(): number {
    return Math.min(this.k, this.#size);
  }

  /** Id of image `i`. */
  idOf(i: number): string {
    this.#checkIndex(i);
    return this.#ids[i];
  }

  /** Index of the image with id `id`, or -1. */
  indexOf(id: string): number {
    return this.#indexOfId.get(id) ?? -1;
  }

  /** Whether an image with id `id` is stored. */
  has(id: string): boolean {
    return this.#indexOfId.has(id);
  }

  /** A copy of the L2-normalised feature of image `i`. */
  featureOf(i: number): Float32Array {
    this.#checkIndex(i);
    return this.#features.slice(i * this.dim, (i + 1) * this.dim);
  }

  /** A copy of the list of image `i`: itself first, then the most similar images. */
  neighboursOf(i: number): { indices: Int32Array; similarities: Float32Array } {
    this.#checkIndex(i);
    const start = i * this.k;
    const end = start + this.listLength;
    return {
      indices: this.#neighbours.slice(start, end),
      similarities: this.#similarities.slice(start, end),
    };
  }

  /**
   * Copies of all lists, `size * listLength` row-major, in the layout of `mineNeighbours` (what
   * the SCAN stage draws (anchor, neighbour) pairs from).
   */
  lists(): { indices: Int32Array; similarities: Float32Array; listLength: number } {
    const length = this.listLength;
    const indices = new Int32Array(this.#size * length);
    const similarities = new Float32Array(this.#size * length);
    for (let i = 0; i < this.#size; i++) {
      indices.set(this.#neighbours.subarray(i * this.k, i * this.k + length), i * length);
      similarities.set(this.#similarities.subarray(i * this.k, i * this.k + length), i * length);
    }
    return { indices, similarities, listLength: length };
  }

  /**
   * Add one image: it gets its own list and enters the lists it now belongs to.
   *
   * @param id a new id (content hash).
   * @param feature `dim` values, finite; need not be normalised (a zero vector has similarity 0
   *   to everything).
   * @throws {RangeError} on a known id, a wrong length or a non-finite value.
   */
  add(id: string, feature: Float32Array): Addition {
    const batch = this.addBatch([id], feature, 1);
    return {
      index: batch.indices[0],
      neighbours: batch.neighbours,
      similarities: batch.similarities,
      updated: batch.updated,
    };
  }

  /**
   * Add `n` images at once, with the same result as adding them one by one in order; the
   * similarities to the store come from one pass of `tf.matMul` (plain JS when the work is small).
   *
   * @param ids `n` new, distinct ids.
   * @param features `n x dim` row-major.
   * @param n number of images.
   * @throws {RangeError} on a known or repeated id, wrong lengths or a non-finite value; the
   *   index is unchanged.
   */
  addBatch(ids: readonly string[], features: Float32Array, n: number): BatchAddition {
    this.#validateBatch(ids, features, n);
    const before = this.#size;
    const total = before + n;
    this.#reserve(total);
    normaliseInto(features, n, this.dim, this.#features, before);
    ids.forEach((id, t) => {
      this.#ids.push(id);
      this.#indexOfId.set(id, before + t);
    });
    this.#size = total;

    const k = this.k;
    const length = Math.min(k, total);
    // The new images' lists grow in a scratch area first: their length while the batch is
    // processed differs from the final one, which is what the stride of the store assumes.
    const fresh = new Int32Array(n * k);
    const freshSims = new Float32Array(n * k);
    const freshLengths = new Int32Array(n).fill(1);
    for (let t = 0; t < n; t++) fresh[t * k] = before + t;
    const changed = new Uint8Array(before);

    const lists = this.#neighbours;
    const listSims = this.#similarities;
    this.#forEachSimilarityBlock(before, n, (block) => {
      const { rowStart, rows, colStart, cols, values, rowStride, colStride } = block;
      for (let r = 0; r < rows; r++) {
        const x = rowStart + r;
        const offset = r * rowStride - colStart * colStride;
        if (x < before) {
          const last = x * k + k - 1;
          for (let t = colStart; t < colStart + cols; t++) {
            const s = values[offset + t * colStride];
            // The tests against a full list's last entry save a call in the common case.
            if (freshLengths[t] < k || s > freshSims[t * k + k - 1]) {
              const grown = offer(fresh, freshSims, t * k, freshLengths[t], k, s, x);
              if (grown) freshLengths[t] = grown;
            }
            // The list of x holds min(k, before + t) entries when image before + t arrives.
            const held = Math.min(k, before + t);
            if (
              (held < k || s > listSims[last]) &&
              offer(lists, listSims, x * k, held, k, s, before + t)
            ) {
              changed[x] = 1;
            }
          }
          continue;
        }
        // A pair of new images is read once, from the row of the earlier one, so both lists see
        // the same value; offers still reach every list in ascending index order.
        const u = x - before;
        if (u >= colStart && u < colStart + cols) freshSims[u * k] = values[offset + u * colStride];
        for (let t = Math.max(u + 1, colStart); t < colStart + cols; t++) {
          const s = values[offset + t * colStride];
          const grownT = offer(fresh, freshSims, t * k, freshLengths[t], k, s, x);
          if (grownT) freshLengths[t] = grownT;
          const grownU = offer(fresh, freshSims, u * k, freshLengths[u], k, s, before + t);
          if (grownU) freshLengths[u] = grownU;
        }
      }
    });

    for (let t = 0; t < n; t++) {
      this.#neighbours.set(fresh.subarray(t * k, t * k + length), (before + t) * k);
      this.#similarities.set(freshSims.subarray(t * k, t * k + length), (before + t) * k);
    }
    const neighbours = new Int32Array(n * length);
    const similarities = new Float32Array(n * length);
    for (let t = 0; t < n; t++) {
      neighbours.set(fresh.subarray(t * k, t * k + length), t * length);
      similarities.set(freshSims.subarray(t * k, t * k + length), t * length);
    }
    const updated: number[] = [];
    changed.forEach((flag, x) => flag && updated.push(x));
    return {
      indices: Int32Array.from({ length: n }, (_, t) => before + t),
      listLength: length,
      neighbours,
      similarities,
      updated,
    };
  }

  /**
   * Replace every feature (the backbone changed) and re-mine all lists in full.
   *
   * @param features `size x dim` row-major, in index order.
   * @param mined the lists `mineNeighbours` gives for these features, when another thread mined
   *   them (the stream's training pool); without them they are mined here.
   * @throws {RangeError} on a wrong length or a non-finite value; the index is unchanged.
   */
  replaceAll(features: Float32Array, mined?: Neighbours): void {
    if (features.length !== this.#size * this.dim) {
      throw new RangeError(
        `Cannot replace neighbour index features: expected ${this.#size} x ${this.dim} = ` +
          `${this.#size * this.dim} values, current length is ${features.length}`,
      );
    }
    checkFinite(features, this.dim, "replace neighbour index features");
    const length = this.listLength;
    if (mined !== undefined && mined.indices.length !== this.#size * length) {
      throw new RangeError(
        `Cannot replace neighbour lists: expected ${this.#size} x ${length} entries, ` +
          `current length is ${mined.indices.length}`,
      );
    }
    this.dispose();
    normaliseInto(features, this.#size, this.dim, this.#features, 0);
    if (mined === undefined) this.remine();
    else this.#setLists(mined);
  }

  /**
   * Keep only the first `n` images (ids, features); their lists must be replaced next
   * (`replaceAll`), since they may name the images dropped. For a re-mine made on the first `n`
   * images while later ones arrived: those are added again after it, incrementally.
   *
   * @throws {RangeError} when `n` is not in [0, size].
   */
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.#size) {
      throw new RangeError(
        `Cannot truncate neighbour index: n must be in [0, ${this.#size}], current value is ${n}`,
      );
    }
    this.dispose();
    for (const id of this.#ids.splice(n)) this.#indexOfId.delete(id);
    this.#size = n;
  }

  /**
   * Free the features cached on the backend for `tf.matMul`. The index stays usable (the cache
   * is rebuilt when needed); call it when dropping the index.
   */
  dispose(): void {
    tf.dispose(this.#chunks);
    this.#chunks = [];
  }

  /** Re-mine every list from the stored features with the blocked exact `mineNeighbours`. */
  remine(): void {
    if (this.#size === 0) return;
    this.#setLists(
      mineNeighbours(
        this.#features.subarray(0, this.#size * this.dim),
        this.#size,
        this.dim,
        this.listLength,
      ),
    );
  }

  /** Store full lists of `listLength` entries per image (as `mineNeighbours` gives them). */
  #setLists(mined: Neighbours): void {
    const length = this.listLength;
    for (let i = 0; i < this.#size; i++) {
      this.#neighbours.set(mined.indices.subarray(i * length, (i + 1) * length), i * this.k);
      this.#similarities.set(mined.similarities.subarray(i * length, (i + 1) * length), i * this.k);
    }
  }

  /**
   * The whole index as bytes, for persistence: a little-endian header (magic, format version,
   * dim, k, size, byte length of the ids), the ids as JSON padded to 4 bytes, then the features
   * (float32, size x dim), the lists (int32, size x listLength) and their similarities (float32).
   */
  toBytes(): Uint8Array {
    const size = this.#size;
    const idBytes = new TextEncoder().encode(JSON.stringify(this.#ids));
    const idsPadded = Math.ceil(idBytes.length / 4) * 4;
    const lists = this.lists();
    const arrays = [this.#features.subarray(0, size * this.dim), lists.indices, lists.similarities];
    const total = HEADER_BYTES + idsPadded + arrays.reduce((sum, a) => sum + a.byteLength, 0);
    const bytes = new Uint8Array(total);
    const header = new DataView(bytes.buffer);
    [MAGIC, FORMAT_VERSION, this.dim, this.k, size, idBytes.length].forEach((value, i) =>
      header.setUint32(4 * i, value, true)
    );
    bytes.set(idBytes, HEADER_BYTES);
    let offset = HEADER_BYTES + idsPadded;
    for (const array of arrays) {
      bytes.set(rawBytes(array), offset);
      offset += array.byteLength;
    }
    return bytes;
  }

  /**
   * An index from the bytes of `toBytes`.
   *
   * @throws {RangeError} when the bytes are not a neighbour index of this format or are
   *   inconsistent (truncated, out-of-range neighbours, duplicate ids).
   */
  static fromBytes(bytes: Uint8Array): NeighbourIndex {
    const fail = (why: string): never => {
      throw new RangeError(`Cannot read neighbour index: ${why}`);
    };
    if (bytes.length < HEADER_BYTES) {
      fail(`expected at least ${HEADER_BYTES} bytes, got ${bytes.length}`);
    }
    const header = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
    const [magic, version, dim, k, size, idLength] = Array.from(
      { length: 6 },
      (_, i) => header.getUint32(4 * i, true),
    );
    if (magic !== MAGIC) fail("not a neighbour index (wrong magic number)");
    if (version !== FORMAT_VERSION) {
      fail(`format version must be ${FORMAT_VERSION}, current value is ${version}`);
    }
    if (dim < 1 || k < 1) fail(`dim and k must be positive, current values are ${dim} and ${k}`);
    const index = new NeighbourIndex(dim, k);
    const length = Math.min(k, size);
    const idsPadded = Math.ceil(idLength / 4) * 4;
    const expected = HEADER_BYTES + idsPadded + 4 * size * (dim + 2 * length);
    if (bytes.length !== expected) {
      fail(`expected ${expected} bytes for ${size} images, got ${bytes.length}`);
    }
    let ids: unknown;
    try {
      ids = JSON.parse(
        new TextDecoder().decode(bytes.subarray(HEADER_BYTES, HEADER_BYTES + idLength)),
      );
    } catch (error) {
      throw new RangeError("Cannot read neighbour index: the ids are not valid JSON", {
        cause: error,
      });
    }
    if (!Array.isArray(ids) || ids.length !== size || ids.some((id) => typeof id !== "string")) {
      fail(`expected ${size} string ids`);
    }
    let offset = HEADER_BYTES + idsPadded;
    const features = readArray(bytes, offset, size * dim, Float32Array);
    offset += features.byteLength;
    const neighbours = readArray(bytes, offset, size * length, Int32Array);
    offset += neighbours.byteLength;
    const similarities = readArray(bytes, offset, size * length, Float32Array);
    for (let i = 0; i < size; i++) {
      if (neighbours[i * length] !== i) fail(`image ${i} is not first in its own list`);
      for (let e = 0; e < length; e++) {
        const j = neighbours[i * length + e];
        if (!(j >= 0 && j < size)) fail(`neighbour ${j} of image ${i} is out of range`);
      }
    }
    checkFinite(features, dim, "read neighbour index");
    checkFinite(similarities, length || 1, "read neighbour index");
    index.#reserve(size);
    index.#features.set(features);
    for (let i = 0; i < size; i++) {
      index.#neighbours.set(neighbours.subarray(i * length, (i + 1) * length), i * k);
      index.#similarities.set(similarities.subarray(i * length, (i + 1) * length), i * k);
    }
    (ids as string[]).forEach((id, i) => {
      if (index.#indexOfId.has(id)) fail(`id ${id} appears twice`);
      index.#ids.push(id);
      index.#indexOfId.set(id, i);
    });
    index.#size = size;
    return index;
  }

  /**
   * Call `visit` with blocks of the similarities between every stored image (rows, the new ones
   * last) and the `n` new ones (columns): rows [rowStart, rowStart + rows), the similarity of row
   * `rowStart + r` and new image `before + t` at `block[r * rowStride + t * colStride]`. Rows of
   * new images are only read at and right of their own column.
   *
   * Small work runs in plain JS. Otherwise the full chunks of the store are multiplied where they
   * live, transposed on the backend (`[n, dim] x [dim, CHUNK_ROWS]`: for one query about 4x the
   * speed of plain JS on wasm, and no upload of the store per call), and the rows after them
   * (fewer than a chunk, plus the new ones) are uploaded as one block.
   */
  #forEachSimilarityBlock(
    before: number,
    n: number,
    visit: (block: SimilarityBlock) => void,
  ): void {
    const dim = this.dim;
    const total = before + n;
    const store = this.#features;
    if (total * n * dim < this.#matMulMinWork) {
      forEachJsBlock(store, before, n, dim, 0, total, visit);
      return;
    }
    // Column groups bound the memory of one product; each list still sees its offers in
    // ascending index order (see addBatch), group after group.
    const group = Math.max(1, Math.min(n, Math.floor(this.#blockValues / this.#chunkRows)));
    const chunks = Math.floor(before / this.#chunkRows);
    const restStart = chunks * this.#chunkRows;
    for (let colStart = 0; colStart < n; colStart += group) {
      const cols = Math.min(group, n - colStart);
      const queryStart = (before + colStart) * dim;
      const queries = store.subarray(queryStart, queryStart + cols * dim);
      const rowQueries = tf.tensor2d(queries, [cols, dim]);
      try {
        for (let c = 0; c < chunks; c++) {
          const values = multiply(rowQueries, this.#chunk(c));
          const rows = this.#chunkRows;
          visit({
            rowStart: c * rows,
            rows,
            colStart,
            cols,
            values,
            rowStride: 1,
            colStride: rows,
          });
        }
      } finally {
        rowQueries.dispose();
      }
      if (n === 1) {
        // A lone query against the rows after the chunks: uploading them costs as much as the
        // products in JS.
        forEachJsBlock(store, before, n, dim, restStart, total, visit);
        continue;
      }
      // Stored transposed: the wasm matMul with transposeB is an order of magnitude slower.
      const transposed = new Float32Array(dim * cols);
      for (let t = 0; t < cols; t++) {
        for (let d = 0; d < dim; d++) transposed[d * cols + t] = queries[t * dim + d];
      }
      const columnQueries = tf.tensor2d(transposed, [dim, cols]);
      try {
        const rowsPerBlock = Math.max(1, Math.floor(this.#blockValues / cols));
        for (let rowStart = restStart; rowStart < total; rowStart += rowsPerBlock) {
          const rows = Math.min(rowsPerBlock, total - rowStart);
          const left = tf.tensor2d(store.subarray(rowStart * dim, (rowStart + rows) * dim), [
            rows,
            dim,
          ]);
          const values = multiply(left, columnQueries);
          left.dispose();
          visit({ rowStart, rows, colStart, cols, values, rowStride: cols, colStride: 1 });
        }
      } finally {
        columnQueries.dispose();
      }
    }
  }

  /** Chunk `c` of the stored features on the backend, transposed: [dim, chunkRows]. */
  #chunk(c: number): tf.Tensor2D {
    while (this.#chunks.length <= c) {
      const start = this.#chunks.length * this.#chunkRows;
      const transposed = new Float32Array(this.dim * this.#chunkRows);
      for (let r = 0; r < this.#chunkRows; r++) {
        for (let d = 0; d < this.dim; d++) {
          transposed[d * this.#chunkRows + r] = this.#features[(start + r) * this.dim + d];
        }
      }
      this.#chunks.push(tf.tensor2d(transposed, [this.dim, this.#chunkRows]));
    }
    return this.#chunks[c];
  }

  #reserve(needed: number): void {
    if (needed <= this.#capacity) return;
    const capacity = Math.max(needed, 2 * this.#capacity, 16);
    const features = new Float32Array(capacity * this.dim);
    features.set(this.#features);
    const neighbours = new Int32Array(capacity * this.k);
    neighbours.set(this.#neighbours);
    const similarities = new Float32Array(capacity * this.k);
    similarities.set(this.#similarities);
    this.#features = features;
    this.#neighbours = neighbours;
    this.#similarities = similarities;
    this.#capacity = capacity;
  }

  #checkIndex(i: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < this.#size)) {
      throw new RangeError(
        `Cannot read neighbour index: image index must be an integer in [0, ${this.#size}), ` +
          `current value is ${i}`,
      );
    }
  }

  #validateBatch(ids: readonly string[], features: Float32Array, n: number): void {
    const action = "add to neighbour index";
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(
        `Cannot ${action}: the number of images must be a positive integer, current value is ${n}`,
      );
    }
    if (ids.length !== n) {
      throw new RangeError(`Cannot ${action}: expected ${n} ids, current length is ${ids.length}`);
    }
    if (features.length !== n * this.dim) {
      throw new RangeError(
        `Cannot ${action}: expected ${n} x ${this.dim} = ${n * this.dim} feature values, ` +
          `current length is ${features.length}`,
      );
    }
    const seen = new Set<string>();
    for (const id of ids) {
      if (typeof id !== "string") {
        throw new TypeError(`Cannot ${action}: ids must be strings, current value is ${id}`);
      }
      if (this.#indexOfId.has(id) || seen.has(id)) {
        throw new RangeError(`Cannot ${action}: id ${id} is already in the index`);
      }
      seen.add(id);
    }
    checkFinite(features, this.dim, action);
  }
}

/**
 * Offer candidate `index` with `similarity` to the list at `base` holding `length` entries (slot
 * 0 is the image itself and never moves). Candidates arrive in ascending index order, so one
 * that ties an entry ranks after it, and a full list takes it only when it beats the last entry.
 *
 * @returns the list's new length when the candidate entered it, 0 when it did not.
 */
function offer(
  indices: Int32Array,
  similarities: Float32Array,
  base: number,
  length: number,
  k: number,
  similarity: number,
  index: number,
): number {
  let at = length;
  if (length === k) {
    if (k === 1 || !(similarity > similarities[base + k - 1])) return 0;
    at = k - 1;
  }
  while (at > 1 && similarities[base + at - 1] < similarity) {
    indices[base + at] = indices[base + at - 1];
    similarities[base + at] = similarities[base + at - 1];
    at--;
  }
  indices[base + at] = index;
  similarities[base + at] = similarity;
  return length === k ? k : length + 1;
}

/** The product of two backend matrices, read back. */
function multiply(left: tf.Tensor2D, right: tf.Tensor2D): Float32Array {
  const product = tf.matMul(left, right);
  const values = product.dataSync() as Float32Array;
  product.dispose();
  return values;
}

/**
 * Similarities of stored images (rows) and new ones (columns): the similarity of image
 * `rowStart + r` and new image `before + colStart + c` is `values[r * rowStride + c * colStride]`.
 */
interface SimilarityBlock {
  rowStart: number;
  rows: number;
  colStart: number;
  cols: number;
  values: Float32Array;
  rowStride: number;
  colStride: number;
}

/** `visit` blocks of similarities computed in plain JS, for rows [from, total), all columns. */
function forEachJsBlock(
  store: Float32Array,
  before: number,
  n: number,
  dim: number,
  from: number,
  total: number,
  visit: (block: SimilarityBlock) => void,
): void {
  const rowsPerBlock = Math.max(1, Math.floor(4096 / n));
  const values = new Float32Array(rowsPerBlock * n);
  const newStart = before * dim;
  for (let rowStart = from; rowStart < total; rowStart += rowsPerBlock) {
    const rows = Math.min(rowsPerBlock, total - rowStart);
    for (let r = 0; r < rows; r++) {
      const x = rowStart + r;
      for (let t = Math.max(0, x - before); t < n; t++) {
        values[r * n + t] = dot(store, x * dim, store, newStart + t * dim, dim);
      }
    }
    visit({ rowStart, rows, colStart: 0, cols: n, values, rowStride: n, colStride: 1 });
  }
}

/** Dot product of two `dim`-vectors inside float32 arrays. */
function dot(
  a: Float32Array,
  aStart: number,
  b: Float32Array,
  bStart: number,
  dim: number,
): number {
  // Four accumulators break the dependency chain of one running sum: about 2x in V8.
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let d = 0;
  for (; d + 3 < dim; d += 4) {
    s0 += a[aStart + d] * b[bStart + d];
    s1 += a[aStart + d + 1] * b[bStart + d + 1];
    s2 += a[aStart + d + 2] * b[bStart + d + 2];
    s3 += a[aStart + d + 3] * b[bStart + d + 3];
  }
  for (; d < dim; d++) s0 += a[aStart + d] * b[bStart + d];
  return s0 + s1 + s2 + s3;
}

/** Write unit-length copies of `rows` rows of `values` into `target` from row `startRow`. */
function normaliseInto(
  values: Float32Array,
  rows: number,
  dim: number,
  target: Float32Array,
  startRow: number,
): void {
  for (let row = 0; row < rows; row++) {
    let squares = 0;
    for (let d = 0; d < dim; d++) squares += values[row * dim + d] ** 2;
    const scale = squares > 0 ? 1 / Math.sqrt(squares) : 0;
    const out = (startRow + row) * dim;
    for (let d = 0; d < dim; d++) target[out + d] = values[row * dim + d] * scale;
  }
}

function checkFinite(values: Float32Array, dim: number, action: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RangeError(
        `Cannot ${action}: features must be finite, current value of image ` +
          `${Math.floor(i / dim)} is ${values[i]}`,
      );
    }
  }
}

/** The raw bytes of a typed array (little-endian: the byte order of every platform Deno runs on). */
function rawBytes(array: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** `count` 4-byte values copied out of `bytes` from `offset` (which need not be aligned). */
function readArray<T extends Float32Array | Int32Array>(
  bytes: Uint8Array,
  offset: number,
  count: number,
  type: { new (length: number): T },
): T {
  const out = new type(count);
  rawBytes(out).set(bytes.subarray(offset, offset + 4 * count));
  return out;
}
