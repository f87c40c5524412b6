/**
 * Direct access to the wasm backend's heap, for kernels that only move values (Slice, Concat,
 * Pack): copies inside one typed array over the whole heap, no views made per row.
 */
import type * as tf from "@tensorflow/tfjs-core";

/** The parts of the wasm backend the heap kernels use (not in its public types). */
export interface WasmBackendInternals {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

export type Heap = Float32Array | Int32Array | Uint8Array;

/** The whole heap as the element type of `dtype` (bool is one byte, as the backend stores it). */
export function heapOf(buffer: ArrayBufferLike, dtype: tf.DataType): Heap {
  if (dtype === "float32") return new Float32Array(buffer);
  if (dtype === "int32") return new Int32Array(buffer);
  return new Uint8Array(buffer);
}

/** Runs shorter than this are copied element by element: cheaper than a copyWithin call. */
const SHORT_RUN = 16;

/** Copy `length` elements from index `from` to index `to` of the heap (no overlap). */
export function copyRun(heap: Heap, from: number, to: number, length: number): void {
  if (length < SHORT_RUN) {
    for (let i = 0; i < length; i++) heap[to + i] = heap[from + i];
  } else {
    heap.copyWithin(to, from, from + length);
  }
}
