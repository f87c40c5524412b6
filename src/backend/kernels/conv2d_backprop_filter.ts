/**
 * `Conv2DBackpropFilter` as one forward convolution, for the wasm backend, which has no kernel
 * of its own for it.
 */
import * as tf from "@tensorflow/tfjs-core";
import { convWindow, cropToWindow, windowPadding } from "./conv_window.ts";
import { tensorKernel } from "./tensor_kernel.ts";

/**
 * Gradient of a 2-D convolution with respect to its filter.
 *
 * dW[kh, kw, ci, co] = sum over b, oh, ow of x[b, oh*s + kh - pad, ow*s + kw - pad, ci] *
 * dy[b, oh, ow, co]. Swapping batch and channels turns this sum into a forward convolution:
 * x as [Ci, H, W, B] convolved with dy as the filter [OH, OW, B, Co], dilated by the stride,
 * gives [Ci, FH, FW, Co]. The forward convolution is the backend's fast (XNNPACK) kernel.
 *
 * @param x input of the forward convolution, [B, H, W, Ci] (or [B, Ci, H, W] for NCHW)
 * @param dy gradient of its output, [B, OH, OW, Co] (or [B, Co, OH, OW] for NCHW)
 * @returns the filter gradient, `attrs.filterShape` = [FH, FW, Ci, Co]
 */
export function conv2dBackpropFilter(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  attrs: tf.Conv2DBackpropFilterAttrs,
): tf.Tensor4D {
  return tf.tidy(() => {
    const channelsFirst = attrs.dataFormat === "NCHW";
    const input = channelsFirst ? tf.transpose(x, [0, 2, 3, 1]) : x;
    const gradient = channelsFirst ? tf.transpose(dy, [0, 2, 3, 1]) : dy;
    const info = tf.backend_util.computeConv2DInfo(
      input.shape,
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      "channelsLast",
    );
    const [, height, width] = input.shape;
    const [, outHeight, outWidth] = gradient.shape;
    const rows = convWindow(
      height,
      info.padInfo.top,
      info.filterHeight + (outHeight - 1) * info.strideHeight,
    );
    const cols = convWindow(
      width,
      info.padInfo.left,
      info.filterWidth + (outWidth - 1) * info.strideWidth,
    );
    const channelsAsBatch = cropToWindow(tf.transpose(input, [3, 1, 2, 0]), rows, cols);
    const gradientAsFilter = tf.transpose(gradient, [1, 2, 0, 3]);
    const swapped = tf.conv2d(
      channelsAsBatch,
      gradientAsFilter,
      1,
      windowPadding(rows, cols),
      "NHWC",
      [info.strideHeight, info.strideWidth],
    );
    return tf.transpose(swapped, [1, 2, 0, 3]);
  });
}

/** Kernel config registering {@link conv2dBackpropFilter} for the wasm backend. */
export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: "wasm",
  kernelFunc: tensorKernel(({ x, dy }, attrs) =>
    conv2dBackpropFilter(
      x as tf.Tensor4D,
      dy as tf.Tensor4D,
      attrs as unknown as tf.Conv2DBackpropFilterAttrs,
    )
  ),
};
