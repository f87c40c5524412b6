/**
 * `UnsortedSegmentSum` (the gradient of `gather`) for the wasm backend, which has no kernel of
 * its own for it.
 */
import * as tf from "@tensorflow/tfjs-core";
import { tensorKernel } from "./tensor_kernel.ts";

/**
 * Sum the slices of `x` that share a segment id.
 *
 * out[s, ...] = sum of x[i..., ...] over the positions i with segmentIds[i...] = s. One
 * scatter-add, linear in the size of `x`. Ids outside [0, numSegments) are dropped, as in
 * TensorFlow: they are sent to one extra segment that is cut off afterwards.
 *
 * @param x [...segmentIds.shape, ...rest], float32 or int32
 * @param segmentIds int32, a prefix of `x`'s shape
 * @param numSegments number of output segments
 * @returns [numSegments, ...rest], dtype of `x`
 */
export function unsortedSegmentSum(
  x: tf.Tensor,
  segmentIds: tf.Tensor,
  numSegments: number,
): tf.Tensor {
  const prefix = x.shape.slice(0, segmentIds.rank);
  if (segmentIds.shape.some((size, axis) => size !== prefix[axis])) {
    throw new RangeError(
      `Cannot sum segments: segmentIds' shape must be a prefix of x's shape [${x.shape}], ` +
        `current value is [${segmentIds.shape}]`,
    );
  }
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new RangeError(
      `Cannot sum segments: numSegments must be a non-negative integer, current value is ` +
        numSegments,
    );
  }
  return tf.tidy(() => {
    const rest = x.shape.slice(segmentIds.rank);
    if (segmentIds.size === 0) return tf.zeros([numSegments, ...rest], x.dtype);
    const ids = tf.reshape(segmentIds, [segmentIds.size, 1]);
    const inRange = tf.logicalAnd(tf.greaterEqual(ids, 0), tf.less(ids, numSegments));
    const overflow = tf.fill(ids.shape, numSegments, "int32");
    const kept = tf.where(inRange, ids, overflow);
    const updates = tf.reshape(x, [segmentIds.size, ...rest]);
    const sums = tf.scatterND(kept, updates, [numSegments + 1, ...rest]);
    return tf.slice(sums, 0, numSegments);
  });
}

/** Kernel config registering {@link unsortedSegmentSum} for the wasm backend. */
export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: "wasm",
  kernelFunc: tensorKernel(({ x, segmentIds }, attrs) =>
    unsortedSegmentSum(
      x,
      segmentIds,
      (attrs as unknown as tf.UnsortedSegmentSumAttrs).numSegments,
    )
  ),
};
