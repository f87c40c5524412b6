/**
 * Classifies image files with a loaded run: files are read in chunks, the ones that decode go
 * through the model as one batch per chunk, and every file gets exactly one result, in the order
 * given, so a bad file is a result with a reason, never a stop.
 */
import { concatMap, from, map, type Observable, of } from "rxjs";
import type { ImageBatch } from "../data/dataset.ts";
import { isRefusal, loadImageFile } from "../image/load.ts";
import { toPixels } from "../image/to_input.ts";
import { argmaxRows, classify } from "../operators/classify.ts";
import type { LoadedRun } from "./load_run.ts";

/** The cluster of one file, or why it could not be classified. */
export type FileClassification =
  | { path: string; cluster: number; confidence: number }
  | { path: string; error: string };

/**
 * Classify `paths` with `run`'s model and head.
 *
 * ```
 * paths:           a b c d (b unreadable), batchSize 2
 * classifyFiles(): -A-B-C-D-|   (A, C, D clusters; B = { path: b, error })
 * ```
 *
 * @param batchSize files read and classified together; bounds memory for long lists.
 * @throws {RangeError} for a batch size below 1.
 */
export function classifyFiles(
  run: LoadedRun,
  paths: readonly string[],
  batchSize = 64,
): Observable<FileClassification> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `Cannot classify files: batchSize must be a positive integer, current value is ${batchSize}`,
    );
  }
  const chunks: string[][] = [];
  for (let i = 0; i < paths.length; i += batchSize) chunks.push(paths.slice(i, i + batchSize));
  const size = run.config.inputSize;
  return from(chunks).pipe(
    concatMap((chunk) => loadChunk(chunk, size)),
    concatMap(({ paths, refusals, batch, slots }) => {
      const results = (assigned?: { clusters: Int32Array; confidence: Float32Array }) =>
        paths.map((path, k): FileClassification => {
          const b = slots.indexOf(k);
          if (b < 0 || !assigned) return { path, error: refusals.get(k)! };
          return { path, cluster: assigned.clusters[b], confidence: assigned.confidence[b] };
        });
      if (batch.ids.length === 0) return of(results());
      return of(batch).pipe(
        classify(run.model, run.head),
        map((p) => results(argmaxRows(p.data, p.shape[0], p.shape[1]))),
      );
    }),
    concatMap((results) => from(results)),
  );
}

/**
 * One chunk read: the reasons of the refused files by position, and the decoded images as one
 * batch at model size; `slots[b]` is the position in `paths` of batch row b.
 */
async function loadChunk(paths: string[], size: number) {
  const refusals = new Map<number, string>();
  const slots: number[] = [];
  const ids: string[] = [];
  const stride = size * size * 3;
  const pixels: Uint8Array[] = [];
  for (const [k, path] of paths.entries()) {
    const loaded = await loadImageFile(path);
    if (isRefusal(loaded)) {
      refusals.set(k, loaded.reason);
      continue;
    }
    slots.push(k);
    ids.push(loaded.id);
    pixels.push(toPixels(loaded.rgb, loaded.width, loaded.height, size));
  }
  const data = new Uint8Array(pixels.length * stride);
  pixels.forEach((p, b) => data.set(p, b * stride));
  const batch: ImageBatch = { ids, data, shape: [ids.length, size, size, 3] };
  return { paths, refusals, batch, slots };
}
