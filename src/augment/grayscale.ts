/** Random grayscale as torchvision's `RandomGrayscale(p)`: luma copied into all three channels. */
import * as tf from "@tensorflow/tfjs-core";
import type { Random } from "../util/random.ts";
import { checkImages } from "./check_images.ts";
import { grayscaleMatrix } from "./colour_matrix.ts";

/**
 * Turn each image to grayscale with probability `probability`.
 *
 * One shared 1x1 convolution makes every image's grayscale and a [B, 1, 1, 1] 0/1 weight picks
 * it or the image, as `(1 - w) x + w gray`, so both sides come out exact.
 *
 * @param images [B, H, W, 3] float32 in [0, 1]; not disposed.
 * @returns [B, H, W, 3]; the chosen images have three equal channels.
 */
export function randomGrayscale(
  images: tf.Tensor4D,
  rng: Random,
  probability: number,
): tf.Tensor4D {
  checkImages(images, "convert images to grayscale");
  const batch = images.shape[0];
  const weights = new Float32Array(batch);
  for (let i = 0; i < batch; i++) weights[i] = rng.next() < probability ? 1 : 0;
  return tf.tidy(() => {
    if (weights.every((w) => w === 0)) return tf.clone(images);
    const gray = grayscaleMatrix();
    // conv2d filters are [in, out]: column `out` holds the weights of output channel `out`.
    const filter = tf.transpose(tf.tensor2d(gray, [3, 3]));
    const grayImages = tf.conv2d(
      images,
      tf.reshape(filter, [1, 1, 3, 3]) as tf.Tensor4D,
      1,
      "valid",
    );
    const w = tf.tensor4d(weights, [batch, 1, 1, 1]);
    const keep = tf.tensor4d(weights.map((v) => 1 - v), [batch, 1, 1, 1]);
    return tf.add(tf.mul(images, keep), tf.mul(grayImages, w)) as tf.Tensor4D;
  });
}
