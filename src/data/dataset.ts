/**
 * A dataset held in memory at model resolution: the offline stages and the stream's store both
 * keep images as uint8 pixels (S*S*3 per image) and turn a batch into a float tensor only when a
 * step needs it, so 60k images cost 150 MB, not 600 MB of float32.
 */
import * as tf from "@tensorflow/tfjs-core";

/** A batch as it travels between operators: plain bytes, no tensors. */
export interface ImageBatch {
  readonly ids: readonly string[];
  /** uint8 pixels, row-major [B, S, S, 3]. */
  readonly data: Uint8Array;
  readonly shape: readonly [number, number, number, 3];
}

/** Images at model resolution, with optional ground truth used only for reporting. */
export interface Dataset {
  readonly n: number;
  /** Side S of the square model input. */
  readonly size: number;
  /** uint8 pixels [n, S, S, 3]. */
  readonly pixels: Uint8Array;
  /** Content hashes (sha-256 hex) or, for IDX data, `<split>:<index>`. */
  readonly ids: readonly string[];
  /** Source of each image: a path relative to the data folder, or `<split>:<index>`. */
  readonly paths: readonly string[];
  /** Class index per image, -1 where unknown; absent when the data has no labels. */
  readonly labels?: Int32Array;
  /** Names of the classes that `labels` index. */
  readonly classNames?: readonly string[];
}

/** The batch of images at `indices`, copied out of the dataset. */
export function gatherBatch(dataset: Dataset, indices: ArrayLike<number>): ImageBatch {
  const stride = dataset.size * dataset.size * 3;
  const data = new Uint8Array(indices.length * stride);
  const ids: string[] = [];
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b];
    if (!(i >= 0 && i < dataset.n)) {
      throw new RangeError(
        `Cannot gather batch: index must be in [0, ${dataset.n}), current value is ${i}`,
      );
    }
    data.set(dataset.pixels.subarray(i * stride, (i + 1) * stride), b * stride);
    ids.push(dataset.ids[i]);
  }
  return { ids, data, shape: [indices.length, dataset.size, dataset.size, 3] };
}

/** A float tensor [B, S, S, 3] in [0, 1]; the caller owns it. */
export function batchToTensor(batch: ImageBatch): tf.Tensor4D {
  return tf.tidy(() => tf.div(tf.tensor4d(batch.data, [...batch.shape], "float32"), 255));
}

/**
 * Shuffled index batches for one epoch. A last partial batch is dropped when others exist,
 * because a batch of 3 gives SimCLR and the SCAN entropy term a noisy, biased estimate.
 */
export function epochBatches(
  n: number,
  batchSize: number,
  shuffle: (items: number[]) => number[],
): number[][] {
  const order = shuffle(Array.from({ length: n }, (_, i) => i));
  const batches: number[][] = [];
  for (let start = 0; start < n; start += batchSize) {
    const batch = order.slice(start, start + batchSize);
    if (batch.length < batchSize && batches.length > 0) break;
    batches.push(batch);
  }
  return batches;
}
