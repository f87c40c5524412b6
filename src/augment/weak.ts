/**
 * The weak augmentation: SimCLR's view as SCAN's pretext stage uses it (random resized crop,
 * horizontal flip, colour jitter with probability 0.8, grayscale with probability 0.2; optionally inversion), on a
 * whole batch at once with per-image random parameters.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Random } from "../util/random.ts";
import { checkImages } from "./check_images.ts";
import { colourJitter } from "./colour_jitter.ts";
import { randomResizedCropFlip } from "./crop_flip.ts";
import { randomGrayscale } from "./grayscale.ts";
import { randomInvert } from "./invert.ts";
import { resolveWeakOptions, type WeakOptions } from "./options.ts";

/**
 * Weakly augment a batch: every image gets its own crop, flip, jitter and grayscale draw from
 * `rng`, so the same seed gives the same batch.
 *
 * @param images [B, S, S, 3] float32 in [0, 1]; not disposed.
 * @param options overrides of `DEFAULT_WEAK_OPTIONS`.
 * @returns [B, S, S, 3] in [0, 1]; the caller disposes it.
 * @throws {TypeError} for images of another shape or dtype; {RangeError} for bad options.
 */
export function weakAugment(
  images: tf.Tensor4D,
  rng: Random,
  options: Partial<WeakOptions> = {},
): tf.Tensor4D {
  checkImages(images, "augment images");
  const resolved = resolveWeakOptions(options);
  return tf.tidy(() => {
    const cropped = randomResizedCropFlip(images, rng, resolved);
    const jittered = colourJitter(cropped, rng, resolved);
    const gray = randomGrayscale(jittered, rng, resolved.grayscaleProbability);
    return randomInvert(gray, rng, resolved.invertProbability);
  });
}
