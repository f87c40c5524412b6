/**
 * `Sum` and `Mean` over the leading axes as one average pool, for the wasm backend. Its stock
 * kernels move the reduced axes last with a full transpose first and then loop; batch norm
 * reduces [B, H, W, C] over [0, 1, 2] several times per training step, and XNNPACK's pooling
 * reads the data in place, 3 to 5x faster. (A matrix product by ones is slower still once the
 * data is new each call: XNNPACK repacks its right operand.) Other reductions go to the stock
 * kernels.
 */
import * as tf from "@tensorflow/tfjs-core";
// The stock kernels are captured below, so the wasm backend must have registered them first.
import "@tensorflow/tfjs-backend-wasm";
import { tensorKernel } from "./tensor_kernel.ts";

/**
 * How many leading axes `axis` names, when it names exactly the axes 0..k-1 of a rank-`rank`
 * tensor and leaves at least one axis; null for any other reduction.
 */
export function leadingAxesCount(axis: number | number[], rank: number): number | null {
  if (rank < 2) return null;
  const axes = [...new Set(tf.util.parseAxisParam(axis, Array(rank).fill(1)))].sort((a, b) =>
    a - b
  );
  if (axes.length === 0 || axes.length >= rank) return null;
  return axes.every((a, i) => a === i) ? axes.length : null;
}

/**
 * Mean of `x` over its first `count` axes: an average pool whose window is the whole of x seen
 * as [1, rows / last, last, rest] (last being the size of axis k-1), channels being the rest.
 *
 * @param x [D0, ..., Dk-1, ...rest], float32
 * @param count k, the number of leading axes reduced (1 to rank - 1)
 * @returns [...rest], or [1, ..., 1, ...rest] with `keepDims`
 */
export function meanLeadingAxes(x: tf.Tensor, count: number, keepDims = false): tf.Tensor {
  return tf.tidy(() => {
    const rest = x.shape.slice(count);
    const last = x.shape[count - 1];
    const rows = x.shape.slice(0, count).reduce((a, b) => a * b, 1);
    const columns = rest.reduce((a, b) => a * b, 1);
    const image = tf.reshape(x, [1, rows / last, last, columns]) as tf.Tensor4D;
    const mean = tf.avgPool(image, [rows / last, last], 1, "valid");
    return tf.reshape(mean, keepDims ? [...Array(count).fill(1), ...rest] : rest);
  });
}

/** Sum of `x` over its first `count` axes: {@link meanLeadingAxes} times their size. */
export function sumLeadingAxes(x: tf.Tensor, count: number, keepDims = false): tf.Tensor {
  return tf.tidy(() => {
    const rows = x.shape.slice(0, count).reduce((a, b) => a * b, 1);
    return tf.mul(meanLeadingAxes(x, count, keepDims), rows);
  });
}

/** Whether the pooling applies: float32, a leading-axes reduction, nothing empty. */
function fastCount(x: tf.TensorInfo, attrs: tf.NamedAttrMap): number | null {
  if (x.dtype !== "float32" || x.shape.some((size) => size === 0)) return null;
  return leadingAxesCount(attrs.axis as number | number[], x.shape.length);
}

/** A config running `fast` where {@link fastCount} allows and the stock wasm kernel elsewhere. */
function withStockFallback(
  kernelName: string,
  fast: (x: tf.Tensor, count: number, keepDims: boolean) => tf.Tensor,
): tf.KernelConfig {
  const stock = tf.getKernel(kernelName, "wasm");
  if (stock == null) {
    throw new Error(`Cannot register ${kernelName} for wasm: the stock kernel is not registered`);
  }
  const fastFunc = tensorKernel(({ x }, attrs) =>
    fast(x, fastCount(x, attrs)!, attrs.keepDims as boolean)
  );
  return {
    kernelName,
    backendName: "wasm",
    // The stock kernel binds its wasm function in its setup, which must run if the backend is
    // initialised after this config replaces it.
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => {
      const x = (args.inputs as tf.NamedTensorInfoMap).x!;
      return fastCount(x, args.attrs ?? {}) == null ? stock.kernelFunc(args) : fastFunc(args);
    },
  };
}

/** Kernel config registering a leading-axes `Sum` (stock kernel otherwise) for wasm. */
export const sumConfig: tf.KernelConfig = withStockFallback(tf.Sum, sumLeadingAxes);

/** Kernel config registering a leading-axes `Mean` (stock kernel otherwise) for wasm. */
export const meanConfig: tf.KernelConfig = withStockFallback(tf.Mean, meanLeadingAxes);
