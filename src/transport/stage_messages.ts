/**
 * The messages stage workers hand each other, on top of the tensor codec: an ingested image on
 * `scan.<p>.images` (uint8 pixels `[S, S, 3]`) and its features on `scan.<p>.embeddings`
 * (float32 `[F + 128]`: backbone features, then the L2-normalised pretext features), each with
 * the image's id and path in headers, the features also with the checkpoint that made them and
 * the worker that computed them; and an image's neighbour list on `scan.<p>.neighbours`
 * (float32 `[L]` similarities, the ids as a JSON array in a header, with the checkpoint whose
 * features they were mined from).
 */
import {
  embeddingHeadersSchema,
  headerFields,
  HEADERS,
  imageHeadersSchema,
  neighbourHeadersSchema,
} from "../protocol/stage_messages.ts";
import { parse, ProtocolError } from "../protocol/parse.ts";
import { printable } from "../util/quote.ts";
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

/** What a reader expects of a tensor message beyond its own grammar. */
export interface Expected {
  /** Side S of images. */
  readonly size?: number;
  /** Widths F and D of features. */
  readonly backbone?: number;
  readonly projected?: number;
}

/** The tensor a message carries, its decoding errors as protocol errors. */
function tensorOf(msg: BusMessage, what: string) {
  try {
    return decodeTensor(msg.payload, msg.headers);
  } catch (error) {
    throw new ProtocolError(`Cannot decode ${what}: ${printable((error as Error).message)}`);
  }
}

/**
 * An image message (the image wire format), checked.
 *
 * @throws {ProtocolError} when a header is missing or malformed, the tensor is not uint8
 *   `[S, S, 3]`, or S is not the expected side.
 */
export function decodeImageMessage(msg: BusMessage, expected: Expected = {}): ImageMessage {
  const what = `image message on ${printable(msg.subject)}`;
  const fields = parse(
    imageHeadersSchema(),
    headerFields(msg.headers, ["id", "path"]),
    what,
    "decode",
  );
  const { data, shape, dtype } = tensorOf(msg, what);
  if (
    dtype !== "uint8" || shape.length !== 3 || shape[0] !== shape[1] || shape[2] !== 3 ||
    (expected.size !== undefined && shape[0] !== expected.size)
  ) {
    throw new ProtocolError(
      `Cannot decode ${what}: it must hold uint8 [S, S, 3] pixels` +
        (expected.size === undefined ? "" : ` with S = ${expected.size}`) +
        `, current value is ${dtype} [${shape}]`,
    );
  }
  return {
    id: fields["scan-id"],
    path: fields["scan-path"],
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
 * An embedding message, checked: float32 `[F + D]`, every feature finite, and F and D the
 * expected widths when given (a reader must not zero-pad or cut what it stores).
 *
 * @throws {ProtocolError} when a header is missing or malformed or the tensor is not as above.
 */
export function decodeEmbeddingMessage(msg: BusMessage, expected: Expected = {}): EmbeddingMessage {
  const what = `embedding message on ${printable(msg.subject)}`;
  const fields = parse(
    embeddingHeadersSchema(),
    headerFields(msg.headers, ["id", "path", "checkpoint", "worker", "backboneDim"]),
    what,
    "decode",
  );
  const { data, shape, dtype } = tensorOf(msg, what);
  const dim = fields["scan-backbone-dim"];
  const projected = shape[0] - dim;
  if (
    dtype !== "float32" || shape.length !== 1 || dim >= shape[0] ||
    (expected.backbone !== undefined && dim !== expected.backbone) ||
    (expected.projected !== undefined && projected !== expected.projected)
  ) {
    const widths = expected.backbone === undefined && expected.projected === undefined
      ? ""
      : ` with F = ${expected.backbone ?? "any"} and D = ${expected.projected ?? "any"}`;
    throw new ProtocolError(
      `Cannot decode ${what}: it must hold float32 [F + D] features${widths}, current value ` +
        `is ${dtype} [${shape}] with F = ${dim}`,
    );
  }
  const features = data as Float32Array;
  const bad = features.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) {
    throw new ProtocolError(
      `Cannot decode ${what}: every feature must be finite, current value at ${bad} is ` +
        `${features[bad]}`,
    );
  }
  return {
    id: fields["scan-id"],
    path: fields["scan-path"],
    checkpoint: fields["scan-checkpoint"],
    worker: fields["scan-worker"],
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
 * @throws {ProtocolError} when a header is missing or malformed, the tensor is not float32 `[L]`
 *   with one similarity per id, or the list does not start with the image itself.
 */
export function decodeNeighbourListMessage(msg: BusMessage): NeighbourListMessage {
  const what = `neighbour-list message on ${printable(msg.subject)}`;
  const fields = parse(
    neighbourHeadersSchema(),
    headerFields(msg.headers, ["id", "checkpoint", "neighbours", "change"]),
    what,
    "decode",
  );
  const { data, shape, dtype } = tensorOf(msg, what);
  const ids = fields["scan-neighbours"];
  if (
    dtype !== "float32" || shape.length !== 1 || ids.length !== shape[0] ||
    ids[0] !== fields["scan-id"]
  ) {
    throw new ProtocolError(
      `Cannot decode ${what}: it must hold float32 [L] similarities and L ids starting with ` +
        `the image's own, current value is ${dtype} [${shape}], ${ids.length} ids`,
    );
  }
  return {
    id: fields["scan-id"],
    checkpoint: fields["scan-checkpoint"],
    ids,
    similarities: data as Float32Array,
    change: fields["scan-change"],
  };
}
