/**
 * `Concat` and `Pack` (stack) as copies inside the wasm heap, replacing the wasm backend's
 * kernels, which make one typed-array view per input per outer index: the strided input
 * gradient stacks its phases along the channel axis, thousands of 16- to 128-value runs per
 * call, and that took longer than the phases' convolutions. Strings go to the stock kernels.
 */
import * as tf from "@tensorflow/tfjs-core";
// The stock kernels are captured below, so the wasm backend must have registered them first.
import "@tensorflow/tfjs-backend-wasm";
import { copyRun, heapOf, type WasmBackendInternals } from "./heap.ts";

/**
 * Lay `inputs` side by side: for each of `outer` rows, each input's next `inner[i]` values.
 * That is a concatenation along an axis with `outer` the product of the axes before it and
 * `inner[i]` the size of input i from that axis on (a stack inserts the axis, inner is the same).
 */
function interleave(
  inputs: tf.TensorInfo[],
  outer: number,
  inner: number[],
  outShape: number[],
  backend: WasmBackendInternals,
): tf.TensorInfo {
  const out = backend.makeOutput(outShape, inputs[0].dtype);
  if (outShape.some((size) => size === 0)) return out;
  // makeOutput may grow the memory: views are taken after it.
  const heap = heapOf(backend.wasm.HEAPU8.buffer, inputs[0].dtype);
  const bytes = heap.BYTES_PER_ELEMENT;
  const bases = inputs.map((x) => backend.dataIdMap.get(x.dataId).memoryOffset / bytes);
  let to = backend.dataIdMap.get(out.dataId).memoryOffset / bytes;
  for (let row = 0; row < outer; row++) {
    for (let i = 0; i < inputs.length; i++) {
      const run = inner[i];
      if (run === 0) continue;
      copyRun(heap, bases[i] + row * run, to, run);
      to += run;
    }
  }
  return out;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function stockOrThrow(kernelName: string): tf.KernelConfig {
  const stock = tf.getKernel(kernelName, "wasm");
  if (stock == null) {
    throw new Error(`Cannot register ${kernelName} for wasm: the stock kernel is not registered`);
  }
  return stock;
}

const numeric = (inputs: tf.TensorInfo[]) =>
  inputs.every((x) => x.dtype !== "string" && x.dtype !== "complex64");

function concatConfigWithFallback(): tf.KernelConfig {
  const stock = stockOrThrow(tf.Concat);
  return {
    kernelName: tf.Concat,
    backendName: "wasm",
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => {
      const inputs = args.inputs as unknown as tf.TensorInfo[];
      if (!numeric(inputs)) return stock.kernelFunc(args);
      const shapes = inputs.map((x) => x.shape);
      const axis =
        tf.util.parseAxisParam((args.attrs as unknown as tf.ConcatAttrs).axis, shapes[0])[0];
      tf.backend_util.assertParamsConsistent(shapes, axis);
      const outShape = tf.backend_util.computeOutShape(shapes, axis);
      return interleave(
        inputs,
        size(shapes[0].slice(0, axis)),
        shapes.map((shape) => size(shape.slice(axis))),
        outShape,
        args.backend as unknown as WasmBackendInternals,
      );
    },
  };
}

function packConfigWithFallback(): tf.KernelConfig {
  const stock = stockOrThrow(tf.Pack);
  return {
    kernelName: tf.Pack,
    backendName: "wasm",
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => {
      const inputs = args.inputs as unknown as tf.TensorInfo[];
      if (!numeric(inputs)) return stock.kernelFunc(args);
      const shape = inputs[0].shape;
      for (const x of inputs) {
        tf.util.assertShapesMatch(shape, x.shape, "All tensors passed to stack must match");
        if (x.dtype !== inputs[0].dtype) {
          throw new TypeError(
            `Cannot stack: all tensors must have one dtype, current dtypes are ` +
              inputs.map((t) => t.dtype).join(", "),
          );
        }
      }
      const axis = tf.util.parseAxisParam(
        (args.attrs as unknown as tf.PackAttrs).axis,
        [...shape, 1],
      )[0];
      const outShape = [...shape.slice(0, axis), inputs.length, ...shape.slice(axis)];
      return interleave(
        inputs,
        size(shape.slice(0, axis)),
        inputs.map(() => size(shape.slice(axis))),
        outShape,
        args.backend as unknown as WasmBackendInternals,
      );
    },
  };
}

/** Kernel config registering the heap-copy `Concat` (stock kernel for strings) for wasm. */
export const concatConfig: tf.KernelConfig = concatConfigWithFallback();

/** Kernel config registering the heap-copy `Pack` (stock kernel for strings) for wasm. */
export const packConfig: tf.KernelConfig = packConfigWithFallback();
