/**
 * Images of any size to the model's fixed input: [B, S, S, 3] floats in [0, 1], resized
 * bilinearly (half-pixel centres, as PIL and OpenCV sample). Images more than twice the target
 * size are first box-averaged by an integer factor, because bilinear sampling alone reads only
 * 4 pixels per output pixel and would alias stripes and noise into the result.
 */
import * as tf from "@tensorflow/tfjs-core";

/** Pixels as decoded: `rgb` is width * height * 3 bytes, or width * height for grayscale. */
export interface Pixels {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/**
 * Resize and scale a batch of images for the model.
 *
 * @param images RGB (or one-channel gray, replicated to 3 channels) pixel buffers.
 * @param size the side S of the square model input (default 32).
 * @returns a [B, S, S, 3] float32 tensor with values in [0, 1]; the caller disposes it.
 * @throws {RangeError} for a bad size or a buffer whose length does not match its dimensions.
 */
export function toModelInput(images: Pixels[], size = 32): tf.Tensor4D {
  checkSize(size, "toModelInput");
  return tf.tidy(() => {
    if (images.length === 0) return tf.zeros([0, size, size, 3]) as tf.Tensor4D;
    const resized = images.map((image, i) => resize(image, size, `toModelInput: image ${i}`));
    return tf.div(tf.stack(resized), 255) as tf.Tensor4D;
  });
}

/**
 * Resize one image to S x S RGB bytes (S * S * 3), the form images are stored and sent in; the
 * same resampling as `toModelInput`, so storing first and converting later gives the same input.
 *
 * @throws {RangeError} for a bad size or a buffer whose length does not match its dimensions.
 */
export function toPixels(rgb: Uint8Array, width: number, height: number, size: number): Uint8Array {
  checkSize(size, "toPixels");
  return tf.tidy(() => {
    const resized = resize({ width, height, rgb }, size, "toPixels");
    return Uint8Array.from(tf.clipByValue(tf.round(resized), 0, 255).dataSync());
  });
}

function checkSize(size: number, caller: string): void {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(
      `Cannot run ${caller}: size must be a positive integer, current value is ${size}`,
    );
  }
}

/** A [S, S, 3] float tensor with values in [0, 255]. */
function resize(image: Pixels, size: number, context: string): tf.Tensor3D {
  const { width, height, rgb } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(
      `Cannot run ${context}: width and height must be positive integers, current value is ` +
        `${width}x${height}`,
    );
  }
  const n = width * height;
  if (rgb.length !== n * 3 && rgb.length !== n) {
    throw new RangeError(
      `Cannot run ${context}: a ${width}x${height} image needs ${n * 3} RGB or ${n} gray bytes, ` +
        `current length is ${rgb.length}`,
    );
  }
  const channels = rgb.length === n ? 1 : 3;
  const box = boxDownscale(rgb, width, height, channels, size);
  let pixels: tf.Tensor3D = tf.tensor3d(box.data, [box.height, box.width, channels]);
  if (channels === 1) pixels = tf.tile(pixels, [1, 1, 3]);
  if (box.width === size && box.height === size) return pixels;
  return tf.image.resizeBilinear(pixels, [size, size], false, true);
}

/** Average blocks of floor(side / size) pixels (partial blocks at the edges average fewer). */
function boxDownscale(
  rgb: Uint8Array,
  width: number,
  height: number,
  channels: number,
  size: number,
): { data: Float32Array; width: number; height: number } {
  const fx = Math.max(1, Math.floor(width / size));
  const fy = Math.max(1, Math.floor(height / size));
  if (fx === 1 && fy === 1) return { data: Float32Array.from(rgb), width, height };
  const outWidth = Math.ceil(width / fx);
  const outHeight = Math.ceil(height / fy);
  const sums = new Float32Array(outWidth * outHeight * channels);
  const counts = new Float32Array(outWidth * outHeight);
  for (let y = 0; y < height; y++) {
    const row = Math.floor(y / fy) * outWidth;
    for (let x = 0; x < width; x++) {
      const cell = row + Math.floor(x / fx);
      counts[cell]++;
      for (let c = 0; c < channels; c++) {
        sums[cell * channels + c] += rgb[(y * width + x) * channels + c];
      }
    }
  }
  for (let i = 0; i < sums.length; i++) sums[i] /= counts[Math.floor(i / channels)];
  return { data: sums, width: outWidth, height: outHeight };
}
