/**
 * Comparisons and logical binary ops with broadcasting, for the wasm backend: its kernels
 * broadcast element by element through a generic index loop (about 30x slower than the same op
 * on equal shapes: 30 ms for NT-Xent's [512, 512] == [512, 1] in the max gradient of its
 * log-sum-exp at batch 256). Operands of different shapes are broadcast first (BroadcastTo is a
 * Tile, which this project runs as one broadcast multiply), then the stock kernel runs on equal
 * shapes.
 */
import * as tf from "@tensorflow/tfjs-core";
// The stock kernels are captured below, so the wasm backend must have registered them first.
import "@tensorflow/tfjs-backend-wasm";
import { tensorKernel } from "./tensor_kernel.ts";

/** The binary ops this replaces: those with a boolean result or boolean operands. */
export const BROADCAST_COMPARE_KERNELS = [
  tf.Equal,
  tf.NotEqual,
  tf.Greater,
  tf.GreaterEqual,
  tf.Less,
  tf.LessEqual,
  tf.LogicalAnd,
  tf.LogicalOr,
] as const;

function sameShape(a: tf.TensorInfo, b: tf.TensorInfo): boolean {
  return a.shape.length === b.shape.length && a.shape.every((size, i) => size === b.shape[i]);
}

function broadcastFirst(kernelName: string): tf.KernelConfig {
  const stock = tf.getKernel(kernelName, "wasm");
  if (stock == null) {
    throw new Error(`Cannot register ${kernelName} for wasm: the stock kernel is not registered`);
  }
  // Through the engine again with equal shapes, that is to the stock kernel below.
  const broadcast = tensorKernel(({ a, b }) => {
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const full = (x: tf.Tensor) => (x.shape.join() === shape.join() ? x : tf.broadcastTo(x, shape));
    return tf.engine().runKernel(kernelName, { a: full(a), b: full(b) }) as tf.Tensor;
  });
  return {
    kernelName,
    backendName: "wasm",
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const scalar = a.shape.length === 0 || b.shape.length === 0;
      return sameShape(a, b) || scalar || a.dtype === "string"
        ? stock.kernelFunc(args)
        : broadcast(args);
    },
  };
}

/** Kernel configs registering the broadcast-first comparisons for wasm. */
export const broadcastCompareConfigs: readonly tf.KernelConfig[] = BROADCAST_COMPARE_KERNELS.map(
  broadcastFirst,
);
