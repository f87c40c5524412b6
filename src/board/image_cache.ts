/**
 * The images a board in another process has seen on the pipeline's `images` subject: pixels
 * (uint8, S*S*3 at model resolution) and path, by content id. No neighbour lists travel on the
 * bus, so this source has none.
 */
import type { BusMessage } from "../transport/bus.ts";
import { decodeImageMessage } from "../transport/stage_messages.ts";
import { isImageId } from "./image_id.ts";
import type { BoardImage, BoardNeighbour, ImageSource } from "./image_source.ts";

/** Images received on the `images` subject. */
export class ImageCache implements ImageSource {
  readonly hasNeighbours = false;
  /** Insertion order is age: the first entry is the least recently added. */
  readonly #images = new Map<string, BoardImage>();
  /** Most images kept; the oldest go first. */
  readonly limit: number;

  /** @throws {RangeError} when `limit` is not a positive integer. Default 20 000. */
  constructor(limit = 20_000) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(
        `Cannot create image cache: limit must be a positive integer, current value is ${limit}`,
      );
    }
    this.limit = limit;
  }

  /** Images held. */
  get size(): number {
    return this.#images.size;
  }

  /**
   * Keep the image a message of the `images` subject carries (headers `scan-id`, `scan-path`
   * URI-encoded, and the tensor codec's shape and dtype).
   *
   * @throws {TypeError} when the message is not an image of the stream: no valid id, not uint8,
   *   not square RGB.
   */
  add(msg: BusMessage): BoardImage {
    const id = msg.headers["scan-id"] ?? "";
    if (!isImageId(id)) {
      throw new TypeError(
        `Cannot keep image from ${msg.subject}: scan-id must be 64 hex digits, current value is ` +
          `${JSON.stringify(id)}`,
      );
    }
    // The image wire format, parsed by the protocol (src/protocol/stage_messages.ts).
    const decoded = decodeImageMessage(msg);
    const image: BoardImage = {
      id,
      path: decoded.path,
      size: decoded.size,
      pixels: decoded.pixels,
    };
    this.#images.delete(id);
    this.#images.set(id, image);
    // Bounded: a board left running on a long stream keeps the newest images only.
    while (this.#images.size > this.limit) this.#images.delete(this.#images.keys().next().value!);
    return image;
  }

  image(id: string): BoardImage | undefined {
    return this.#images.get(id);
  }

  neighbours(_id: string): readonly BoardNeighbour[] | undefined {
    return undefined;
  }
}
