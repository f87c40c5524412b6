/**
 * What the board may read about ingested images: their pixels and their neighbour lists, by id.
 * Read-only, and only for images the pipeline ingested: an id it does not hold is `undefined`,
 * so the board never serves anything else. Two sources: the running stream in this process
 * (`streamImageSource`), and the `images` subject for a board in another process (`ImageCache`).
 */
import type { ImageStore } from "../stream/store.ts";

/** One ingested image, as the board shows it. */
export interface BoardImage {
  readonly id: string;
  /** Where it came from (the watched directory's path), for display only. */
  readonly path: string;
  /** Side S of the square image. */
  readonly size: number;
  /** uint8 RGB, S*S*3 bytes. */
  readonly pixels: Uint8Array;
}

/** A neighbour of an image, as mined by the stream. */
export interface BoardNeighbour {
  readonly id: string;
  /** Cosine similarity of the features. */
  readonly similarity: number;
}

/** Read-only access to the ingested images. */
export interface ImageSource {
  /** The image with id `id`, or undefined when the pipeline did not ingest it. */
  image(id: string): BoardImage | undefined;
  /**
   * Its neighbour list, most similar first, itself left out; undefined when unknown or when this
   * source has no neighbour lists.
   */
  neighbours(id: string): readonly BoardNeighbour[] | undefined;
  /** Whether this source has neighbour lists at all (the page says so when it does not). */
  readonly hasNeighbours: boolean;
}

/** The parts of the stream's trainer a board reads. */
export interface StreamView {
  readonly store: Pick<ImageStore, "indexOf" | "pathOf" | "pixelsOf" | "size">;
  neighboursOf(id: string): { id: string; similarity: number }[] | undefined;
}

/** The running stream's store and neighbour index, read through `trainer`. */
export function streamImageSource(trainer: StreamView): ImageSource {
  return {
    hasNeighbours: true,
    image(id) {
      // One image, read by index: a request must not cost O(N) on the serving thread.
      const { store } = trainer;
      const i = store.indexOf(id);
      if (i < 0) return undefined;
      return { id, path: store.pathOf(i), size: store.size, pixels: store.pixelsOf(i) };
    },
    neighbours(id) {
      return trainer.neighboursOf(id);
    },
  };
}
