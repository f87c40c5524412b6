/**
 * The streaming pipeline's source: image files dropped into a directory tree become decoded
 * images at the model's size, each once per content; anything that cannot be read becomes a
 * refusal and the stream goes on. User files are only ever read.
 *
 * Backpressure: at most `workers * perWorker` files are read and decoded at once, and with
 * `credits` at most `credits.limit` read files wait for the consumer, so memory for file bytes
 * and pixels is bounded whatever the rates of arrivals and of the consumer; what waits beyond
 * that is a path string per completed file (the watcher emits a path again only when its
 * content changed), bounded by the number of files in the tree.
 */
import { defer, finalize, from, type Observable, switchMap } from "rxjs";
import type { ImageLimits } from "../image/limits.ts";
import type { Credits } from "./credits.ts";
import { DecodePool, isDecoded } from "./decode_pool.ts";
import { dedupeById } from "./dedupe.ts";
import { mapInOrder } from "./map_in_order.ts";
import { resolveInside } from "./inside_tree.ts";
import { type FileEvent, watchDirectory, type WatchOptions } from "./watch_directory.ts";

/** An image ready for the store. */
export interface IngestedImage {
  /** SHA-256 of the file's bytes, hex. */
  id: string;
  /** Path relative to the watched directory, "/"-separated. */
  path: string;
  /** Size of the original image. */
  width: number;
  height: number;
  /** size * size * 3 bytes, row-major RGB, resized for the model. */
  pixels: Uint8Array;
  /** When the file was seen complete, ms since the epoch. */
  receivedAt: number;
}

/** A file that was not ingested, and why. */
export interface IngestRefusal {
  /** Path relative to the watched directory. */
  path: string;
  reason: string;
}

/** Options of `ingest`: those of `watchDirectory`, plus decoding and deduplication. */
export interface IngestOptions extends WatchOptions {
  /** Side S of the model's input: pixels are S * S * 3 bytes. */
  size: number;
  /** Decode workers (default 1). */
  workers?: number;
  /** Files per worker at once (default 2). */
  perWorker?: number;
  /** Limits on file size and pixel count. */
  limits?: Partial<ImageLimits>;
  /** Longest one file may take to decode, in ms (default 60000). */
  timeoutMs?: number;
  /** Ids already in the store, not emitted again (a restart re-reads the whole directory). */
  knownIds?: Iterable<string>;
  /** Called with each image dropped because its content was already ingested. */
  onDuplicate?: (image: IngestedImage) => void;
  /**
   * Backpressure: each emitted value (image or refusal) holds one credit, taken before its file
   * is read; the consumer releases it once done with the value. Duplicates release their own.
   * Without it, values are emitted as fast as files decode.
   */
  credits?: Credits;
}

/** True for a refusal. */
export function isIngestRefusal(value: IngestedImage | IngestRefusal): value is IngestRefusal {
  return !("pixels" in value);
}

/**
 * Watch `dir` and emit each distinct image once (existing files first, sorted, then new ones as
 * they complete; results keep that order, and of two identical files the first is kept), and a
 * refusal for each file that cannot be used: not an image, corrupt, too
 * large, a folder, FIFO or broken link named like an image, a link leading out of `dir`, or
 * gone before it was read. Unsubscribing stops the watcher and terminates the decode workers.
 *
 * ```
 * files:   a.png--b.png(corrupt)--c.png(copy of a)--d.jpg--
 * output:  a------b(refusal)----------------------d------
 * ```
 *
 * @example
 * ```ts
 * ingest("/data/inbox", { size: 32 }).subscribe((value) =>
 *   isIngestRefusal(value) ? console.warn(value.path, value.reason) : store.add(value)
 * );
 * ```
 * @throws {RangeError} for invalid options, on subscription. A missing directory errors the
 *   stream.
 */
export function ingest(
  dir: string,
  options: IngestOptions,
): Observable<IngestedImage | IngestRefusal> {
  return defer(() => {
    const pool = new DecodePool(options);
    const files = watchDirectory(dir, options);
    return from(
      Deno.realPath(dir).catch((error) => {
        throw new Error(`Cannot watch ${dir}: ${(error as Error).message}`, { cause: error });
      }),
    ).pipe(
      switchMap((root) =>
        files.pipe(mapInOrder(async (file) => {
          await options.credits?.acquire();
          return readOne(root, pool, file);
        }, pool.capacity))
      ),
      dedupeById<IngestedImage | IngestRefusal>({
        seed: options.knownIds,
        onDuplicate: (value) => {
          options.credits?.release();
          options.onDuplicate?.(value as IngestedImage);
        },
      }),
      finalize(() => pool.close()),
    );
  });
}

async function readOne(
  root: string,
  pool: DecodePool,
  file: FileEvent,
): Promise<IngestedImage | IngestRefusal> {
  if (file.invalidName) {
    return {
      path: file.relative,
      reason: "the name is not valid UTF-8 (each byte that is not is shown as U+FFFD): it " +
        "cannot be opened; rename it",
    };
  }
  const inside = await resolveInside(root, file.path);
  if (!inside.ok) return { path: file.relative, reason: inside.reason };
  // The check and the open are separate: the worker checks what it opened against `root`.
  const result = await pool.decode(inside.real, root);
  if (!isDecoded(result)) return { path: file.relative, reason: result.reason };
  const { id, width, height, pixels } = result;
  return { id, path: file.relative, width, height, pixels, receivedAt: file.receivedAt };
}
