/**
 * The images a board in another process has seen on the pipeline's `images` subject: pixels
 * (uint8, S*S*3 at model resolution) and path, by content id. No neighbour lists travel on the
 * bus, so this source has none.
 */
import type { BusMessage } from "../transport/bus.ts";
import { decodeTensor } from "../transport/tensor_codec.ts";
import { isImageId } from "./image_id.ts";
import type { BoardImage, BoardNeighbour, ImageSource } from "./image_source.ts";

/** Images received on the `images` subject. */
export class ImageCache implements ImageSource {
  readonly hasNeighbours = false;
  readonly #images = new Map<string, BoardImage>();

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
    const { data, shape } = decodeTensor(msg.payload, msg.headers);
    if (
      !(data instanceof Uint8Array) || shape.length !== 3 || shape[2] !== 3 || shape[0] !== shape[1]
    ) {
      throw new TypeError(
        `Cannot keep image ${id}: pixels must be uint8 [S, S, 3], current shape is [${shape}]`,
      );
    }
    let path = id;
    try {
      path = decodeURIComponent(msg.headers["scan-path"] ?? id);
    } catch {
      // A path that is not valid URI encoding is shown as the id.
    }
    const image: BoardImage = { id, path, size: shape[0], pixels: data };
    this.#images.set(id, image);
    return image;
  }

  image(id: string): BoardImage | undefined {
    return this.#images.get(id);
  }

  neighbours(_id: string): readonly BoardNeighbour[] | undefined {
    return undefined;
  }
}
