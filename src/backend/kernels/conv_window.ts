import * as tf from "@tensorflow/tfjs-core";

/**
 * The crop and padding that make a stride-1 convolution see exactly the window a gradient needs,
 * for convolution gradients written as forward convolutions.
 */

/** How to cut and pad one spatial axis of a convolution input. */
export interface ConvWindow {
  /** First input index kept. */
  start: number;
  /** Number of input indices kept (at least 1). */
  size: number;
  /** Zeros added before the kept part. */
  padBefore: number;
  /** Zeros added after the kept part. */
  padAfter: number;
}

/**
 * The window of `needed` positions starting at input index `-before`, over an axis of `length`
 * inputs: positions inside the input are kept, positions outside become zero padding. Either
 * end may fall inside the input (negative padding), which turns into a crop, so explicit
 * paddings and strides that skip trailing rows need no special case.
 */
export function convWindow(length: number, before: number, needed: number): ConvWindow {
  const start = Math.max(0, -before);
  const end = Math.min(length, needed - before);
  if (end <= start) {
    throw new RangeError(
      `Cannot fit convolution window: it must overlap the input, current window is ` +
        `[${-before}, ${needed - before}) over ${length} positions`,
    );
  }
  return { start, size: end - start, padBefore: start + before, padAfter: needed - before - end };
}

/**
 * Crop an NHWC tensor's spatial axes to `rows` and `cols`; the tensor itself when nothing is cut
 * (a slice always copies).
 *
 * @param x [B, H, W, C]
 * @returns [B, rows.size, cols.size, C]
 */
export function cropToWindow(x: tf.Tensor4D, rows: ConvWindow, cols: ConvWindow): tf.Tensor4D {
  const [, height, width] = x.shape;
  if (rows.start === 0 && cols.start === 0 && rows.size === height && cols.size === width) {
    return x;
  }
  return tf.slice(x, [0, rows.start, cols.start, 0], [-1, rows.size, cols.size, -1]);
}

/** The explicit padding that completes a crop to the window, for `tf.conv2d`. */
export function windowPadding(rows: ConvWindow, cols: ConvWindow): tf.backend_util.ExplicitPadding {
  return [[0, 0], [rows.padBefore, rows.padAfter], [cols.padBefore, cols.padAfter], [0, 0]];
}
