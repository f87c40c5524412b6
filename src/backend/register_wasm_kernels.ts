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
import { meanConfig, sumConfig } from "./kernels/leading_axes_reduce.ts";
import { sliceConfig } from "./kernels/slice.ts";
import { tileConfig } from "./kernels/tile.ts";
import { unsortedSegmentSumConfig } from "./kernels/unsorted_segment_sum.ts";

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
  ...broadcastCompareConfigs,
];

/**
 * Install {@link WASM_KERNELS}, replacing the stock wasm kernel of the same name where there is
 * one. Idempotent. Call it after the wasm backend is initialised: the stock kernels' setup runs
 * at initialisation, and only for kernels registered then.
 */
export function registerWasmKernels(): void {
  for (const config of WASM_KERNELS) {
    const current = tf.getKernel(config.kernelName, "wasm");
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current != null) tf.unregisterKernel(config.kernelName, "wasm");
    tf.registerKernel(config);
  }
}
