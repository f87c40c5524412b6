/**
 * `BatchMatMul` by oneDNN's matmul for the wasm backend, transposed operands read in place
 * through strides (XNNPACK's product needs them copied first): the NT-Xent similarity and its
 * gradients, and the dense layers'. Falls back to the kernel it replaces when the batch sizes
 * neither match nor broadcast, or for other dtypes.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { WasmBackendInternals } from "../kernels/heap.ts";
import { check, created, dims, type OneDnn, primitiveDesc } from "./library.ts";

const F32 = 3;
const ARG = { src: 1, weights: 33, dst: 17 } as const;
const OP_DESC_BYTES = 16384;
const MEMORY_DESC_BYTES = 2048;

interface Built {
  primitive: bigint;
  memories: bigint[];
  args: Uint8Array;
}

/** A [batch, rows, cols] float32 descriptor, stored transposed (cols first) when `transposed`. */
function matrixDesc(
  symbols: OneDnn["symbols"],
  batch: number,
  rows: number,
  cols: number,
  transposed: boolean,
): Uint8Array | null {
  const desc = new Uint8Array(MEMORY_DESC_BYTES);
  // A batch of 1 broadcast against the other operand's: its batch stride is never used.
  const strides = transposed ? [rows * cols, 1, rows] : [rows * cols, cols, 1];
  const status = symbols.dnnl_memory_desc_init_by_strides(
    desc,
    3,
    dims([batch, rows, cols]),
    F32,
    dims(strides),
  );
  return status === 0 ? desc : null;
}

/** The BatchMatMul kernel through `dnn`, with `fallback` for what it leaves. */
export function batchMatMulOneDnnConfig(dnn: OneDnn, fallback: tf.KernelConfig): tf.KernelConfig {
  const cache = new Map<string, Built | null>();
  const build = (
    batchA: number,
    batchB: number,
    m: number,
    k: number,
    n: number,
    transposeA: boolean,
    transposeB: boolean,
  ): Built | null => {
    const { symbols, engine } = dnn;
    const a = matrixDesc(symbols, batchA, m, k, transposeA);
    const b = matrixDesc(symbols, batchB, k, n, transposeB);
    const c = matrixDesc(symbols, Math.max(batchA, batchB), m, n, false);
    if (a === null || b === null || c === null) return null;
    const desc = new Uint8Array(OP_DESC_BYTES);
    if (symbols.dnnl_matmul_desc_init(desc, a, b, null, c) !== 0) return null;
    const pd = primitiveDesc(symbols, engine, desc, 0n, 0n);
    if (pd === null) return null;
    const primitive = created((out) => symbols.dnnl_primitive_create(out, pd), "primitive");
    symbols.dnnl_primitive_desc_destroy(pd);
    const memories = [a, b, c].map((d) =>
      created((out) => symbols.dnnl_memory_create(out, d, engine, 0n), "memory")
    );
    const args = new BigUint64Array([
      BigInt(ARG.src),
      memories[0],
      BigInt(ARG.weights),
      memories[1],
      BigInt(ARG.dst),
      memories[2],
    ]);
    return { primitive, memories, args: new Uint8Array(args.buffer) };
  };
  return {
    kernelName: tf.BatchMatMul,
    backendName: "wasm",
    setupFunc: fallback.setupFunc,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
      if (a.shape.length !== 3 || b.shape.length !== 3 || a.dtype !== "float32") {
        return fallback.kernelFunc(args);
      }
      const [batchA, a1, a2] = a.shape;
      const [batchB, b1, b2] = b.shape;
      const [m, k] = transposeA ? [a2, a1] : [a1, a2];
      const n = transposeB ? b1 : b2;
      const batch = Math.max(batchA, batchB);
      const broadcastable = batchA === batchB || batchA === 1 || batchB === 1;
      if (!broadcastable || (transposeB ? b2 : b1) !== k || m * n * k * batch === 0) {
        return fallback.kernelFunc(args);
      }
      const key = `${batchA},${batchB},${m},${k},${n},${transposeA},${transposeB}`;
      let built = cache.get(key);
      if (built === undefined) {
        built = build(batchA, batchB, m, k, n, transposeA, transposeB);
        cache.set(key, built);
      }
      if (built === null) return fallback.kernelFunc(args);
      const backend = args.backend as unknown as WasmBackendInternals;
      const out = backend.makeOutput([batch, m, n], "float32");
      // makeOutput may grow the heap: the views are taken after it.
      const heap = backend.wasm.HEAPU8.buffer;
      const view = (info: tf.TensorInfo) =>
        new Uint8Array(
          heap,
          backend.dataIdMap.get(info.dataId).memoryOffset,
          4 * info.shape.reduce((x, y) => x * y, 1),
        );
      const { symbols, stream } = dnn;
      [a, b, out].forEach((info, i) => {
        check(symbols.dnnl_memory_set_data_handle(built!.memories[i], view(info)), "set handle");
      });
      check(symbols.dnnl_primitive_execute(built.primitive, stream, 3, built.args), "matmul");
      check(symbols.dnnl_stream_wait(stream), "stream wait");
      return out;
    },
  };
}
