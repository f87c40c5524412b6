/**
 * Limits on what the decoder accepts. They are checked before decoding: a 389 KB PNG can
 * declare 20000x20000 pixels and would decode to 1.6 GB of RGBA.
 */

/** Upper bounds an image must stay within to be decoded. */
export interface ImageLimits {
  /** Largest file, in bytes (default 20 MiB). */
  maxBytes: number;
  /** Largest width * height the header may declare (default 40e6, about 160 MB of RGBA). */
  maxPixels: number;
}

export const DEFAULT_IMAGE_LIMITS: Readonly<ImageLimits> = Object.freeze({
  maxBytes: 20 * 1024 * 1024,
  maxPixels: 40e6,
});

/**
 * Fill in defaults and validate.
 *
 * @throws {RangeError} when a limit is not a positive number.
 */
export function resolveLimits(limits: Partial<ImageLimits> = {}): Readonly<ImageLimits> {
  const resolved = { ...DEFAULT_IMAGE_LIMITS, ...limits };
  for (const key of ["maxBytes", "maxPixels"] as const) {
    const value = resolved[key];
    if (typeof value !== "number" || !(value > 0)) {
      throw new RangeError(
        `Cannot use image limits: ${key} must be a positive number, current value is ${value}`,
      );
    }
  }
  return Object.freeze(resolved);
}
