/**
 * `Conv2DBackpropInput` as forward convolutions, replacing the wasm backend's direct loop
 * (about 12x slower than the forward convolution it differentiates): one convolution at stride
 * 1, one per input phase when strided.
 */
import * as tf from "@tensorflow/tfjs-core";
import { type ConvWindow, convWindow, cropToWindow, windowPadding } from "./conv_window.ts";
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
 * @param phases split a strided gradient into phases ({@link byPhases}) where it can; false
 *   only to measure the dilated form against it (tools/bench_kernels.ts)
 * @returns the input gradient, `attrs.inputShape` = [B, H, W, Ci] (or [B, Ci, H, W] for NCHW)
 */
export function conv2dBackpropInput(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  attrs: tf.Conv2DBackpropInputAttrs,
  phases = true,
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
    const phased = phases ? byPhases(gradient, filter, inputShape, info) : null;
    if (phased !== null) return channelsFirst ? tf.transpose(phased, [0, 3, 1, 2]) : phased;
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
 * The strided input gradient as one stride-1 convolution per phase of the input: the input rows
 * h = s*i + a (for each a < s) see only the filter rows kh = (a + padTop) mod s, + s, + 2s...,
 * so each phase is dy convolved with that sub-filter, and the phases are interleaved. The
 * dilated form below spends s*s times the work multiplying inserted zeros (4x for the backbone's
 * stride 2). Null (the dilated form then) when a spatial size is not a multiple of its stride, or
 * when some phase sees no tap (a 1x1 at stride 2: three of its four phases are zeros, and
 * stacking them costs more than the 1x1 convolution of the dilated form; measured in
 * tools/bench_kernels.ts).
 *
 * @param dy [B, OH, OW, Co]
 * @param filter [FH, FW, Ci, Co]
 * @returns [B, H, W, Ci]
 */
function byPhases(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  info: tf.backend_util.Conv2DInfo,
): tf.Tensor4D | null {
  const { strideHeight, strideWidth } = info;
  const [batch, height, width, inChannels] = inputShape;
  if (strideHeight === 1 && strideWidth === 1) return null;
  if (height % strideHeight !== 0 || width % strideWidth !== 0) return null;
  const rows = Array.from(
    { length: strideHeight },
    (_, a) => phaseAxis(a, strideHeight, info.filterHeight, info.padInfo.top, dy.shape[1], height),
  );
  const cols = Array.from(
    { length: strideWidth },
    (_, c) => phaseAxis(c, strideWidth, info.filterWidth, info.padInfo.left, dy.shape[2], width),
  );
  if (!rows.every(isPhase) || !cols.every(isPhase)) return null;
  const phaseRows = rows.map((row) => {
    const phases = cols.map((col) => {
      const subFilter = tf.gather(tf.gather(filter, row.taps, 0), col.taps, 1);
      return tf.conv2d(
        cropToWindow(dy, row.window, col.window),
        tf.transpose(subFilter, [0, 1, 3, 2]) as tf.Tensor4D,
        1,
        windowPadding(row.window, col.window),
      );
    });
    // [B, H/s, W/s, s, Ci] is [B, H/s, W, Ci] with the column phases interleaved.
    const rowShape = [batch, height / strideHeight, width, inChannels];
    return phases.length === 1 ? phases[0] : tf.reshape(tf.stack(phases, 3), rowShape);
  });
  return (phaseRows.length === 1
    ? phaseRows[0]
    : tf.reshape(tf.stack(phaseRows, 2), [batch, height, width, inChannels])) as tf.Tensor4D;
}

type PhaseAxis = { taps: number[]; window: ConvWindow };

function isPhase(phase: PhaseAxis | null): phase is PhaseAxis {
  return phase !== null;
}

/**
 * One phase a of one spatial axis: the filter taps it sees, nearest-last so that a stride-1
 * convolution applies them flipped, and the window of dy it reads; null when no tap reaches it.
 */
function phaseAxis(
  phase: number,
  stride: number,
  filterSize: number,
  padBefore: number,
  outLength: number,
  inLength: number,
): PhaseAxis | null {
  const first = (phase + padBefore) % stride;
  if (first >= filterSize) return null;
  const count = Math.ceil((filterSize - first) / stride);
  // Phase output i reads dy[i + shift - (count - 1) + t] with tap first + (count - 1 - t) * stride.
  const shift = (phase + padBefore - first) / stride;
  const taps = Array.from({ length: count }, (_, t) => first + (count - 1 - t) * stride);
  const before = count - 1 - shift;
  const needed = inLength / stride + count - 1;
  if (Math.min(outLength, needed - before) <= Math.max(0, -before)) return null;
  return { taps, window: convWindow(outLength, before, needed) };
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
