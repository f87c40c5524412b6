/**
 * What the `auto` settings look at before a run: the number of images and, for an evenly spaced
 * sample of them at their native size, their sides, how much colour they hold and how bright
 * their border is. Read before the images are loaded at model resolution, since the model
 * resolution is one of the settings chosen from it.
 */
import { join } from "node:path";
import { loadImageFile } from "../image/load.ts";
import { listImageFiles } from "./folder.ts";
import { readIdx } from "./idx.ts";

/** One sampled image, measured at its native size. */
export interface ImageStats {
  readonly width: number;
  readonly height: number;
  /** Fraction of its pixels whose channels differ by more than `COLOUR_TOLERANCE`. */
  readonly colourFraction: number;
  /** Mean luminance of its one-pixel border, in [0, 1]: the background's polarity. */
  readonly borderLuminance: number;
}

/** The data as `autoSettings` sees it. */
export interface DataProfile {
  /** Images the run will train on (after `--limit`), refused files included. */
  readonly images: number;
  /** The sampled images that decoded. */
  readonly sample: readonly ImageStats[];
}

/** Channel difference (of 255) below which a pixel counts as gray: JPEG noise on gray images. */
export const COLOUR_TOLERANCE = 8;

/** Images decoded for a profile by default: enough for fractions to within a few points. */
export const PROFILE_SAMPLE = 200;

/** Measure one RGB image (row-major, 3 bytes a pixel). */
export function imageStats(rgb: Uint8Array, width: number, height: number): ImageStats {
  let colour = 0;
  let border = 0;
  let borderCount = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const r = rgb[i], g = rgb[i + 1], b = rgb[i + 2];
      if (Math.max(r, g, b) - Math.min(r, g, b) > COLOUR_TOLERANCE) colour++;
      if (y === 0 || x === 0 || y === height - 1 || x === width - 1) {
        border += (0.299 * r + 0.587 * g + 0.114 * b) / 255;
        borderCount++;
      }
    }
  }
  return {
    width,
    height,
    colourFraction: colour / Math.max(1, width * height),
    borderLuminance: border / Math.max(1, borderCount),
  };
}

/** `count` indices spread evenly over 0..n-1 (all of them when n <= count). */
export function evenlySpaced(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor((i * n) / count));
}

/** Profile `spec` (a folder or `idx:<prefix>`), as `loadDataset` would read it with `limit`. */
export async function profileDataset(
  spec: string,
  options: { readonly limit?: number; readonly sample?: number } = {},
): Promise<DataProfile> {
  const sampleSize = options.sample ?? PROFILE_SAMPLE;
  if (spec.startsWith("idx:")) {
    const idx = await readIdx(spec.slice(4));
    const n = Math.min(idx.n, options.limit ?? idx.n);
    const { rows, cols } = idx;
    const sample = evenlySpaced(n, sampleSize).map((i) => {
      const gray = idx.images.subarray(i * rows * cols, (i + 1) * rows * cols);
      const rgb = new Uint8Array(gray.length * 3);
      gray.forEach((v, p) => rgb.set([v, v, v], p * 3));
      return imageStats(rgb, cols, rows);
    });
    return { images: n, sample };
  }
  const files = (await listImageFiles(spec)).slice(0, options.limit);
  const sample: ImageStats[] = [];
  for (const i of evenlySpaced(files.length, sampleSize)) {
    const loaded = await loadImageFile(join(spec, files[i]));
    // A refused file is reported when the images are loaded; here it is only not measured.
    if ("reason" in loaded) continue;
    sample.push(imageStats(loaded.rgb, loaded.width, loaded.height));
  }
  return { images: files.length, sample };
}
