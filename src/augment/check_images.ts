/** Input validation shared by the augmentations. */
import * as tf from "@tensorflow/tfjs-core";

/**
 * Check that `images` is a float32 batch of RGB images, [B, H, W, 3].
 *
 * @throws {TypeError} for another rank, channel count or dtype.
 */
export function checkImages(images: tf.Tensor, action: string): void {
  if (images.rank !== 4 || images.shape[3] !== 3) {
    throw new TypeError(
      `Cannot ${action}: images must have shape [B, H, W, 3], current shape is ` +
        `[${images.shape.join(", ")}]`,
    );
  }
  if (images.dtype !== "float32") {
    throw new TypeError(
      `Cannot ${action}: images must be float32 in [0, 1], current dtype is ${images.dtype}`,
    );
  }
}
