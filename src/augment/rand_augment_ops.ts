/**
 * The operations of SCAN's RandAugment list (`data/augment.py`, after PIL's `ImageOps` and
 * `ImageEnhance`), each over a whole batch with one magnitude per image.
 *
 * Every op takes `magnitudes` of length B in SCAN's units (degrees, pixel levels 0..256,
 * enhancement factors, shear factors, fractions of the side, bits); a NaN magnitude leaves that
 * image exactly as it is, so a RandAugment step can run each op once over the batch with the
 * images that drew another op masked out. Pixel levels are PIL's: a value x in [0, 1] is level
 * round(255 x).
 */
import * as tf from "@tensorflow/tfjs-core";
import { checkImages } from "./check_images.ts";

/** A RandAugment operation over a batch; see the module doc for `magnitudes`. */
export type BatchOp = (images: tf.Tensor4D, magnitudes: ArrayLike<number>) => tf.Tensor4D;

/** PIL's luma weights for `convert("L")` (ITU-R 601, in thousandths). */
const PIL_GRAY_WEIGHTS = [0.299, 0.587, 0.114];

/** PIL's `ImageFilter.SMOOTH`, the degenerate image of `ImageEnhance.Sharpness`. */
const SMOOTH_KERNEL = [1, 1, 1, 1, 5, 1, 1, 1, 1].map((v) => v / 13);

/** Leave the images as they are. */
export const identity: BatchOp = (images) => tf.clone(images);

/**
 * PIL `autocontrast`: stretch each channel of each image so its lowest level maps to 0 and its
 * highest to 1; a flat channel is left as it is.
 */
export const autocontrast: BatchOp = (images, magnitudes) =>
  onChosen(images, magnitudes, "autocontrast", (subset) => {
    const lo = tf.min(subset, [1, 2], true);
    const range = tf.sub(tf.max(subset, [1, 2], true), lo);
    const flat = tf.lessEqual(range, 1e-6);
    const scale = tf.where(flat, tf.onesLike(range), tf.div(1, tf.maximum(range, 1e-6)));
    const offset = tf.where(flat, tf.zerosLike(lo), lo);
    return tf.clipByValue(tf.mul(tf.sub(subset, offset), scale), 0, 1) as tf.Tensor4D;
  });

/**
 * PIL `equalize`: map each channel's levels through its cumulative histogram, with PIL's exact
 * lookup table (`step = (n - count of the top level) // 255`, level v to
 * `(step // 2 + count below v) // step`); a channel with `step` 0 is left as it is.
 */
export const equalize: BatchOp = (images, magnitudes) =>
  onChosen(images, magnitudes, "equalize", (subset) => {
    const [n, height, width] = subset.shape;
    const pixels = height * width;
    const rows = n * 3;
    const levels = tf.round(tf.mul(tf.clipByValue(subset, 0, 1), 255));
    // Each (image, channel) owns 256 consecutive bins, so one 1-D bincount histograms them all.
    const rowOffsets = tf.reshape(tf.mul(tf.range(0, rows, 1, "float32"), 256), [n, 1, 1, 3]);
    const bins = tf.cast(tf.reshape(tf.add(levels, rowOffsets), [-1]), "int32") as tf.Tensor1D;
    const histogram = tf.reshape(
      tf.bincount(bins, tf.tensor1d([], "float32"), rows * 256),
      [rows, 256],
    );
    const below = tf.cumsum(histogram, 1, true);
    const topLevel = tf.reshape(tf.max(levels, [1, 2]), [rows]);
    const topBins = tf.cast(tf.add(topLevel, tf.range(0, rows * 256, 256, "float32")), "int32");
    const topCount = tf.gather(tf.reshape(histogram, [-1]), topBins);
    const step = tf.floor(tf.div(tf.sub(pixels, topCount), 255));
    const degenerate = tf.reshape(tf.lessEqual(step, 0), [rows, 1]);
    const safeStep = tf.reshape(tf.maximum(step, 1), [rows, 1]);
    const lut = tf.where(
      degenerate,
      tf.tile(tf.reshape(tf.range(0, 256, 1, "float32"), [1, 256]), [rows, 1]),
      tf.minimum(tf.floor(tf.div(tf.add(tf.floor(tf.div(safeStep, 2)), below), safeStep)), 255),
    );
    const mapped = tf.gather(tf.reshape(lut, [-1]), bins);
    return tf.reshape(tf.div(mapped, 255), [n, height, width, 3]) as tf.Tensor4D;
  });

