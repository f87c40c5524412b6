/**
 * `Slice` as a few long copies inside the wasm heap, replacing the wasm backend's kernel, which
 * copies the whole input out of the heap first and then makes one typed-array view per innermost
 * row (a [128, 34, 34, 16] crop, the gradient of the backbone's zero padding, took 100 ms for
 * 8 MB). Axes the slice keeps whole are merged into the row, so a spatial crop of NHWC copies
 * rows of W * C values. Strings go to the stock kernel.
 */
import * as tf from "@tensorflow/tfjs-core";
// The stock kernel is captured below, so the wasm backend must have registered it first.
import "@tensorflow/tfjs-backend-wasm";
import { copyRun, heapOf, type WasmBackendInternals } from "./heap.ts";

/** The slice as the fewest axes: each axis the slice keeps whole is merged into the one before. */
export function mergeSliceAxes(
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): { shape: number[]; begin: number[]; size: number[] } {
  const out = { shape: [] as number[], begin: [] as number[], size: [] as number[] };
  for (let axis = 0; axis < shape.length; axis++) {
    if (shape[axis] === 1) continue;
    const last = out.shape.length - 1;
    const whole = begin[axis] === 0 && size[axis] === shape[axis];
    if (last >= 0 && whole) {
      out.shape[last] *= shape[axis];
      out.begin[last] *= shape[axis];
      out.size[last] *= shape[axis];
      continue;
    }
    out.shape.push(shape[axis]);
    out.begin.push(begin[axis]);
    out.size.push(size[axis]);
  }
  if (out.shape.length === 0) return { shape: [1], begin: [0], size: [1] };
  return out;
}

/**
 * Copy the slice of `x` at `begin` of `size` into a new tensor of the wasm backend.
 *
 * @param begin, size already resolved by `slice_util.parseSliceParams` (no -1)
 */
function sliceOnHeap(
  x: tf.TensorInfo,
  begin: number[],
  size: number[],
  backend: WasmBackendInternals,
): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (size.some((s) => s === 0)) return out;
  // makeOutput may grow the memory: views are taken after it.
  const heap = heapOf(backend.wasm.HEAPU8.buffer, x.dtype);
  const bytes = heap.BYTES_PER_ELEMENT;
  const xBase = backend.dataIdMap.get(x.dataId).memoryOffset / bytes;
  const outBase = backend.dataIdMap.get(out.dataId).memoryOffset / bytes;
  const merged = mergeSliceAxes(x.shape, begin, size);
  const rank = merged.shape.length;
  const strides = tf.util.computeStrides(merged.shape);
  strides.push(1);
  const run = merged.size[rank - 1];
  const runs = merged.size.slice(0, -1).reduce((a, b) => a * b, 1);
  const index = new Array<number>(rank - 1).fill(0);
  let outAt = outBase;
  for (let r = 0; r < runs; r++) {
    let from = xBase + merged.begin[rank - 1];
    for (let axis = 0; axis < rank - 1; axis++) {
      from += (merged.begin[axis] + index[axis]) * strides[axis];
    }
    copyRun(heap, from, outAt, run);
    outAt += run;
    for (let axis = rank - 2; axis >= 0; axis--) {
      if (++index[axis] < merged.size[axis]) break;
      index[axis] = 0;
    }
  }
  return out;
}

function sliceConfigWithFallback(): tf.KernelConfig {
  const stock = tf.getKernel(tf.Slice, "wasm");
  if (stock == null) {
    throw new Error("Cannot register Slice for wasm: the stock kernel is not registered");
  }
  return {
    kernelName: tf.Slice,
    backendName: "wasm",
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => {
      const x = (args.inputs as tf.NamedTensorInfoMap).x!;
      if (x.dtype === "string" || x.dtype === "complex64") return stock.kernelFunc(args);
      const attrs = args.attrs as unknown as tf.SliceAttrs;
      const [begin, size] = tf.slice_util.parseSliceParams(
        x as tf.TensorInfo as tf.Tensor,
        attrs.begin,
        attrs.size,
      );
      return sliceOnHeap(x, begin, size, args.backend as unknown as WasmBackendInternals);
    },
  };
}

/** Kernel config registering the heap-copy `Slice` (stock kernel for strings) for wasm. */
export const sliceConfig: tf.KernelConfig = sliceConfigWithFallback();
