/**
 * The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a big-endian
 * header (two zero bytes, a type code, the number of dimensions, one 32-bit size per dimension)
 * followed by the data. A data set is named by its prefix: `<prefix>-images-idx3-ubyte` and
 * `<prefix>-labels-idx1-ubyte`, each optionally gzipped (`.gz`).
 */

/** A set of gray images with their labels. */
export interface IdxDataset {
  /** n * rows * cols bytes, row-major, 0 = background. */
  images: Uint8Array;
  /** n class indices. */
  labels: Uint8Array;
  n: number;
  rows: number;
  cols: number;
}

/** The unsigned-byte type code, the only one images and labels use. */
const UBYTE = 0x08;

/**
 * Resolve a data set name: strips an `idx:` scheme and maps the split `test` to Fashion-MNIST's
 * file prefix `t10k`.
 */
export function idxPrefix(source: string): string {
  const prefix = source.startsWith("idx:") ? source.slice(4) : source;
  return prefix.replace(/(^|\/)test$/, "$1t10k");
}

/**
 * Read images and labels for `prefix` (e.g. `/usr/share/datasets/fashion-mnist/train`, also as
 * `idx:...`; `.../test` is an alias of `.../t10k`). Plain files are preferred over `.gz`.
 *
 * @throws {Deno.errors.NotFound} when neither form of a file exists; {TypeError} when a file is
 *   not IDX of the expected shape or images and labels disagree in count.
 */
export async function readIdx(prefix: string): Promise<IdxDataset> {
  const base = idxPrefix(prefix);
  const imageFile = await readMaybeGzipped(`${base}-images-idx3-ubyte`);
  const labelFile = await readMaybeGzipped(`${base}-labels-idx1-ubyte`);
  const images = parseIdx(imageFile.bytes, imageFile.path, 3);
  const labels = parseIdx(labelFile.bytes, labelFile.path, 1);
  const [n, rows, cols] = images.dims;
  if (labels.dims[0] !== n) {
    throw new TypeError(
      `Cannot read IDX data set ${base}: ${n} images but ${labels.dims[0]} labels`,
    );
  }
  return { images: images.data, labels: labels.data, n, rows, cols };
}

/**
 * Parse an unsigned-byte IDX file with `rank` dimensions.
 *
 * @throws {TypeError} on a bad magic number, rank, or length.
 */
export function parseIdx(
  bytes: Uint8Array,
  source: string,
  rank: number,
): { dims: number[]; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 + 4 * rank || view.getUint16(0) !== 0 || bytes[2] !== UBYTE) {
    throw new TypeError(`Cannot read IDX file ${source}: not an unsigned-byte IDX file`);
  }
  if (bytes[3] !== rank) {
    throw new TypeError(
      `Cannot read IDX file ${source}: expected ${rank} dimensions, current value is ${bytes[3]}`,
    );
  }
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const offset = 4 + 4 * rank;
  const expected = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - offset !== expected) {
    throw new TypeError(
      `Cannot read IDX file ${source}: dimensions ${dims.join("x")} need ${expected} bytes of ` +
        `data, current length is ${bytes.length - offset}`,
    );
  }
  return { dims, data: bytes.subarray(offset) };
}

async function readMaybeGzipped(path: string): Promise<{ path: string; bytes: Uint8Array }> {
  try {
    return { path, bytes: await Deno.readFile(path) };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const gzPath = `${path}.gz`;
  let compressed: Uint8Array;
  try {
    compressed = await Deno.readFile(gzPath);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Cannot read IDX data: neither ${path} nor ${gzPath} exists`, {
        cause: error,
      });
    }
    throw error;
  }
  return { path: gzPath, bytes: await gunzip(compressed) };
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
