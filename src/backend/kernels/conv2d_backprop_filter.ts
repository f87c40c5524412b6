/**
 * `Conv2DBackpropFilter` for the wasm backend, which has no kernel of its own for it: one forward
 * convolution with batch and channels swapped ({@link conv2dBackpropFilterBySwap}), or one
 * matrix product for an unpadded 1x1 ({@link conv2dBackpropFilterPointwise}).
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
export function conv2dBackpropFilterBySwap(
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

/**
 * Gradient of a 1x1 convolution without padding with respect to its filter: one matrix product,
 * dW = x'^T dy over the P = B*OH*OW positions, x' being x at the strided positions. The swapped
 * convolution spends 7 to 12x the forward convolution's time on these (resnet-small's strided
 * shortcuts); the product, 1 to 3x. XNNPACK repacks its right operand on every call (the cost
 * that dominates at this shape), so the smaller of x' and dy goes there.
 *
 * @returns the filter gradient [1, 1, Ci, Co]; null when the convolution is not a 1x1 without
 *   padding over sizes its stride divides (the swapped convolution then)
 */
export function conv2dBackpropFilterPointwise(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  attrs: tf.Conv2DBackpropFilterAttrs,
): tf.Tensor4D | null {
  const [filterHeight, filterWidth, inChannels, outChannels] = attrs.filterShape;
  if (filterHeight !== 1 || filterWidth !== 1 || attrs.dataFormat === "NCHW") return null;
  const [batch, height, width] = x.shape;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape,
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { top, bottom, left, right } = info.padInfo;
  const { strideHeight: sh, strideWidth: sw, outHeight, outWidth } = info;
  if (top !== 0 || bottom !== 0 || left !== 0 || right !== 0) return null;
  if (height !== sh * outHeight || width !== sw * outWidth) return null;
  return tf.tidy(() => {
    const positions = batch * outHeight * outWidth;
    // x at rows and columns 0, s, 2s...: the first of each s x s block, as a crop of a view.
    const strided = sh === 1 && sw === 1 ? x : tf.slice(
      tf.reshape(x, [batch, outHeight, sh, outWidth, sw * inChannels]),
      [0, 0, 0, 0, 0],
      [-1, -1, 1, -1, inChannels],
    );
    const xFlat = tf.reshape(strided, [positions, inChannels]);
    const dyFlat = tf.reshape(dy, [positions, outChannels]);
    const product = inChannels <= outChannels
      ? tf.transpose(tf.matMul(tf.transpose(dyFlat), xFlat))
      : tf.matMul(tf.transpose(xFlat), dyFlat);
    return tf.reshape(product, attrs.filterShape) as tf.Tensor4D;
  });
}

/**
 * Values of x and dy per swapped convolution: about 2 MB, so that the convolution's two large
 * operands stay in cache while XNNPACK reads them once per block of outputs (the swapped
 * convolution has few outputs and a long reduction). Chunking the batch cut the largest filter
 * gradient of resnet-small (32 px, 128 rows) from 54 to 40 ms; smaller ones fit already.
 */
const CHUNK_VALUES = 1 << 19;

/**
 * The filter gradient: {@link conv2dBackpropFilterPointwise} where it applies, else the swapped
 * convolution, over chunks of the batch whose gradients add up (the sum over b splits).
 *
 * @param chunkValues values of x and dy per chunk (tests make it small)
 */
export function conv2dBackpropFilter(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  attrs: tf.Conv2DBackpropFilterAttrs,
  chunkValues = CHUNK_VALUES,
): tf.Tensor4D {
  const pointwise = conv2dBackpropFilterPointwise(x, dy, attrs);
  if (pointwise !== null) return pointwise;
  const batch = x.shape[0];
  const perImage = (x.size + dy.size) / batch;
  const chunk = Math.max(1, Math.floor(chunkValues / perImage));
  if (chunk >= batch) return conv2dBackpropFilterBySwap(x, dy, attrs);
  return tf.tidy(() => {
    const parts: tf.Tensor4D[] = [];
    for (let start = 0; start < batch; start += chunk) {
      const size = Math.min(chunk, batch - start);
      parts.push(conv2dBackpropFilterBySwap(
        tf.slice(x, [start, 0, 0, 0], [size, -1, -1, -1]),
        tf.slice(dy, [start, 0, 0, 0], [size, -1, -1, -1]),
        attrs,
      ));
    }
    return tf.addN(parts);
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
