/**
 * Worker script that reads, hashes, decodes and resizes one image file per request, so that a
 * large JPEG does not stall the main event loop. Every outcome is a reply: a decoded image with
 * its pixels at the model's size (the buffer is transferred, not copied), or a refusal with the
 * reason. Requests are independent; several may be in flight, replies carry the request's `seq`.
 */
import { initBackend } from "../backend/backend.ts";
import type { ImageLimits } from "../image/limits.ts";
import { isRefusal, loadImageBytes, loadImageFile } from "../image/load.ts";
import { toPixels } from "../image/to_input.ts";

/** What the pool asks. */
export interface DecodeRequest {
  seq: number;
  /** Absolute path of the file to read (a label only, when `bytes` is given). */
  path: string;
  /** The image's bytes, to decode instead of reading `path` (the classify service). */
  bytes?: Uint8Array;
  /** The watched directory (real path): the file opened must lie inside it (`LoadOptions`). */
  root?: string;
  /** Side S of the stored image: the reply's pixels are S * S * 3 bytes. */
  size: number;
  limits: Partial<ImageLimits>;
}

/** What the worker answers. */
export type DecodeReply =
  | { seq: number; ok: true; id: string; width: number; height: number; pixels: Uint8Array }
  | { seq: number; ok: false; reason: string };

interface WorkerScope {
  onmessage: ((event: MessageEvent<DecodeRequest>) => void) | null;
  postMessage(message: DecodeReply, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;
// Resizing is a few thousand multiply-adds per image: the pure-JS backend starts fastest.
const backend = initBackend("cpu");

scope.onmessage = async (event) => {
  const { seq, path, root, bytes, size, limits } = event.data;
  try {
    await backend;
    const loaded = bytes === undefined
      ? await loadImageFile(path, limits, { root })
      : await loadImageBytes(path, bytes, limits);
    if (isRefusal(loaded)) {
      scope.postMessage({ seq, ok: false, reason: loaded.reason });
      return;
    }
    const pixels = toPixels(loaded.rgb, loaded.width, loaded.height, size);
    const { id, width, height } = loaded;
    scope.postMessage({ seq, ok: true, id, width, height, pixels }, [pixels.buffer as ArrayBuffer]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    scope.postMessage({ seq, ok: false, reason: `cannot decode: ${message}` });
  }
};
