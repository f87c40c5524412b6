/**
 * The vectors neighbours are mined on, as `ScanConfig.mineOn` names them, from one inference
 * pass's backbone features h and projections z: shared by the offline run and the stream, so
 * both mine the same way.
 */
import type { MineOn } from "../config.ts";
import { mixedDim, withPixels } from "./pixel_mix.ts";

/** One pass's features of some images: backbone h [n, F] and projection z [n, D]. */
export interface PassFeatures {
  readonly backbone: Float32Array;
  readonly projected: Float32Array;
}

/** Width of a mining vector for `mineOn`, features of `backboneDim` and `projectionDim`. */
export function miningDim(
  mineOn: MineOn,
  backboneDim: number,
  projectionDim: number,
  size: number,
): number {
  return mineOn === "projection" ? projectionDim : mixedDim(backboneDim, size);
}

/**
 * Mining vectors of `n` images: their projections, or their backbone features beside their
 * pixels (`pixels`: uint8 RGB [n, size, size, 3], the images the features came from).
 */
export function miningVectors(
  mineOn: MineOn,
  features: PassFeatures,
  n: number,
  pixels: Uint8Array,
  size: number,
): Float32Array {
  if (mineOn === "projection") return features.projected;
  return withPixels(features.backbone, n, features.backbone.length / Math.max(n, 1), pixels, size);
}
