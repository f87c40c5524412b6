/**
 * Thumbnails: an ingested image's pixels as a PNG, at the resolution the model sees (the page
 * scales it up without smoothing). Encoded on first request and kept, since an id names fixed
 * content; the cache is bounded so a long stream does not hold every thumbnail.
 */
import { encodePng } from "../image/encode_png.ts";
import type { BoardImage } from "./image_source.ts";

/** Encoded thumbnails by image id, least recently used dropped first. */
export class ThumbnailCache {
  readonly #limit: number;
  readonly #png = new Map<string, Promise<Uint8Array>>();

  /** @param limit most thumbnails kept (default 4096). */
  constructor(limit = 4096) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(
        `Cannot create thumbnail cache: limit must be a positive integer, current value is ${limit}`,
      );
    }
    this.#limit = limit;
  }

  /** The PNG of `image`. */
  png(image: BoardImage): Promise<Uint8Array> {
    let png = this.#png.get(image.id);
    if (png !== undefined) this.#png.delete(image.id);
    png ??= encodePng({
      width: image.size,
      height: image.size,
      colorType: "rgb",
      samples: image.pixels,
    });
    this.#png.set(image.id, png);
    while (this.#png.size > this.#limit) this.#png.delete(this.#png.keys().next().value!);
    png.catch(() => this.#png.delete(image.id));
    return png;
  }
}
