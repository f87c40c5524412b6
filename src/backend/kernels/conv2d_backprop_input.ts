/**
 * `Conv2DBackpropInput` for the wasm backend, replacing its direct loop (about 12x slower than
 * the forward convolution it differentiates): one forward convolution at stride 1; one matrix
 * product and a scatter when strided.
 */
import * as tf from "@tensorflow/tfjs-core";
import { convWindow, cropToWindow, windowPadding } from "./conv_window.ts";
import { heapOf, type WasmBackendInternals } from "./heap.ts";
import { tensorKernel } from "./tensor_kernel.ts";

/**
 * Gradient of a 2-D convolution with respect to its input (also the transposed convolution).
 *
 * dx[b, h, w, ci] = sum over kh, kw, co of dy[b, oh, ow, co] * W[kh, kw, ci, co] where
 * h = oh*s + kh - pad: a stride-1 convolution of dy, with s-1 zeros inserted between its rows
 * and columns, by the filter flipped in space and with channels swapped.
 *
 * @param dy gradient of the convolution's output, [B, OH, OW, Co] (or [B, Co, OH, OW] for NCHW)
 * @param filter the convolution's filter, [FH, FW, Ci, Co]
 * @param columns a strided gradient by {@link byColumns}; false only to measure the dilated form
 *   against it (tools/bench_kernels.ts)
 * @returns the input gradient, `attrs.inputShape` = [B, H, W, Ci] (or [B, Ci, H, W] for NCHW)
 */
export function conv2dBackpropInput(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  attrs: tf.Conv2DBackpropInputAttrs,
  columns = true,
): tf.Tensor4D {
  return tf.tidy(() => {
    const channelsFirst = attrs.dataFormat === "NCHW";
    const gradient = channelsFirst ? tf.transpose(dy, [0, 2, 3, 1]) : dy;
    const [batch, first, second, third] = attrs.inputShape;
    const inputShape: [number, number, number, number] = channelsFirst
      ? [batch, second, third, first]
      : attrs.inputShape;
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      "channelsLast",
    );
    const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
    if (columns && (strideHeight > 1 || strideWidth > 1)) {
      const dx = byColumns(gradient, filter, inputShape, info);
      return channelsFirst ? tf.transpose(dx, [0, 3, 1, 2]) : dx;
    }
    const dilated = dilate(gradient, strideHeight, strideWidth);
    const rows = convWindow(
      dilated.shape[1],
      filterHeight - 1 - info.padInfo.top,
      inputShape[1] + filterHeight - 1,
    );
    const cols = convWindow(
      dilated.shape[2],
      filterWidth - 1 - info.padInfo.left,
      inputShape[2] + filterWidth - 1,
    );
    const cropped = cropToWindow(dilated, rows, cols);
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
    const dx = tf.conv2d(
      cropped,
      flipped,
      1,
      windowPadding(rows, cols),
    );
    return channelsFirst ? tf.transpose(dx, [0, 3, 1, 2]) : dx;
  });
}

/**
 * The input gradient as one matrix product and a scatter: columns [P, FH*FW*Ci] = dy [P, Co]
 * times the filter as [Co, FH*FW*Ci], then each column block added into dx where its tap reads
 * (col2im, a loop over the heap). No multiplication by an inserted zero, unlike the dilated
 * form (4x the work at stride 2), and XNNPACK repacks only the small filter. The scatter is
 * plain JavaScript, one pass over the P * FH*FW*Ci columns: cheap when strided (P is a quarter
 * of dx's positions at stride 2), too slow at stride 1, where the single convolution is used.
 * Also tried: one stride-1 convolution per input phase, interleaved by stacks (the phases
 * see disjoint taps): better than the dilated form, worse than this (BENCHMARKS.md).
 *
 * @param dy [B, OH, OW, Co]
 * @param filter [FH, FW, Ci, Co]
 * @returns [B, H, W, Ci]
 */
function byColumns(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  info: tf.backend_util.Conv2DInfo,
): tf.Tensor4D {
  const [batch, outHeight, outWidth, outChannels] = dy.shape;
  const [filterHeight, filterWidth, inChannels] = filter.shape;
  const taps = filterHeight * filterWidth * inChannels;
  const columns = tf.matMul(
    tf.reshape(dy, [batch * outHeight * outWidth, outChannels]),
    tf.transpose(tf.reshape(filter, [taps, outChannels])),
  );
  const backend = tf.backend() as unknown as WasmBackendInternals;
  const out = backend.makeOutput(inputShape, "float32");
  const heap = heapOf(backend.wasm.HEAPU8.buffer, "float32");
  const [, height, width] = inputShape;
  const dx = backend.dataIdMap.get(out.dataId).memoryOffset / 4;
  let from = backend.dataIdMap.get(columns.dataId).memoryOffset / 4;
  heap.fill(0, dx, dx + batch * height * width * inChannels);
  const { strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < batch; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        for (let kh = 0; kh < filterHeight; kh++) {
          const h = oh * sh + kh - top;
          for (let kw = 0; kw < filterWidth; kw++, from += inChannels) {
            const w = ow * sw + kw - left;
            if (h < 0 || h >= height || w < 0 || w >= width) continue;
            const to = dx + ((b * height + h) * width + w) * inChannels;
            for (let c = 0; c < inChannels; c++) heap[to + c] += heap[from + c];
          }
        }
      }
    }
  }
  return tf.engine().makeTensorFromTensorInfo(out) as tf.Tensor4D;
}

/**
 * Spread [B, OH, OW, C] to [B, OH*sh, OW*sw, C] with each value followed by zeros (the trailing
 * zeros are cropped by the caller's window).
 */
function dilate(x: tf.Tensor4D, strideHeight: number, strideWidth: number): tf.Tensor4D {
  if (strideHeight === 1 && strideWidth === 1) return x;
  const [batch, height, width, channels] = x.shape;
  const spread = tf.pad(tf.reshape(x, [batch, height, 1, width, 1, channels]), [
    [0, 0],
    [0, 0],
    [0, strideHeight - 1],
    [0, 0],
    [0, strideWidth - 1],
    [0, 0],
  ]);
  return tf.reshape(spread, [batch, height * strideHeight, width * strideWidth, channels]);
}

/** Kernel config registering {@link conv2dBackpropInput} for the wasm backend. */
export const conv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: "wasm",
  kernelFunc: tensorKernel(({ dy, filter }, attrs) =>
    conv2dBackpropInput(
      dy as tf.Tensor4D,
      filter as tf.Tensor4D,
      attrs as unknown as tf.Conv2DBackpropInputAttrs,
    )
  ),
};
