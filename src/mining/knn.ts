/**
 * Neighbour mining for SCAN's second stage: the K nearest neighbours of every image by cosine
 * similarity of its pretext features, exact. The similarity matrix is computed block by block
 * with `tf.matMul` (the one O(N^2 D) part, on the backend) and never held whole; the top-K
 * selection runs in plain JS on each block, with a bounded heap per image.
 */
import * as tf from "@tensorflow/tfjs-core";

/** Neighbour lists, `k` per image in row-major order, most similar first. */
export interface Neighbours {
  /** `n * k` image indices; for `mineNeighbours` entry 0 of each list is the image itself. */
  indices: Int32Array;
  /** `n * k` cosine similarities matching `indices`. */
  similarities: Float32Array;
}

/**
 * The `k` nearest neighbours of every image by cosine similarity, the image itself included as
 * the first entry of its own list (also when another image has an identical feature vector), then
 * the `k - 1` most similar other images, ties broken by the lower index.
 *
 * The similarity matrix is symmetric, so only blocks on and above the diagonal are multiplied;
 * each block feeds both its rows' and its columns' lists. Memory is O(n * (dim + k)) plus one
 * `blockSize x blockSize` block.
 *
 * @param features `n x dim` row-major feature vectors (need not be normalised; a zero vector has
 *   similarity 0 to everything).
 * @param n number of images.
 * @param dim feature dimension.
 * @param k list length, self included (paper: 20), in [1, n].
 * @param blockSize rows per block of the similarity matrix.
 * @throws {RangeError} on inconsistent sizes or non-finite features.
 */
export function mineNeighbours(
  features: Float32Array,
  n: number,
  dim: number,
  k = 20,
  blockSize = 1024,
): Neighbours {
  validate("mine neighbours", features, n, dim, k, n, blockSize);
  const unit = normaliseRows(features, n, dim, "mine neighbours");
  const others = new TopK(n, k - 1);
  const selfSimilarity = new Float32Array(n);
  forEachBlock(unit, n, unit, n, dim, blockSize, true, (rowStart, rows, colStart, cols, block) => {
    if (rowStart === colStart) offerDiagonalBlock(others, selfSimilarity, block, rows, rowStart);
    else offerMirroredBlock(others, block, rows, cols, rowStart, colStart);
  });
  return others.toNeighbours((i) => [i, selfSimilarity[i]]);
}

/**
 * The `k` nearest images of a store for each of `m` query vectors (incremental mining of new
 * images against the images already stored). A query that is itself in the store finds itself
 * like any other image, normally first.
 *
 * @param query `m x dim` row-major query vectors.
 * @param m number of queries.
 * @param features `n x dim` row-major store vectors.
 * @param n number of stored images.
 * @param dim feature dimension of both.
 * @param k list length, in [1, n].
 * @param blockSize rows per block of the similarity matrix.
 * @returns `m * k` store indices and similarities.
 * @throws {RangeError} on inconsistent sizes or non-finite vectors.
 */
export function mineNeighboursOf(
  query: Float32Array,
  m: number,
  features: Float32Array,
  n: number,
  dim: number,
  k = 20,
  blockSize = 1024,
): Neighbours {
  validate("mine neighbours", features, n, dim, k, n, blockSize);
  validate("mine neighbours of queries", query, m, dim, 0, 0, blockSize);
  const queries = normaliseRows(query, m, dim, "mine neighbours of queries");
  const store = normaliseRows(features, n, dim, "mine neighbours");
  const nearest = new TopK(m, k);
  const visit: BlockVisitor = (rowStart, rows, colStart, cols, block) =>
    offerRows(nearest, block, rows, cols, rowStart, colStart);
  forEachBlock(queries, m, store, n, dim, blockSize, false, visit);
  return nearest.toNeighbours();
}

// The three scans below are the hot loops of mining (n^2 / 2 similarities for a full mining), kept
// as top-level functions so that the JIT optimises each on its own: in the common case a
// similarity costs one comparison per list it could enter.

/** A block on the diagonal: all pairs of its rows, and their self-similarities. */
function offerDiagonalBlock(
  lists: TopK,
  selfSimilarity: Float32Array,
  block: Float32Array,
  rows: number,
  start: number,
): void {
  const floor = lists.floor;
  for (let r = 0; r < rows; r++) {
    const i = start + r;
    const offset = r * rows;
    selfSimilarity[i] = block[offset + r];
    for (let c = 0; c < rows; c++) {
      if (block[offset + c] >= floor[i] && c !== r) lists.offer(i, block[offset + c], start + c);
    }
  }
}

