/**
 * The kernels this project adds to the wasm backend: the training gradients it lacks and faster
 * versions of ones it runs pathologically slowly. Each is written with tf ops the wasm backend
 * runs well, and checked against the `cpu` backend in tests/backend/.
 */
import * as tf from "@tensorflow/tfjs-core";
import { batchMatMulConfig } from "./kernels/batch_mat_mul.ts";
import { broadcastCompareConfigs } from "./kernels/broadcast_compare.ts";
import { concatConfig, packConfig } from "./kernels/concat.ts";
import { conv2dBackpropFilterConfig } from "./kernels/conv2d_backprop_filter.ts";
import { conv2dBackpropInputConfig } from "./kernels/conv2d_backprop_input.ts";
import { einsumConfig } from "./kernels/einsum.ts";
import { identityConfig } from "./kernels/identity.ts";
import { meanConfig, sumConfig } from "./kernels/leading_axes_reduce.ts";
import { sliceConfig } from "./kernels/slice.ts";
import { tileConfig } from "./kernels/tile.ts";
import { unsortedSegmentSumConfig } from "./kernels/unsorted_segment_sum.ts";
import { oneDnnKernelConfigs } from "./onednn/kernels.ts";
import { openOneDnn } from "./onednn/library.ts";
import { RELU_GRAD, reluGradientConfig } from "./onednn/relu.ts";

/** The kernels {@link registerWasmKernels} installs, all for `backendName: "wasm"`. */
export const WASM_KERNELS: readonly tf.KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  tileConfig,
  unsortedSegmentSumConfig,
  einsumConfig,
  sumConfig,
  meanConfig,
  sliceConfig,
  concatConfig,
  packConfig,
  batchMatMulConfig,
  identityConfig,
  ...broadcastCompareConfigs,
];

/**
 * The convolutions through oneDNN where it is installed (src/backend/onednn/), made once per
 * thread: each captures the kernel it replaces, which must be the wasm backend's or ours, never
 * itself.
 */
let convolutionKernels: readonly tf.KernelConfig[] | undefined;
/** The wasm backend's own Conv2D and FusedConv2D, put back by `registerWasmKernels("wasm")`. */
let stockConvolutions: readonly tf.KernelConfig[] | undefined;

/** Whether convolutions run through oneDNN in this thread, or why not. */
export function convolutionEngine(): string {
  const dnn = openOneDnn();
  return typeof dnn === "string" ? `wasm (oneDNN not used: ${dnn})` : `oneDNN (${dnn.path})`;
}

/**
 * Install {@link WASM_KERNELS}, then (`convolutions` "auto") the oneDNN convolutions when oneDNN
 * is there, each replacing the wasm kernel of the same name where there is one; "wasm" keeps the
 * convolutions in wasm (tests compare the two). Idempotent. Call it after the wasm backend is
 * initialised: the stock kernels' setup runs at initialisation, and only for kernels registered
 * then.
 */
export function registerWasmKernels(convolutions: "auto" | "wasm" = "auto"): void {
  stockConvolutions ??= [tf.Conv2D, tf.FusedConv2D].map((name) => tf.getKernel(name, "wasm")!);
  install(WASM_KERNELS);
  if (convolutions === "wasm") {
    if (tf.getKernel(RELU_GRAD, "wasm") !== undefined) tf.unregisterKernel(RELU_GRAD, "wasm");
    return install(stockConvolutions);
  }
  if (convolutionKernels === undefined) {
    const dnn = openOneDnn();
    convolutionKernels = typeof dnn === "string" ? [] : oneDnnKernelConfigs(dnn);
    // Relu's gradient through ScanReluGrad where a backend has it (tfjs' formula elsewhere).
    if (convolutionKernels.length > 0 && tf.getGradient(tf.Relu) !== reluGradientConfig) {
      tf.registerGradient(reluGradientConfig);
    }
  }
  install(convolutionKernels);
}

function install(configs: readonly tf.KernelConfig[]): void {
  for (const config of configs) {
    const current = tf.getKernel(config.kernelName, "wasm");
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current != null) tf.unregisterKernel(config.kernelName, "wasm");
    tf.registerKernel(config);
  }
}
