/**
 * The wasm kernels as they were before issue 11's work on them, to measure today's against in
 * one process (the machine is shared: separate runs minutes apart differ by 2x). Stock Slice,
 * Concat, Pack, BatchMatMul and broadcasting comparisons; the input gradient as one
 * convolution of a zero-dilated dy; the filter gradient as one swapped convolution, unchunked,
 * 1x1 included.
 *
 * Import this before the backend is initialised: the stock kernels are captured when this
 * module is evaluated, before registerWasmKernels replaces them.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { BROADCAST_COMPARE_KERNELS } from "../src/backend/kernels/broadcast_compare.ts";
import { conv2dBackpropFilterBySwap } from "../src/backend/kernels/conv2d_backprop_filter.ts";
import { conv2dBackpropInput } from "../src/backend/kernels/conv2d_backprop_input.ts";
import { tensorKernel } from "../src/backend/kernels/tensor_kernel.ts";
import { RELU_GRAD } from "../src/backend/onednn/relu.ts";

const stock = [
  tf.Slice,
  tf.Concat,
  tf.Pack,
  tf.BatchMatMul,
  tf.Conv2D,
  tf.FusedConv2D,
  ...BROADCAST_COMPARE_KERNELS,
].map((
  name,
) => {
  const config = tf.getKernel(name, "wasm");
  if (config == null) throw new Error(`Cannot capture the stock wasm ${name}: not registered`);
  return config;
});

export const BASELINE_KERNELS: readonly tf.KernelConfig[] = [
  ...stock,
  {
    kernelName: tf.Conv2DBackpropInput,
    backendName: "wasm",
    kernelFunc: tensorKernel(({ dy, filter }, attrs) =>
      conv2dBackpropInput(
        dy as tf.Tensor4D,
        filter as tf.Tensor4D,
        attrs as unknown as tf.Conv2DBackpropInputAttrs,
        false,
      )
    ),
  },
  {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: "wasm",
    kernelFunc: tensorKernel(({ x, dy }, attrs) =>
      conv2dBackpropFilterBySwap(
        x as tf.Tensor4D,
        dy as tf.Tensor4D,
        attrs as unknown as tf.Conv2DBackpropFilterAttrs,
      )
    ),
  },
];

/** Kernels of today that did not exist before: absent from the baseline. */
const NEW_KERNELS = [RELU_GRAD];

/** The registered wasm kernels of the same names as {@link BASELINE_KERNELS}, and new ones. */
export function currentKernels(): tf.KernelConfig[] {
  return [...BASELINE_KERNELS.map((config) => config.kernelName), ...NEW_KERNELS]
    .map((name) => tf.getKernel(name, "wasm"))
    .filter((config): config is tf.KernelConfig => config !== undefined);
}

/**
 * Register `configs` for wasm in place of the kernels of the same names; new kernels that
 * `configs` lacks are unregistered.
 */
export function useKernels(configs: readonly tf.KernelConfig[]): void {
  for (const name of NEW_KERNELS) {
    const wanted = configs.some((config) => config.kernelName === name);
    if (!wanted && tf.getKernel(name, "wasm") !== undefined) tf.unregisterKernel(name, "wasm");
  }
  for (const config of configs) {
    tf.unregisterKernel(config.kernelName, "wasm");
    tf.registerKernel(config);
  }
}
