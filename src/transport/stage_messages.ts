/**
 * The messages stage workers hand each other, on top of the tensor codec: an ingested image on
 * `scan.<p>.images` (uint8 pixels `[S, S, 3]`) and its features on `scan.<p>.embeddings`
 * (float32 `[F + 128]`: backbone features, then the L2-normalised pretext features), each with
 * the image's id and path in headers, the features also with the checkpoint that made them and
 * the worker that computed them; and an image's neighbour list on `scan.<p>.neighbours`
 * (float32 `[L]` similarities, the ids as a JSON array in a header, with the checkpoint whose
 * features they were mined from).
 */
import type { BusMessage } from "./bus.ts";
import { decodeTensor, encodeTensor } from "./tensor_codec.ts";

/** An image as the ingest stage publishes it. */
export interface ImageMessage {
  readonly id: string;
  readonly path: string;
  /** uint8 RGB, S * S * 3 bytes. */
  readonly pixels: Uint8Array;
  readonly size: number;
}

/** An image's features as an embed worker publishes them. */
export interface EmbeddingMessage {
  readonly id: string;
  readonly path: string;
  /** The checkpoint (training round) whose networks computed them. */
  readonly checkpoint: number;
  /** Who computed them (a worker id). */
  readonly worker: string;
  /** Backbone features `[F]`. */
  readonly backbone: Float32Array;
  /** L2-normalised pretext features `[D]`. */
  readonly projected: Float32Array;
}

/** An image's neighbour list as the mine stage publishes it. */
export interface NeighbourListMessage {
  readonly id: string;
  /** The checkpoint whose features the list was mined from. */
  readonly checkpoint: number;
  /** `L <= K` image ids, the image itself first, then the most similar images. */
  readonly ids: readonly string[];
  /** Cosine similarities matching `ids`. */
  readonly similarities: Float32Array;
  /** `added`: the image's first list for this checkpoint; `updated`: a newer image entered it. */
  readonly change: "added" | "updated";
}

const HEADERS = Object.freeze({
  id: "scan-id",
  path: "scan-path",
  checkpoint: "scan-checkpoint",
  worker: "scan-worker",
  backboneDim: "scan-backbone-dim",
  neighbours: "scan-neighbours",
  change: "scan-change",
});

/** The payload and headers of an image message. */
export function encodeImageMessage(image: ImageMessage) {
  const { payload, headers } = encodeTensor({
    data: image.pixels,
    shape: [image.size, image.size, 3],
  });
  return {
    payload,
    // Header values are single lines of text: the path travels URI-encoded.
    headers: {
      ...headers,
      [HEADERS.id]: image.id,
      [HEADERS.path]: encodeURIComponent(image.path),
    },
  };
}

/**
 * An image message, checked.
 *
 * @throws {TypeError} when a header is missing or the tensor is not uint8 `[S, S, 3]`.
 */
export function decodeImageMessage(msg: BusMessage): ImageMessage {
  const { data, shape, dtype } = decodeTensor(msg.payload, msg.headers);
  if (dtype !== "uint8" || shape.length !== 3 || shape[0] !== shape[1] || shape[2] !== 3) {
    throw new TypeError(
      `Cannot decode image message: it must hold uint8 [S, S, 3] pixels, current value is ` +
        `${dtype} [${shape}]`,
    );
  }
  return {
    id: required(msg, HEADERS.id),
    path: decodeURIComponent(required(msg, HEADERS.path)),
    pixels: data as Uint8Array,
    size: shape[0],
  };
}

/** The payload and headers of an embedding message. */
export function encodeEmbeddingMessage(embedding: EmbeddingMessage) {
  const joined = new Float32Array(embedding.backbone.length + embedding.projected.length);
  joined.set(embedding.backbone);
  joined.set(embedding.projected, embedding.backbone.length);
  const { payload, headers } = encodeTensor({ data: joined, shape: [joined.length] });
  return {
    payload,
    headers: {
      ...headers,
      [HEADERS.id]: embedding.id,
      [HEADERS.path]: encodeURIComponent(embedding.path),
      [HEADERS.checkpoint]: String(embedding.checkpoint),
      [HEADERS.worker]: embedding.worker,
      [HEADERS.backboneDim]: String(embedding.backbone.length),
    },
  };
}