/** PIL `solarize`: invert (1 - x) every level at or above the threshold (0..256 levels). */
export const solarize: BatchOp = (images, magnitudes) =>
  onChosen(images, magnitudes, "solarize images", (subset, thresholds) => {
    const levels = tf.round(tf.mul(subset, 255));
    const firstInverted = perImage(thresholds.map(Math.ceil));
    // Levels are integers, so clip(level - first + 1, 0, 1) is exactly [level >= first].
    const inverted = tf.clipByValue(tf.add(tf.sub(levels, firstInverted), 1), 0, 1);
    return tf.add(subset, tf.mul(inverted, tf.sub(1, tf.mul(subset, 2)))) as tf.Tensor4D;
  });

/** PIL `posterize`: keep the top floor(m) bits of each 8-bit level. */
export const posterize: BatchOp = (images, magnitudes) =>
  onChosen(images, magnitudes, "posterize images", (subset, bits) => {
    const bucket = perImage(bits.map((b) => 2 ** (8 - Math.min(8, Math.max(0, Math.floor(b))))));
    const levels = tf.round(tf.mul(subset, 255));
    const kept = tf.mul(tf.floor(tf.div(levels, bucket)), bucket);
    return tf.div(kept, 255) as tf.Tensor4D;
  });

/** PIL `ImageEnhance.Color`: blend with the image's grayscale by factor m (1 = unchanged). */
export const colour: BatchOp = (images, magnitudes) =>
  enhance(images, magnitudes, "adjust colour", (x) => {
    const toGray = PIL_GRAY_WEIGHTS.flatMap((w) => [w, w, w]);
    return tf.conv2d(x, tf.tensor4d(toGray, [1, 1, 3, 3]), 1, "valid");
  });

/** PIL `ImageEnhance.Contrast`: blend with the image's mean gray level by factor m. */
export const contrast: BatchOp = (images, magnitudes) =>
  enhance(images, magnitudes, "adjust contrast", (x) => {
    const meanRgb = tf.mean(x, [1, 2]);
    const meanGray = tf.sum(tf.mul(meanRgb, tf.tensor1d(PIL_GRAY_WEIGHTS)), 1);
    return tf.reshape(meanGray, [x.shape[0], 1, 1, 1]);
  });

/** PIL `ImageEnhance.Brightness`: blend with black by factor m. */
export const brightness: BatchOp = (images, magnitudes) =>
  enhance(images, magnitudes, "adjust brightness", () => tf.scalar(0));

/**
 * PIL `ImageEnhance.Sharpness`: blend with the image smoothed by PIL's SMOOTH kernel (the border
 * pixels, which PIL's 3x3 filter copies, stay unsmoothed) by factor m.
 */
export const sharpness: BatchOp = (images, magnitudes) =>
  onChosen(
    images,
    magnitudes,
    "adjust sharpness",
    (subset, factors) =>
      enhance(subset, factors, "adjust sharpness", (x) => {
        const [, height, width] = x.shape;
        const kernel = tf.tile(tf.tensor4d(SMOOTH_KERNEL, [3, 3, 1, 1]), [1, 1, 3, 1]);
        const smooth = tf.depthwiseConv2d(x, kernel as tf.Tensor4D, 1, "same");
        const interior = height < 3 || width < 3
          ? tf.zeros([1, height, width, 3])
          : tf.pad(tf.ones([1, height - 2, width - 2, 3]), [[0, 0], [1, 1], [1, 1], [0, 0]]);
        return tf.add(x, tf.mul(interior, tf.sub(smooth, x)));
      }),
  );

