/**
 * Options of the weak and strong augmentations, with the defaults of the SCAN configs for
 * 32x32 images (`configs/pretext/simclr_cifar10.yml` for the weak view,
 * `configs/selflabel/selflabel_cifar10.yml` for the strong one), and their validation.
 */

/** The RandAugment operations of SCAN's `augment_list` (`data/augment.py`). */
export const RAND_AUGMENT_OPS = [
  "identity",
  "autocontrast",
  "equalize",
  "rotate",
  "solarize",
  "colour",
  "contrast",
  "brightness",
  "sharpness",
  "shearX",
  "translateX",
  "translateY",
  "posterize",
  "shearY",
] as const;

/** One RandAugment operation. */
export type RandAugmentOp = typeof RAND_AUGMENT_OPS[number];

/** Options of `weakAugment`: SimCLR's view, as SCAN trains its pretext task with it. */
export interface WeakOptions {
  /** Range of the crop's area as a fraction of the image's (random resized crop). Default [0.2, 1]. */
  cropScale: readonly [number, number];
  /** Range of the crop's aspect ratio, width over height, sampled log-uniformly. Default [3/4, 4/3]. */
  cropRatio: readonly [number, number];
  /** Probability of a horizontal flip. Default 0.5. */
  flipProbability: number;
  /** Probability that an image gets colour jitter at all (SCAN's `RandomApply`). Default 0.8. */
  jitterProbability: number;
  /** Brightness factor drawn from [1 - b, 1 + b]. Default 0.4. */
  brightness: number;
  /** Contrast factor drawn from [1 - c, 1 + c]. Default 0.4. */
  contrast: number;
  /** Saturation factor drawn from [1 - s, 1 + s]. Default 0.4. */
  saturation: number;
  /** Hue shift drawn from [-h, h], in turns of the colour wheel; at most 0.5. Default 0.1. */
  hue: number;
  /** Probability of converting an image to grayscale (kept as 3 equal channels). Default 0.2. */
  grayscaleProbability: number;
  /**
   * Probability of inverting an image (`1 - x`), after the rest. Default 0, as the paper; for
   * data where a class appears in either polarity (see `randomInvert`).
   */
  invertProbability: number;
}

/** Options of `strongAugment`: the weak view, then RandAugment, then Cutout. */
export interface StrongOptions extends WeakOptions {
  /** RandAugment operations applied in sequence to each image. Default 4. */
  numOps: number;
  /** The operations each step draws from, uniformly. Default all of `RAND_AUGMENT_OPS`. */
  ops: readonly RandAugmentOp[];
  /** Cutout holes per image. Default 1. */
  cutoutHoles: number;
  /** Longest cutout side as a fraction of the image side (SCAN: 16 px of 32). Default 0.5. */
  cutoutFraction: number;
  /** Draw each image's cutout side uniformly from 1..longest, as SCAN's `random=True`. Default true. */
  cutoutRandomLength: boolean;
  /**
   * Value written into the holes. Default 0: SCAN zeroes the holes of the normalised tensor,
   * which is the dataset's mean colour; this pipeline's inputs are not normalised, so 0 is black.
   */
  cutoutFill: number;
}

export const DEFAULT_WEAK_OPTIONS: Readonly<WeakOptions> = Object.freeze({
  cropScale: [0.2, 1] as const,
  cropRatio: [3 / 4, 4 / 3] as const,
  flipProbability: 0.5,
  jitterProbability: 0.8,
  brightness: 0.4,
  contrast: 0.4,
  saturation: 0.4,
  hue: 0.1,
  grayscaleProbability: 0.2,
  invertProbability: 0,
});

export const DEFAULT_STRONG_OPTIONS: Readonly<StrongOptions> = Object.freeze({
  ...DEFAULT_WEAK_OPTIONS,
  numOps: 4,
  ops: RAND_AUGMENT_OPS,
  cutoutHoles: 1,
  cutoutFraction: 0.5,
  cutoutRandomLength: true,
  cutoutFill: 0,
});

/**
 * Fill in defaults and validate.
 *
 * @throws {RangeError} when a probability, range or factor is out of bounds.
 */
export function resolveWeakOptions(options: Partial<WeakOptions> = {}): Readonly<WeakOptions> {
  const resolved = { ...DEFAULT_WEAK_OPTIONS, ...options };
  checkRange("cropScale", resolved.cropScale, 0, 1, true);
  checkRange("cropRatio", resolved.cropRatio, 0, Infinity, true);
  checkBetween("flipProbability", resolved.flipProbability, 0, 1);
  checkBetween("jitterProbability", resolved.jitterProbability, 0, 1);
  checkBetween("grayscaleProbability", resolved.grayscaleProbability, 0, 1);
  checkBetween("invertProbability", resolved.invertProbability, 0, 1);
  checkBetween("brightness", resolved.brightness, 0, 1);
  checkBetween("contrast", resolved.contrast, 0, 1);
  checkBetween("saturation", resolved.saturation, 0, 1);
  checkBetween("hue", resolved.hue, 0, 0.5);
  return Object.freeze(resolved);
}

/**
 * Fill in defaults and validate.
 *
 * @throws {RangeError} when an option is out of bounds or names an unknown operation.
 */
export function resolveStrongOptions(
  options: Partial<StrongOptions> = {},
): Readonly<StrongOptions> {
  const resolved = { ...DEFAULT_STRONG_OPTIONS, ...options };
  resolveWeakOptions(resolved);
  checkInteger("numOps", resolved.numOps);
  checkInteger("cutoutHoles", resolved.cutoutHoles);
  checkBetween("cutoutFraction", resolved.cutoutFraction, 0, 1);
  checkBetween("cutoutFill", resolved.cutoutFill, 0, 1);
  if (resolved.ops.length === 0) {
    throw new RangeError("Cannot augment images: ops must name at least one operation");
  }
  for (const op of resolved.ops) {
    if (!(RAND_AUGMENT_OPS as readonly string[]).includes(op)) {
      throw new RangeError(
        `Cannot augment images: ops must be among ${RAND_AUGMENT_OPS.join(", ")}, ` +
          `current value is ${op}`,
      );
    }
  }
  return Object.freeze({ ...resolved, ops: Object.freeze([...resolved.ops]) });
}

function checkBetween(name: string, value: number, lo: number, hi: number): void {
  if (!(value >= lo && value <= hi)) {
    throw new RangeError(
      `Cannot augment images: ${name} must be in [${lo}, ${hi}], current value is ${value}`,
    );
  }
}

function checkInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot augment images: ${name} must be a non-negative integer, current value is ${value}`,
    );
  }
}

function checkRange(
  name: string,
  range: readonly [number, number],
  lo: number,
  hi: number,
  positive: boolean,
): void {
  const [a, b] = range;
  if (!(a <= b && a >= lo && b <= hi && (!positive || a > 0))) {
    throw new RangeError(
      `Cannot augment images: ${name} must be an increasing pair within ` +
        `${positive ? "(" : "["}${lo}, ${hi}], current value is [${a}, ${b}]`,
    );
  }
}
