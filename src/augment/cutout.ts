/**
 * Cutout as SCAN's `Cutout(n_holes, length, random)`: per hole, a centre uniform over the
 * pixels and a square of side 2 * floor(length / 2) clipped to the image, filled with a constant.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Random } from "../util/random.ts";
import { checkImages } from "./check_images.ts";

/** Parameters of `cutout`. */
export interface CutoutOptions {
  /** Holes per image. */
  holes: number;
  /** Longest side in pixels before clipping (SCAN: 16 for 32 px images). */
  length: number;
  /** Draw each image's length uniformly from 1..length, as SCAN's `random=True`. */
  randomLength: boolean;
  /** Value written into the holes. */
  fill: number;
}

/** A hole in pixels: rows top..bottom-1, columns left..right-1 (empty when top = bottom). */
export interface Hole {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** Draw one image's holes as SCAN does (one length per image, shared by its holes). */
export function sampleHoles(
  rng: Random,
  height: number,
  width: number,
  options: CutoutOptions,
): Hole[] {
  const length = options.randomLength ? 1 + rng.int(options.length) : options.length;
  const half = Math.floor(length / 2);
  const holes: Hole[] = [];
  for (let h = 0; h < options.holes; h++) {
    const y = rng.int(height);
    const x = rng.int(width);
    holes.push({
      top: clamp(y - half, 0, height),
      bottom: clamp(y + half, 0, height),
      left: clamp(x - half, 0, width),
      right: clamp(x + half, 0, width),
    });
  }
  return holes;
}

/**
 * Cut holes out of every image.
 *
 * The mask is an outer product per image of a row indicator [B, H, 1, 1] and a column indicator
 * [B, 1, W, 3] built by comparing pixel indices with the hole's bounds; indicators come from
 * `clip(index - top + 1, 0, 1) * clip(bottom - index, 0, 1)` on integers, which wasm runs as
 * fast elementwise kernels where comparison kernels broadcast slowly.
 *
 * @param images [B, H, W, 3] float32 in [0, 1]; not disposed.
 * @returns [B, H, W, 3] with the holes set to `options.fill`.
 */
export function cutout(images: tf.Tensor4D, rng: Random, options: CutoutOptions): tf.Tensor4D {
  checkImages(images, "cut out holes");
  if (!Number.isInteger(options.holes) || options.holes < 0) {
    throw new RangeError(
      `Cannot cut out holes: holes must be a non-negative integer, current value is ${options.holes}`,
    );
  }
  if (!Number.isInteger(options.length) || options.length < 1) {
    throw new RangeError(
      `Cannot cut out holes: length must be a positive integer, current value is ${options.length}`,
    );
  }
  const [batch, height, width] = images.shape;
  const perImage = Array.from({ length: batch }, () => sampleHoles(rng, height, width, options));
  return tf.tidy(() => {
    if (options.holes === 0) return tf.clone(images);
    const rows = tf.reshape(tf.range(0, height, 1, "float32"), [1, height, 1, 1]);
    const columns = tf.tile(tf.reshape(tf.range(0, width, 1, "float32"), [1, 1, width, 1]), [
      1,
      1,
      1,
      3,
    ]);
    let keep: tf.Tensor = tf.scalar(1);
    for (let h = 0; h < options.holes; h++) {
      const bound = (key: keyof Hole) =>
        tf.tensor4d(perImage.map((holes) => holes[h][key]), [batch, 1, 1, 1]);
      const inRows = between(rows, bound("top"), bound("bottom"));
      const inColumns = between(columns, bound("left"), bound("right"));
      keep = tf.mul(keep, tf.sub(1, tf.mul(inRows, inColumns)));
    }
    const kept = tf.mul(images, keep);
    if (options.fill === 0) return kept as tf.Tensor4D;
    return tf.add(kept, tf.mul(tf.sub(1, keep), options.fill)) as tf.Tensor4D;
  });
}

/** 1 where lo <= index < hi, else 0, for integer-valued tensors. */
function between(index: tf.Tensor, lo: tf.Tensor, hi: tf.Tensor): tf.Tensor {
  const aboveLo = tf.clipByValue(tf.add(tf.sub(index, lo), 1), 0, 1);
  const belowHi = tf.clipByValue(tf.sub(hi, index), 0, 1);
  return tf.mul(aboveLo, belowHi);
}

function clamp(value: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, value));
}
