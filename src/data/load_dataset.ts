/**
 * Loads a dataset from the two sources a run accepts: a folder of images (nested folders fine,
 * optional `file,label` CSV for reporting) or IDX files such as Fashion-MNIST's, named
 * `idx:<prefix>` where `<prefix>-images-idx3-ubyte[.gz]` and `<prefix>-labels-idx1-ubyte[.gz]` exist.
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { loadImageFile, type Refusal } from "../image/load.ts";
import { toPixels } from "../image/to_input.ts";
import type { Dataset } from "./dataset.ts";
import { listImageFiles, readLabels } from "./folder.ts";
import { readIdx } from "./idx.ts";

/** Options of `loadDataset`. */
export interface LoadOptions {
  /** Side of the model input; images are resized to it. */
  readonly size: number;
  /** A `file,label` CSV for a folder (files relative to the folder); used only for reporting. */
  readonly labels?: string;
  /** Called for each file that is refused (bad, too large, unreadable); loading goes on. */
  readonly onRefusal?: (refusal: Refusal) => void;
  /** Keep only the first `limit` images (after sorting), e.g. for a quick look at a big folder. */
  readonly limit?: number;
}

/** Load `spec`: a folder path or `idx:<prefix>`. */
export function loadDataset(spec: string, options: LoadOptions): Promise<Dataset> {
  return spec.startsWith("idx:")
    ? loadIdxDataset(spec.slice(4), options)
    : loadFolderDataset(spec, options);
}

async function loadFolderDataset(dir: string, options: LoadOptions): Promise<Dataset> {
  const files = (await listImageFiles(dir)).slice(0, options.limit);
  const labelByFile = options.labels ? await readLabels(options.labels) : undefined;
  const stride = options.size * options.size * 3;
  const pixels = new Uint8Array(files.length * stride);
  const ids: string[] = [];
  const paths: string[] = [];
  const names: string[] = [];
  for (const file of files) {
    const loaded = await loadImageFile(join(dir, file));
    if ("reason" in loaded) {
      options.onRefusal?.({ path: file, reason: loaded.reason });
      continue;
    }
    pixels.set(
      toPixels(loaded.rgb, loaded.width, loaded.height, options.size),
      ids.length * stride,
    );
    ids.push(loaded.id);
    paths.push(file);
    names.push(labelByFile?.get(file) ?? "");
  }
  const n = ids.length;
  const base = { n, size: options.size, pixels: pixels.slice(0, n * stride), ids, paths };
  if (!labelByFile) return base;
  const classNames = [...new Set(names.filter((name) => name !== ""))].sort();
  const index = new Map(classNames.map((name, i) => [name, i]));
  const labels = Int32Array.from(names, (name) => index.get(name) ?? -1);
  return { ...base, labels, classNames };
}

async function loadIdxDataset(prefix: string, options: LoadOptions): Promise<Dataset> {
  const idx = await readIdx(prefix);
  const n = Math.min(idx.n, options.limit ?? idx.n);
  const { rows, cols } = idx;
  const size = options.size;
  const stride = size * size * 3;
  const pixels = new Uint8Array(n * stride);
  const chunk = 1024;
  for (let start = 0; start < n; start += chunk) {
    const count = Math.min(chunk, n - start);
    // Gray replicated to 3 channels, resized bilinearly on tensors, in chunks to bound memory.
    const resized = tf.tidy(() => {
      const gray = tf.tensor4d(
        Float32Array.from(idx.images.subarray(start * rows * cols, (start + count) * rows * cols)),
        [count, rows, cols, 1],
      );
      const rgb = tf.tile(gray, [1, 1, 1, 3]) as tf.Tensor4D;
      const sized = rows === size && cols === size
        ? rgb
        : tf.image.resizeBilinear(rgb, [size, size], true);
      return tf.cast(tf.clipByValue(tf.round(sized), 0, 255), "int32");
    });
    pixels.set(resized.dataSync(), start * stride);
    resized.dispose();
  }
  const name = prefix.split("/").pop() ?? prefix;
  const ids = Array.from({ length: n }, (_, i) => `${name}:${i}`);
  const labels = Int32Array.from(idx.labels.subarray(0, n));
  const classes = Math.max(...labels) + 1;
  return {
    n,
    size,
    pixels,
    ids,
    paths: ids,
    labels,
    classNames: Array.from({ length: classes }, (_, i) => String(i)),
  };
}