/** A block above the diagonal, which stands for its mirror image too: rows and columns. */
function offerMirroredBlock(
  lists: TopK,
  block: Float32Array,
  rows: number,
  cols: number,
  rowStart: number,
  colStart: number,
): void {
  const floor = lists.floor;
  for (let r = 0; r < rows; r++) {
    const i = rowStart + r;
    const offset = r * cols;
    let rowFloor = floor[i];
    for (let c = 0; c < cols; c++) {
      const s = block[offset + c];
      if (s >= rowFloor) {
        lists.offer(i, s, colStart + c);
        rowFloor = floor[i];
      }
      if (s >= floor[colStart + c]) lists.offer(colStart + c, s, i);
    }
  }
}

/** A block of queries against stored images: rows only. */
function offerRows(
  lists: TopK,
  block: Float32Array,
  rows: number,
  cols: number,
  rowStart: number,
  colStart: number,
): void {
  const floor = lists.floor;
  for (let r = 0; r < rows; r++) {
    const i = rowStart + r;
    const offset = r * cols;
    let rowFloor = floor[i];
    for (let c = 0; c < cols; c++) {
      if (block[offset + c] >= rowFloor) {
        lists.offer(i, block[offset + c], colStart + c);
        rowFloor = floor[i];
      }
    }
  }
}

/** Receives one `rows x cols` block of similarities, row-major, at (rowStart, colStart). */
type BlockVisitor = (
  rowStart: number,
  rows: number,
  colStart: number,
  cols: number,
  block: Float32Array,
) => void;

/**
 * Call `visit` with each block of `left x right^T`. With `upperOnly` (left and right the same
 * matrix) only blocks on or above the diagonal are computed.
 */
function forEachBlock(
  left: Float32Array,
  leftRows: number,
  right: Float32Array,
  rightRows: number,
  dim: number,
  blockSize: number,
  upperOnly: boolean,
  visit: BlockVisitor,
): void {
  const leftBlocks: tf.Tensor2D[] = [];
  const rightBlocks: tf.Tensor2D[] = [];
  try {
    for (let start = 0; start < leftRows; start += blockSize) {
      const rows = Math.min(blockSize, leftRows - start);
      leftBlocks.push(tf.tensor2d(left.subarray(start * dim, (start + rows) * dim), [rows, dim]));
    }
    // Stored transposed: the wasm matMul with transposeB is an order of magnitude slower.
    for (let start = 0; start < rightRows; start += blockSize) {
      const cols = Math.min(blockSize, rightRows - start);
      const transposed = new Float32Array(dim * cols);
      for (let c = 0; c < cols; c++) {
        for (let d = 0; d < dim; d++) transposed[d * cols + c] = right[(start + c) * dim + d];
      }
      rightBlocks.push(tf.tensor2d(transposed, [dim, cols]));
    }
    for (let I = 0; I < leftBlocks.length; I++) {
      for (let J = upperOnly ? I : 0; J < rightBlocks.length; J++) {
        const product = tf.matMul(leftBlocks[I], rightBlocks[J]);
        const block = product.dataSync() as Float32Array;
        product.dispose();
        visit(I * blockSize, leftBlocks[I].shape[0], J * blockSize, rightBlocks[J].shape[1], block);
      }
    }
  } finally {
    tf.dispose(leftBlocks);
    tf.dispose(rightBlocks);
  }
}

/**
 * A bounded min-heap of (similarity, index) per row keeping the `capacity` best candidates:
 * higher similarity first, then lower index. `floor[row]` is the similarity a candidate must
 * reach to be considered (the worst kept one once full), so the scan loop rejects most
 * candidates with one comparison.
 */
class TopK {
  readonly floor: Float64Array;
  readonly #similarities: Float32Array;
  readonly #indices: Int32Array;
  readonly #sizes: Int32Array;

  constructor(readonly rows: number, readonly capacity: number) {
    this.floor = new Float64Array(rows).fill(capacity === 0 ? Infinity : -Infinity);
    this.#similarities = new Float32Array(rows * capacity);
    this.#indices = new Int32Array(rows * capacity);
    this.#sizes = new Int32Array(rows);
  }

