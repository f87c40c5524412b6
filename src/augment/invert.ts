/**
 * Random inversion, `1 - x`: for data whose classes come in either polarity (a light shape on a
 * dark ground or a dark one on a light ground), so that the pretext task learns polarity as a
 * nuisance, as colour jitter teaches it hue. Not in the paper's augmentations; off by default.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Random } from "../util/random.ts";
import { checkImages } from "./check_images.ts";

/**
 * Invert each image with probability `probability`. Draws nothing from `rng` when the
 * probability is 0, so turning the option off leaves every other random draw as it was.
 *
 * @param images [B, H, W, C] float32 in [0, 1]; not disposed.
 * @returns [B, H, W, C] in [0, 1]; the caller disposes it.
 */
export function randomInvert(images: tf.Tensor4D, rng: Random, probability: number): tf.Tensor4D {
  checkImages(images, "invert images");
  if (probability === 0) return tf.clone(images);
  const batch = images.shape[0];
  const flips = new Float32Array(batch);
  for (let i = 0; i < batch; i++) flips[i] = rng.next() < probability ? 1 : 0;
  return tf.tidy(() => {
    // x + w (1 - 2x) is x where w = 0 and 1 - x where w = 1, exactly.
    const w = tf.tensor4d(flips, [batch, 1, 1, 1]);
    return tf.add(images, tf.mul(w, tf.sub(1, tf.mul(2, images)))) as tf.Tensor4D;
  });
}
