/**
 * Random resized crop and horizontal flip in one `cropAndResize`: a flipped crop is a box whose
 * left edge lies right of its right edge, so the flip costs nothing.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Random } from "../util/random.ts";
import { checkImages } from "./check_images.ts";

/** Parameters of `randomResizedCropFlip`. */
export interface CropFlipOptions {
  /** Range of the crop's area as a fraction of the image's. */
  cropScale: readonly [number, number];
  /** Range of the crop's aspect ratio (width / height), sampled log-uniformly. */
  cropRatio: readonly [number, number];
  /** Probability of a horizontal flip. */
  flipProbability: number;
}

/** A crop in pixels: rows top..top+height-1, columns left..left+width-1. */
export interface CropWindow {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * Draw one crop window as torchvision's `RandomResizedCrop.get_params`: ten tries at an area
 * and aspect ratio that fit, else a centre crop with the ratio clamped into range.
 */
export function sampleCropWindow(
  rng: Random,
  height: number,
  width: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
): CropWindow {
  const area = height * width;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      return { top: rng.int(height - h + 1), left: rng.int(width - w + 1), height: h, width: w };
    }
  }
  const imageRatio = width / height;
  let w = width;
  let h = height;
  if (imageRatio < ratio[0]) {
    h = Math.round(w / ratio[0]);
  } else if (imageRatio > ratio[1]) {
    w = Math.round(h * ratio[1]);
  }
  return {
    top: Math.floor((height - h) / 2),
    left: Math.floor((width - w) / 2),
    height: h,
    width: w,
  };
}

/**
 * Crop each image to its own random window, flip it with `flipProbability`, and resize it
 * (bilinear) back to the input size.
 *
 * Boxes are in `cropAndResize`'s normalised corner coordinates: pixel p sits at p / (side - 1),
 * so the window's first and last pixels land exactly on the output's first and last, and the
 * full window with no flip returns the input unchanged.
 *
 * @param images [B, H, W, 3] float32 in [0, 1]; not disposed.
 * @returns [B, H, W, 3]; bilinear weights are convex, so values stay in [0, 1].
 */
export function randomResizedCropFlip(
  images: tf.Tensor4D,
  rng: Random,
  options: CropFlipOptions,
): tf.Tensor4D {
  checkImages(images, "crop images");
  const [batch, height, width] = images.shape;
  const boxes = new Float32Array(batch * 4);
  const yScale = 1 / Math.max(height - 1, 1);
  const xScale = 1 / Math.max(width - 1, 1);
  for (let i = 0; i < batch; i++) {
    const crop = sampleCropWindow(rng, height, width, options.cropScale, options.cropRatio);
    const flip = rng.next() < options.flipProbability;
    const x1 = crop.left * xScale;
    const x2 = (crop.left + crop.width - 1) * xScale;
    boxes[i * 4] = crop.top * yScale;
    boxes[i * 4 + 1] = flip ? x2 : x1;
    boxes[i * 4 + 2] = (crop.top + crop.height - 1) * yScale;
    boxes[i * 4 + 3] = flip ? x1 : x2;
  }
  return tf.tidy(() => {
    const boxIndices = tf.range(0, batch, 1, "int32") as tf.Tensor1D;
    return tf.image.cropAndResize(
      images,
      tf.tensor2d(boxes, [batch, 4]),
      boxIndices,
      [height, width],
      "bilinear",
    );
  });
}