  offer(row: number, similarity: number, index: number): void {
    const base = row * this.capacity;
    const sims = this.#similarities;
    const ids = this.#indices;
    const size = this.#sizes[row];
    if (size < this.capacity) {
      let at = size;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (!worse(similarity, index, sims[base + parent], ids[base + parent])) break;
        sims[base + at] = sims[base + parent];
        ids[base + at] = ids[base + parent];
        at = parent;
      }
      sims[base + at] = similarity;
      ids[base + at] = index;
      this.#sizes[row] = size + 1;
      if (size + 1 === this.capacity) this.floor[row] = sims[base];
      return;
    }
    if (worse(similarity, index, sims[base], ids[base])) return;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= size) break;
      const right = left + 1;
      const child = right < size &&
          worse(sims[base + right], ids[base + right], sims[base + left], ids[base + left])
        ? right
        : left;
      if (!worse(sims[base + child], ids[base + child], similarity, index)) break;
      sims[base + at] = sims[base + child];
      ids[base + at] = ids[base + child];
      at = child;
    }
    sims[base + at] = similarity;
    ids[base + at] = index;
    this.floor[row] = sims[base];
  }

  /** Sorted lists, best first, after an optional fixed first entry per row. */
  toNeighbours(first?: (row: number) => [number, number]): Neighbours {
    const lead = first ? 1 : 0;
    const k = this.capacity + lead;
    const indices = new Int32Array(this.rows * k);
    const similarities = new Float32Array(this.rows * k);
    for (let row = 0; row < this.rows; row++) {
      const base = row * this.capacity;
      const size = this.#sizes[row];
      const order = Array.from({ length: size }, (_, e) => e).sort((a, b) =>
        this.#similarities[base + b] - this.#similarities[base + a] ||
        this.#indices[base + a] - this.#indices[base + b]
      );
      if (first) [indices[row * k], similarities[row * k]] = first(row);
      order.forEach((entry, rank) => {
        indices[row * k + lead + rank] = this.#indices[base + entry];
        similarities[row * k + lead + rank] = this.#similarities[base + entry];
      });
    }
    return { indices, similarities };
  }
}

/** Whether candidate a ranks below candidate b. */
function worse(simA: number, indexA: number, simB: number, indexB: number): boolean {
  return simA < simB || (simA === simB && indexA > indexB);
}

/** Unit-length copies of the rows; zero rows stay zero. */
function normaliseRows(
  values: Float32Array,
  rows: number,
  dim: number,
  action: string,
): Float32Array {
  const unit = new Float32Array(rows * dim);
  for (let row = 0; row < rows; row++) {
    let squares = 0;
    for (let d = 0; d < dim; d++) {
      const v = values[row * dim + d];
      if (!Number.isFinite(v)) {
        throw new RangeError(
          `Cannot ${action}: features must be finite, current value of image ${row} is ${v}`,
        );
      }
      squares += v * v;
    }
    const scale = squares > 0 ? 1 / Math.sqrt(squares) : 0;
    for (let d = 0; d < dim; d++) unit[row * dim + d] = values[row * dim + d] * scale;
  }
  return unit;
}

function validate(
  action: string,
  values: Float32Array,
  rows: number,
  dim: number,
  k: number,
  maxK: number,
  blockSize: number,
): void {
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(dim) || dim < 1) {
    throw new RangeError(
      `Cannot ${action}: the number of vectors and their dimension must be positive integers, ` +
        `current values are ${rows} and ${dim}`,
    );
  }
  if (values.length !== rows * dim) {
    throw new RangeError(
      `Cannot ${action}: expected ${rows} x ${dim} = ${rows * dim} values, ` +
        `current length is ${values.length}`,
    );
  }
  if (maxK > 0 && !(Number.isInteger(k) && k >= 1 && k <= maxK)) {
    throw new RangeError(
      `Cannot ${action}: k must be between 1 and the number of images (${maxK}), ` +
        `current value is ${k}`,
    );
  }
  if (!Number.isInteger(blockSize) || blockSize < 1) {
    throw new RangeError(
      `Cannot ${action}: blockSize must be a positive integer, current value is ${blockSize}`,
    );
  }
}