/**
 * An embedding message, checked.
 *
 * @throws {TypeError} when a header is missing or the tensor is not float32 `[F + D]`.
 */
export function decodeEmbeddingMessage(msg: BusMessage): EmbeddingMessage {
  const { data, shape, dtype } = decodeTensor(msg.payload, msg.headers);
  const dim = Number(required(msg, HEADERS.backboneDim));
  const checkpoint = Number(required(msg, HEADERS.checkpoint));
  if (
    dtype !== "float32" || shape.length !== 1 || !Number.isInteger(dim) || dim < 1 ||
    dim >= shape[0] || !Number.isInteger(checkpoint) || checkpoint < 0
  ) {
    throw new TypeError(
      `Cannot decode embedding message: it must hold float32 [F + D] features with F and a ` +
        `checkpoint in its headers, current value is ${dtype} [${shape}], F ${dim}, checkpoint ` +
        `${checkpoint}`,
    );
  }
  const features = data as Float32Array;
  return {
    id: required(msg, HEADERS.id),
    path: decodeURIComponent(required(msg, HEADERS.path)),
    checkpoint,
    worker: required(msg, HEADERS.worker),
    backbone: features.slice(0, dim),
    projected: features.slice(dim),
  };
}

/** The payload and headers of a neighbour-list message. */
export function encodeNeighbourListMessage(list: NeighbourListMessage) {
  const { payload, headers } = encodeTensor({
    data: list.similarities,
    shape: [list.similarities.length],
  });
  return {
    payload,
    headers: {
      ...headers,
      [HEADERS.id]: list.id,
      [HEADERS.checkpoint]: String(list.checkpoint),
      // Ids are content hashes (hex), so their JSON is one line of header text.
      [HEADERS.neighbours]: JSON.stringify(list.ids),
      [HEADERS.change]: list.change,
    },
  };
}

/**
 * A neighbour-list message, checked.
 *
 * @throws {TypeError} when a header is missing or malformed, the tensor is not float32 `[L]`
 *   with one similarity per id, or the list does not start with the image itself.
 */
export function decodeNeighbourListMessage(msg: BusMessage): NeighbourListMessage {
  const { data, shape, dtype } = decodeTensor(msg.payload, msg.headers);
  const id = required(msg, HEADERS.id);
  const checkpoint = Number(required(msg, HEADERS.checkpoint));
  const change = required(msg, HEADERS.change);
  let ids: unknown;
  try {
    ids = JSON.parse(required(msg, HEADERS.neighbours));
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
  }
  if (
    dtype !== "float32" || shape.length !== 1 || !Array.isArray(ids) ||
    !ids.every((x) => typeof x === "string") || ids.length !== shape[0] || ids[0] !== id ||
    !Number.isInteger(checkpoint) || checkpoint < 0 || (change !== "added" && change !== "updated")
  ) {
    throw new TypeError(
      `Cannot decode neighbour-list message: it must hold float32 [L] similarities, L ids ` +
        `starting with the image's own, a checkpoint and a change (added or updated), current ` +
        `value is ${dtype} [${shape}], ids ${
          Array.isArray(ids) ? ids.length : "unreadable"
        }, checkpoint ${checkpoint}, change ${change}`,
    );
  }
  return { id, checkpoint, ids, similarities: data as Float32Array, change };
}

function required(msg: BusMessage, name: string): string {
  const key = Object.keys(msg.headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : msg.headers[key];
  if (value === undefined || value === "") {
    throw new TypeError(
      `Cannot decode message on ${msg.subject}: the ${name} header is missing`,
    );
  }
  return value;
}
