/**
 * ReLU's gradient in one oneDNN pass (dy where x > 0, else 0) for the wasm backend, instead of
 * tfjs' three kernels (Step, Cast, Multiply), each a pass over the activation. `ScanReluGrad` is
 * this project's kernel; the Relu gradient below uses it where it is registered for the current
 * backend and tfjs' own formula elsewhere.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { WasmBackendInternals } from "../kernels/heap.ts";
import { check, created, memoryDesc, type OneDnn, primitiveDesc } from "./library.ts";

/** The kernel's name: inputs `dy` and `x`, same shape, float32. */
export const RELU_GRAD = "ScanReluGrad";

const TAG_A = 2;
const FORWARD_TRAINING = 64;
const ELTWISE_RELU = 31;
const ARG = { src: 1, diffSrc: 129, diffDst: 145 } as const;
const OP_DESC_BYTES = 16384;

interface Built {
  primitive: bigint;
  memories: bigint[];
  args: Uint8Array;
}

/** The wasm kernel computing ReLU's gradient through `dnn`, one primitive per size. */
export function reluGradConfig(dnn: OneDnn): tf.KernelConfig {
  const cache = new Map<number, Built>();
  const build = (size: number): Built => {
    const { symbols, engine } = dnn;
    const data = memoryDesc(symbols, [size], TAG_A);
    if (data === null) throw new Error(`oneDNN refused a vector of ${size}`);
    const forward = new Uint8Array(OP_DESC_BYTES);
    check(
      symbols.dnnl_eltwise_forward_desc_init(forward, FORWARD_TRAINING, ELTWISE_RELU, data, 0, 0),
      "relu forward",
    );
    const hint = primitiveDesc(symbols, engine, forward, 0n, 0n) ?? 0n;
    const desc = new Uint8Array(OP_DESC_BYTES);
    check(
      symbols.dnnl_eltwise_backward_desc_init(desc, ELTWISE_RELU, data, data, 0, 0),
      "relu backward",
    );
    const pd = primitiveDesc(symbols, engine, desc, hint, 0n);
    if (hint !== 0n) symbols.dnnl_primitive_desc_destroy(hint);
    if (pd === null) throw new Error(`oneDNN refused the relu gradient of ${size} values`);
    const primitive = created((out) => symbols.dnnl_primitive_create(out, pd), "primitive");
    symbols.dnnl_primitive_desc_destroy(pd);
    const memories = [0, 1, 2].map(() =>
      created((out) => symbols.dnnl_memory_create(out, data, engine, 0n), "memory")
    );
    const kinds = [ARG.src, ARG.diffDst, ARG.diffSrc];
    const args = new BigUint64Array(6);
    kinds.forEach((kind, i) => {
      args[2 * i] = BigInt(kind);
      args[2 * i + 1] = memories[i];
    });
    return { primitive, memories, args: new Uint8Array(args.buffer) };
  };
  return {
    kernelName: RELU_GRAD,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend: untyped }) => {
      const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
      const backend = untyped as unknown as WasmBackendInternals;
      const size = x.shape.reduce((a, b) => a * b, 1);
      const out = backend.makeOutput(x.shape, "float32");
      if (size === 0) return out;
      let built = cache.get(size);
      if (built === undefined) {
        built = build(size);
        cache.set(size, built);
      }
      // makeOutput may grow the heap: the views are taken after it.
      const heap = backend.wasm.HEAPU8.buffer;
      const view = (info: tf.TensorInfo) =>
        new Uint8Array(heap, backend.dataIdMap.get(info.dataId).memoryOffset, 4 * size);
      const { symbols, stream } = dnn;
      [x, dy, out].forEach((info, i) => {
        check(symbols.dnnl_memory_set_data_handle(built!.memories[i], view(info)), "set handle");
      });
      check(symbols.dnnl_primitive_execute(built.primitive, stream, 3, built.args), "relu grad");
      check(symbols.dnnl_stream_wait(stream), "stream wait");
      return out;
    },
  };
}

/**
 * The gradient of Relu: {@link RELU_GRAD} where the current backend has it, else tfjs' own
 * formula, dy * step(x).
 */
export const reluGradientConfig: tf.GradConfig = {
  kernelName: tf.Relu,
  inputsToSave: ["x"],
  gradFunc: (dy, saved) => {
    const [x] = saved;
    return {
      x: () => {
        const grad = dy as tf.Tensor;
        if (tf.getKernel(RELU_GRAD, tf.getBackend()) !== undefined && grad.dtype === "float32") {
          return tf.engine().runKernel(RELU_GRAD, { dy: grad, x }) as tf.Tensor;
        }
        return tf.mul(grad, tf.cast(tf.step(x), "float32"));
      },
    };
  },
};