/** PIL `rotate`: counter-clockwise by m degrees about the centre, black outside. */
export const rotate: BatchOp = (images, magnitudes) =>
  warp(images, magnitudes, "rotate images", geometricTransform.bind(null, "rotate"));

/** PIL affine shear along x: input x = x + m y. */
export const shearX: BatchOp = (images, magnitudes) =>
  warp(images, magnitudes, "shear images", geometricTransform.bind(null, "shearX"));

/** PIL affine shear along y: input y = y + m x. */
export const shearY: BatchOp = (images, magnitudes) =>
  warp(images, magnitudes, "shear images", geometricTransform.bind(null, "shearY"));

/** PIL affine translation along x by m image widths: input x = x + m W. */
export const translateX: BatchOp = (images, magnitudes) =>
  warp(images, magnitudes, "translate images", geometricTransform.bind(null, "translateX"));

/** PIL affine translation along y by m image heights: input y = y + m H. */
export const translateY: BatchOp = (images, magnitudes) =>
  warp(images, magnitudes, "translate images", geometricTransform.bind(null, "translateY"));

/** The geometric operations, which RandAugment fuses into one `transform` per step. */
export type GeometricOp = "rotate" | "shearX" | "shearY" | "translateX" | "translateY";

/**
 * The `tf.image.transform` row (output pixel to input pixel, 8 numbers) of a geometric op.
 *
 * PIL maps pixel centres at (x + 0.5, y + 0.5); `transform` maps integer pixel indices, so the
 * PIL affine (a b c; d e f) becomes x_in = a x + b y + (c + (a + b - 1) / 2), likewise for y.
 */
export function geometricTransform(
  op: GeometricOp,
  magnitude: number,
  height: number,
  width: number,
): number[] {
  let pil: [number, number, number, number, number, number];
  switch (op) {
    case "rotate": {
      const angle = -magnitude * Math.PI / 180;
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const cx = width / 2;
      const cy = height / 2;
      pil = [cos, sin, cx - cos * cx - sin * cy, -sin, cos, cy + sin * cx - cos * cy];
      break;
    }
    case "shearX":
      pil = [1, magnitude, 0, 0, 1, 0];
      break;
    case "shearY":
      pil = [1, 0, 0, magnitude, 1, 0];
      break;
    case "translateX":
      pil = [1, 0, magnitude * width, 0, 1, 0];
      break;
    case "translateY":
      pil = [1, 0, 0, 0, 1, magnitude * height];
      break;
  }
  const [a, b, c, d, e, f] = pil;
  return [a, b, c + (a + b - 1) / 2, d, e, f + (d + e - 1) / 2, 0, 0];
}

/** The identity row of `tf.image.transform`. */
export const IDENTITY_TRANSFORM: readonly number[] = Object.freeze([1, 0, 0, 0, 1, 0, 0, 0]);

/**
 * Warp each image by its own `tf.image.transform` row (bilinear, black outside). The identity
 * row samples exactly at pixel centres, so it returns the image unchanged.
 *
 * @param transforms B rows of 8, concatenated.
 */
export function warpImages(images: tf.Tensor4D, transforms: Float32Array): tf.Tensor4D {
  return tf.tidy(() => {
    const batch = images.shape[0];
    const rows = tf.tensor2d(transforms, [batch, 8]);
    let warped: tf.Tensor4D;
    if (tf.getBackend() === "cpu" && batch > 1) {
      // tfjs-backend-cpu 4.22's Transform returns after the first image (the rest stay black),
      // so that backend gets one call per image.
      const one = (i: number) =>
        tf.image.transform(
          tf.slice(images, [i, 0, 0, 0], [1, -1, -1, -1]),
          tf.slice(rows, [i, 0], [1, 8]),
          "bilinear",
          "constant",
          0,
        );
      warped = tf.concat(Array.from({ length: batch }, (_, i) => one(i)));
    } else {
      warped = tf.image.transform(images, rows, "bilinear", "constant", 0);
    }
    return tf.clipByValue(warped, 0, 1) as tf.Tensor4D;
  });
}

