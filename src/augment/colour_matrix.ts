/**
 * Per-image colour transforms of the form `clip(M x + beta * meanGray(x))`: brightness,
 * saturation, hue (as a rotation in YIQ), grayscale and contrast are all this shape, so one
 * batched 3x3 product applies a different one to every image of the batch.
 */
import * as tf from "@tensorflow/tfjs-core";

/** Luma weights of torchvision's `rgb_to_grayscale` (ITU-R 601). */
export const GRAY_WEIGHTS: readonly [number, number, number] = [0.2989, 0.587, 0.114];

/** A 3x3 colour matrix, row-major: output channel c = sum over k of m[3c + k] * input k. */
export type ColourMatrix = Float64Array | Float32Array | number[];

export const IDENTITY_MATRIX: readonly number[] = Object.freeze([1, 0, 0, 0, 1, 0, 0, 0, 1]);

/** Scale every channel by `factor` (brightness, and the `M` part of contrast). */
export function scaleMatrix(factor: number): number[] {
  return [factor, 0, 0, 0, factor, 0, 0, 0, factor];
}

/** Blend with the image's own grayscale: 0 gives grayscale, 1 the image (saturation). */
export function saturationMatrix(factor: number): number[] {
  const m = scaleMatrix(factor);
  for (let c = 0; c < 3; c++) {
    for (let k = 0; k < 3; k++) m[3 * c + k] += (1 - factor) * GRAY_WEIGHTS[k];
  }
  return m;
}

/** Replace every channel by the luma (grayscale kept as three equal channels). */
export function grayscaleMatrix(): number[] {
  return saturationMatrix(0);
}

const RGB_TO_YIQ = [0.299, 0.587, 0.114, 0.596, -0.274, -0.322, 0.211, -0.523, 0.312];
const YIQ_TO_RGB = invert3(RGB_TO_YIQ);

/**
 * Shift hue by `turns` of the colour wheel as a rotation of the chroma plane (I, Q) of YIQ,
 * which keeps luma; the sign is chosen so that +1/3 turns red towards green, as HSV's hue does.
 */
export function hueMatrix(turns: number): number[] {
  const angle = -2 * Math.PI * turns;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const rotation = [1, 0, 0, 0, cos, -sin, 0, sin, cos];
  return multiply3(YIQ_TO_RGB, multiply3(rotation, RGB_TO_YIQ));
}

/**
 * Apply each image's own colour transform: `clip(M_i x + beta_i * meanGray_i(x), 0, 1)`, where
 * `meanGray_i` is the image's mean luma (the degenerate image of contrast).
 *
 * @param images [B, H, W, 3] float32.
 * @param matrices B row-major 3x3 matrices, concatenated (length 9B).
 * @param meanWeights per-image beta (length B), or null when every beta is 0.
 * @returns [B, H, W, 3] in [0, 1].
 */
export function applyColourTransforms(
  images: tf.Tensor4D,
  matrices: Float32Array,
  meanWeights: Float32Array | null,
): tf.Tensor4D {
  const [batch, height, width] = images.shape;
  return tf.tidy(() => {
    const pixels = tf.reshape(images, [batch, height * width, 3]);
    const m = tf.tensor3d(matrices, [batch, 3, 3]);
    let out: tf.Tensor = tf.reshape(tf.matMul(pixels, m, false, true), images.shape);
    if (meanWeights !== null) {
      const meanRgb = tf.mean(images, [1, 2]);
      const meanGray = tf.sum(tf.mul(meanRgb, tf.tensor1d([...GRAY_WEIGHTS])), 1);
      const bias = tf.mul(meanGray, tf.tensor1d(meanWeights));
      out = tf.add(out, tf.reshape(bias, [batch, 1, 1, 1]));
    }
    return tf.clipByValue(out, 0, 1) as tf.Tensor4D;
  });
}

function multiply3(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(9).fill(0);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      for (let k = 0; k < 3; k++) out[3 * r + c] += a[3 * r + k] * b[3 * k + c];
    }
  }
  return out;
}

function invert3(m: readonly number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    A / det,
    -(b * i - c * h) / det,
    (b * f - c * e) / det,
    B / det,
    (a * i - c * g) / det,
    -(a * f - c * d) / det,
    C / det,
    -(a * h - b * g) / det,
    (a * e - b * d) / det,
  ];
}
