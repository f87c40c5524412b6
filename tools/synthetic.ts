/**
 * A labelled synthetic image set for end-to-end tests: six classes that differ in shape or
 * texture only. Colours (foreground and background), position, scale, phase, a small tilt and
 * pixel noise are random per image, so raw pixels are dominated by colour and k-means on them
 * does poorly, while features invariant to SimCLR's augmentations (crop, horizontal flip, colour
 * jitter, grayscale) separate the classes. No class is the mirror image or the recolouring of
 * another, since flips and colour jitter would merge them.
 */
import { Random } from "../src/util/random.ts";

export const SHAPE_CLASSES = [
  "horizontal_stripes",
  "vertical_stripes",
  "checkerboard",
  "disc",
  "ring",
  "cross",
] as const;

export type ShapeClass = typeof SHAPE_CLASSES[number];

/** Options of `synthesizeShapes`; all have defaults. */
export interface SyntheticOptions {
  /** Seed of every random choice (default 0). */
  seed: number;
  /** Images per class (default 50). */
  perClass: number;
  /** Side of the square images (default 32). */
  size: number;
  /** Standard deviation of the Gaussian pixel noise, in 0-255 units (default 10). */
  noise: number;
}

/** A labelled set, in shuffled order. */
export interface SyntheticSet {
  size: number;
  classNames: readonly ShapeClass[];
  /** size * size * 3 bytes each, RGB. */
  images: Uint8Array[];
  /** Index into `classNames`, per image. */
  labels: Int32Array;
}

const SUPERSAMPLE = 4;

/** Minimum luminance difference of foreground and background, so grayscale keeps the shape. */
const MIN_CONTRAST = 60;

/**
 * Draw `perClass` images of each class and shuffle them; the same options give the same set.
 *
 * @throws {RangeError} for a non-positive count or size, or negative noise.
 */
export function synthesizeShapes(options: Partial<SyntheticOptions> = {}): SyntheticSet {
  const { seed, perClass, size, noise } = {
    seed: 0,
    perClass: 50,
    size: 32,
    noise: 10,
    ...options,
  };
  if (!Number.isInteger(perClass) || perClass < 1) {
    throw new RangeError(
      `Cannot synthesize shapes: perClass must be a positive integer, current value is ${perClass}`,
    );
  }
  if (!Number.isInteger(size) || size < 8) {
    throw new RangeError(
      `Cannot synthesize shapes: size must be an integer of at least 8, current value is ${size}`,
    );
  }
  if (!(noise >= 0)) {
    throw new RangeError(`Cannot synthesize shapes: noise must be >= 0, current value is ${noise}`);
  }
  const rng = new Random(seed);
  const drawn: { image: Uint8Array; label: number }[] = [];
  for (let label = 0; label < SHAPE_CLASSES.length; label++) {
    for (let i = 0; i < perClass; i++) {
      drawn.push({ image: drawShape(SHAPE_CLASSES[label], rng, size, noise), label });
    }
  }
  rng.shuffle(drawn);
  return {
    size,
    classNames: SHAPE_CLASSES,
    images: drawn.map((d) => d.image),
    labels: Int32Array.from(drawn, (d) => d.label),
  };
}

/** Draw one image of `shape`: size * size * 3 RGB bytes. */
export function drawShape(shape: ShapeClass, rng: Random, size: number, noise: number): Uint8Array {
  const [foreground, background] = contrastingColours(rng);
  const inside = shapeFunction(shape, rng, size);
  const rgb = new Uint8Array(size * size * 3);
  const step = 1 / SUPERSAMPLE;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let covered = 0;
      for (let sy = 0; sy < SUPERSAMPLE; sy++) {
        for (let sx = 0; sx < SUPERSAMPLE; sx++) {
          if (inside(x + (sx + 0.5) * step, y + (sy + 0.5) * step)) covered++;
        }
      }
      const m = covered / (SUPERSAMPLE * SUPERSAMPLE);
      for (let c = 0; c < 3; c++) {
        const value = background[c] * (1 - m) + foreground[c] * m + noise * rng.normal();
        rgb[(y * size + x) * 3 + c] = Math.min(255, Math.max(0, Math.round(value)));
      }
    }
  }
  return rgb;
}

/** A predicate on continuous pixel coordinates, with this image's random geometry. */
function shapeFunction(
  shape: ShapeClass,
  rng: Random,
  size: number,
): (x: number, y: number) => boolean {
  const s = size / 32;
  const tilt = rng.uniform(-8, 8) * (Math.PI / 180);
  const cos = Math.cos(tilt);
  const sin = Math.sin(tilt);
  const cx = rng.uniform(0.35, 0.65) * size;
  const cy = rng.uniform(0.35, 0.65) * size;
  // Coordinates relative to the centre, rotated by the tilt.
  const u = (x: number, y: number) => (x - cx) * cos + (y - cy) * sin;
  const v = (x: number, y: number) => -(x - cx) * sin + (y - cy) * cos;
  const frac = (t: number) => t - Math.floor(t);
  switch (shape) {
    case "horizontal_stripes":
    case "vertical_stripes": {
      const period = rng.uniform(5, 10) * s;
      const duty = rng.uniform(0.35, 0.65);
      const along = shape === "horizontal_stripes" ? v : u;
      return (x, y) => frac(along(x, y) / period) < duty;
    }
    case "checkerboard": {
      const cell = rng.uniform(4, 8) * s;
      return (x, y) => (Math.floor(u(x, y) / cell) + Math.floor(v(x, y) / cell)) % 2 === 0;
    }
    case "disc": {
      const radius = rng.uniform(5, 11) * s;
      return (x, y) => Math.hypot(x - cx, y - cy) < radius;
    }
    case "ring": {
      const outer = rng.uniform(8, 13) * s;
      const inner = outer - rng.uniform(2, 4) * s;
      return (x, y) => {
        const r = Math.hypot(x - cx, y - cy);
        return r < outer && r > inner;
      };
    }
    case "cross": {
      const arm = rng.uniform(8, 14) * s;
      const half = rng.uniform(1.5, 3) * s;
      return (x, y) => {
        const a = Math.abs(u(x, y));
        const b = Math.abs(v(x, y));
        return (a < half && b < arm) || (b < half && a < arm);
      };
    }
  }
}

function contrastingColours(rng: Random): [number[], number[]] {
  const luminance = (c: number[]) => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
  while (true) {
    const a = [rng.int(256), rng.int(256), rng.int(256)];
    const b = [rng.int(256), rng.int(256), rng.int(256)];
    if (Math.abs(luminance(a) - luminance(b)) >= MIN_CONTRAST) return [a, b];
  }
}