function warp(
  images: tf.Tensor4D,
  magnitudes: ArrayLike<number>,
  action: string,
  row: (magnitude: number, height: number, width: number) => number[],
): tf.Tensor4D {
  checkImages(images, action);
  checkLength(images, magnitudes, action);
  const [batch, height, width] = images.shape;
  const transforms = new Float32Array(batch * 8);
  for (let i = 0; i < batch; i++) {
    const m = magnitudes[i];
    transforms.set(Number.isNaN(m) ? IDENTITY_TRANSFORM : row(m, height, width), i * 8);
  }
  return warpImages(images, transforms);
}

/**
 * PIL's `ImageEnhance` blend `degenerate + m (x - degenerate)`, written as
 * `m x + (1 - m) degenerate` so that m = 1 (and NaN) returns x bit for bit.
 */
function enhance(
  images: tf.Tensor4D,
  magnitudes: ArrayLike<number>,
  action: string,
  degenerate: (x: tf.Tensor4D) => tf.Tensor,
): tf.Tensor4D {
  checkImages(images, action);
  checkLength(images, magnitudes, action);
  return tf.tidy(() => {
    const factors = Float32Array.from(magnitudes, (m) => Number.isNaN(m) ? 1 : m);
    const blended = tf.add(
      tf.mul(images, perImage(factors)),
      tf.mul(degenerate(images), perImage(factors.map((f) => 1 - f))),
    );
    return tf.clipByValue(blended, 0, 1) as tf.Tensor4D;
  });
}

/**
 * Run `op` on the images whose magnitude is not NaN only, and put the results back in place:
 * a step of RandAugment gives each op about a fourteenth of the batch, and gathering those few
 * images costs less than running a costly op on all of them.
 */
function onChosen(
  images: tf.Tensor4D,
  magnitudes: ArrayLike<number>,
  action: string,
  op: (subset: tf.Tensor4D, magnitudes: Float64Array) => tf.Tensor4D,
): tf.Tensor4D {
  checkImages(images, action);
  checkLength(images, magnitudes, action);
  const chosen: number[] = [];
  for (let i = 0; i < magnitudes.length; i++) {
    if (!Number.isNaN(magnitudes[i])) chosen.push(i);
  }
  const chosenMagnitudes = Float64Array.from(chosen, (i) => magnitudes[i]);
  return tf.tidy(() => {
    if (chosen.length === 0) return tf.clone(images);
    if (chosen.length === images.shape[0]) return op(images, chosenMagnitudes);
    const indices = tf.tensor1d(chosen, "int32");
    const updated = op(tf.gather(images, indices), chosenMagnitudes);
    // Not tensorScatterUpdate: tfjs-backend-cpu 4.22 writes it into its input tensor's buffer.
    const scattered = tf.scatterND(tf.reshape(indices, [-1, 1]), updated, images.shape);
    const keep = Float32Array.from(magnitudes, (m) => Number.isNaN(m) ? 1 : 0);
    return tf.add(tf.mul(images, perImage(keep)), scattered) as tf.Tensor4D;
  });
}

function perImage(values: ArrayLike<number>): tf.Tensor4D {
  return tf.tensor4d(Float32Array.from(values), [values.length, 1, 1, 1]);
}

function checkLength(images: tf.Tensor4D, magnitudes: ArrayLike<number>, action: string): void {
  if (magnitudes.length !== images.shape[0]) {
    throw new RangeError(
      `Cannot ${action}: magnitudes must have one value per image (${images.shape[0]}), ` +
        `current length is ${magnitudes.length}`,
    );
  }
}
