/**
 * `BatchMatMul` with a transposed operand as an explicit transpose and the untransposed product,
 * for the wasm backend: its kernel runs XNNPACK only when neither operand is transposed, and a
 * plain loop otherwise, 7 to 12x slower at the NT-Xent similarity (2B x D by its transpose) and
 * at every dense layer's gradient. The transpose copies one operand, which costs far less.
 */
import * as tf from "@tensorflow/tfjs-core";
// The stock kernel is captured below, so the wasm backend must have registered it first.
import "@tensorflow/tfjs-backend-wasm";
import { tensorKernel } from "./tensor_kernel.ts";

/** `x` with its last two axes swapped. */
function transposeLast(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, axis) => axis);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return tf.transpose(x, perm);
}

function batchMatMulConfigWithFallback(): tf.KernelConfig {
  const stock = tf.getKernel(tf.BatchMatMul, "wasm");
  if (stock == null) {
    throw new Error("Cannot register BatchMatMul for wasm: the stock kernel is not registered");
  }
  // Runs the untransposed product through the engine, that is through this kernel again, which
  // hands it to the stock kernel.
  const untransposed = tensorKernel(({ a, b }, attrs) => {
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    return tf.matMul(transposeA ? transposeLast(a) : a, transposeB ? transposeLast(b) : b);
  });
  return {
    kernelName: tf.BatchMatMul,
    backendName: "wasm",
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => {
      const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
      return transposeA || transposeB ? untransposed(args) : stock.kernelFunc(args);
    },
  };
}

/** Kernel config registering the transpose-first `BatchMatMul` (stock kernel otherwise). */
export const batchMatMulConfig: tf.KernelConfig = batchMatMulConfigWithFallback();
