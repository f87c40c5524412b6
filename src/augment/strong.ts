/**
 * The strong augmentation of SCAN's self-labelling stage: the weak view, then RandAugment (4 ops
 * from SCAN's list, random magnitudes), then Cutout, batched with per-image random parameters.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Random } from "../util/random.ts";
import { checkImages } from "./check_images.ts";
import { cutout } from "./cutout.ts";
import { resolveStrongOptions, type StrongOptions } from "./options.ts";
import { randAugment } from "./rand_augment.ts";
import { weakAugment } from "./weak.ts";

/**
 * Strongly augment a batch; the same seed gives the same batch.
 *
 * @param images [B, S, S, 3] float32 in [0, 1]; not disposed.
 * @param options overrides of `DEFAULT_STRONG_OPTIONS`.
 * @returns [B, S, S, 3] in [0, 1]; the caller disposes it.
 * @throws {TypeError} for images of another shape or dtype; {RangeError} for bad options.
 */
export function strongAugment(
  images: tf.Tensor4D,
  rng: Random,
  options: Partial<StrongOptions> = {},
): tf.Tensor4D {
  checkImages(images, "augment images");
  const resolved = resolveStrongOptions(options);
  const [, height, width] = images.shape;
  const length = Math.max(1, Math.round(resolved.cutoutFraction * Math.min(height, width)));
  return tf.tidy(() => {
    const weak = weakAugment(images, rng, resolved);
    const augmented = randAugment(weak, rng, resolved.numOps, resolved.ops);
    return cutout(augmented, rng, {
      holes: resolved.cutoutHoles,
      length,
      randomLength: resolved.cutoutRandomLength,
      fill: resolved.cutoutFill,
    });
  });
}
