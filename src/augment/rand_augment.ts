/**
 * RandAugment as SCAN's `Augment(n)`: each image draws `n` operations uniformly from the list
 * (with replacement), each with a magnitude uniform in the op's range, and applies them in turn.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Random } from "../util/random.ts";
import { checkImages } from "./check_images.ts";
import { RAND_AUGMENT_OPS, type RandAugmentOp } from "./options.ts";
import {
  autocontrast,
  type BatchOp,
  brightness,
  colour,
  contrast,
  equalize,
  type GeometricOp,
  geometricTransform,
  IDENTITY_TRANSFORM,
  posterize,
  sharpness,
  solarize,
  warpImages,
} from "./rand_augment_ops.ts";

/** Magnitude ranges of SCAN's `augment_list`, in each op's own units. */
export const MAGNITUDE_RANGES: Readonly<Record<RandAugmentOp, readonly [number, number]>> = Object
  .freeze({
    identity: [0, 1],
    autocontrast: [0, 1],
    equalize: [0, 1],
    rotate: [-30, 30],
    solarize: [0, 256],
    colour: [0.05, 0.95],
    contrast: [0.05, 0.95],
    brightness: [0.05, 0.95],
    sharpness: [0.05, 0.95],
    shearX: [-0.1, 0.1],
    translateX: [-0.1, 0.1],
    translateY: [-0.1, 0.1],
    posterize: [4, 8],
    shearY: [-0.1, 0.1],
  });

const GEOMETRIC: ReadonlySet<RandAugmentOp> = new Set<RandAugmentOp>([
  "rotate",
  "shearX",
  "shearY",
  "translateX",
  "translateY",
]);

const PIXEL_OPS: ReadonlyArray<readonly [RandAugmentOp, BatchOp]> = [
  ["autocontrast", autocontrast],
  ["equalize", equalize],
  ["solarize", solarize],
  ["colour", colour],
  ["contrast", contrast],
  ["brightness", brightness],
  ["sharpness", sharpness],
  ["posterize", posterize],
];

/**
 * Apply `numOps` random operations to every image.
 *
 * Each step is batched: every image draws its op, and every op runs once over the batch with
 * the images that drew another op left untouched (NaN magnitude), so the images of a step see
 * exactly one op each. All geometric ops of a step share one `tf.image.transform`.
 *
 * @param images [B, H, W, 3] float32 in [0, 1]; not disposed.
 * @param ops the list to draw from (default SCAN's full list).
 * @returns [B, H, W, 3] in [0, 1].
 */
export function randAugment(
  images: tf.Tensor4D,
  rng: Random,
  numOps: number,
  ops: readonly RandAugmentOp[] = RAND_AUGMENT_OPS,
): tf.Tensor4D {
  checkImages(images, "apply RandAugment");
  if (!Number.isInteger(numOps) || numOps < 0) {
    throw new RangeError(
      `Cannot apply RandAugment: numOps must be a non-negative integer, current value is ${numOps}`,
    );
  }
  if (ops.length === 0) {
    throw new RangeError("Cannot apply RandAugment: ops must name at least one operation");
  }
  const batch = images.shape[0];
  const steps: { op: RandAugmentOp[]; magnitude: Float64Array }[] = [];
  for (let step = 0; step < numOps; step++) {
    const op: RandAugmentOp[] = [];
    const magnitude = new Float64Array(batch);
    for (let i = 0; i < batch; i++) {
      const chosen = ops[rng.int(ops.length)];
      const [lo, hi] = MAGNITUDE_RANGES[chosen];
      op.push(chosen);
      magnitude[i] = lo + (hi - lo) * rng.next();
    }
    steps.push({ op, magnitude });
  }
  return tf.tidy(() => {
    let out = images;
    for (const { op, magnitude } of steps) out = applyStep(out, op, magnitude);
    return out === images ? tf.clone(images) : out;
  });
}

function applyStep(
  images: tf.Tensor4D,
  op: readonly RandAugmentOp[],
  magnitude: Float64Array,
): tf.Tensor4D {
  const [batch, height, width] = images.shape;
  let out = images;
  if (op.some((o) => GEOMETRIC.has(o))) {
    const transforms = new Float32Array(batch * 8);
    for (let i = 0; i < batch; i++) {
      const row = GEOMETRIC.has(op[i])
        ? geometricTransform(op[i] as GeometricOp, magnitude[i], height, width)
        : IDENTITY_TRANSFORM;
      transforms.set(row, i * 8);
    }
    out = warpImages(out, transforms);
  }
  for (const [name, apply] of PIXEL_OPS) {
    if (!op.includes(name)) continue;
    out = apply(out, Float64Array.from(op, (o, i) => o === name ? magnitude[i] : NaN));
  }
  return out;
}
