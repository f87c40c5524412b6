/**
 * Batch norm in training mode by oneDNN, on tensors of the wasm backend in place (channels last):
 * about 5x the tfjs ops it replaces per layer on resnet-small (BENCHMARKS.md). It serves
 * src/parallel/sync_batch_norm.ts, which sums the statistics across workers; so besides the plain
 * forward and backward it offers the pieces that make them global:
 *
 * - `forward` normalises with the statistics of the local shard and returns them;
 * - `normalise` normalises with given (global) statistics;
 * - `backward` returns dx and the shard's reductions of dy (sum of dy, sum of dy * xhat: the
 *   shard's gamma and beta gradients); dx either with those reductions or with none;
 * - `addAffine` adds x * b + c per channel to dx in place: the global reductions' terms.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { WasmBackendInternals } from "../kernels/heap.ts";
import { check, created, memoryDesc, type OneDnn, primitiveDesc } from "./library.ts";

const TAG_A = 2;
const TAG_NHWC = 20;
const FORWARD_TRAINING = 64;
const FORWARD_INFERENCE = 96;
const BACKWARD = 128;
const USE_GLOBAL_STATS = 0x1;
const USE_SCALE = 0x8;
const USE_SHIFT = 0x10;
const BINARY_ADD = 0x1fff0;
const BINARY_MUL = 0x1fff1;
const ARG = {
  src: 1,
  src1: 2,
  dst: 17,
  mean: 49,
  variance: 50,
  scale: 51,
  shift: 52,
  diffSrc: 129,
  diffDst: 145,
  diffScale: 255,
  diffShift: 256,
  /** DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1. */
  postOp0Src1: 16384 | 2,
} as const;
const OP_DESC_BYTES = 16384;

type Kind = "forward" | "normalise" | "backward" | "backwardConstant" | "addAffine";

/** A built primitive: its memory objects in argument order, and the argument array. */
interface Built {
  primitive: bigint;
  memories: bigint[];
  args: Uint8Array;
}

/** The per-channel vectors of one call: float32, one value per channel. */
type Vector = Float32Array;

/** Batch-norm primitives of one thread, built once per (kind, rows, channels, epsilon). */
export class BatchNorms {
  readonly #dnn: OneDnn;
  readonly #cache = new Map<string, Built>();

  constructor(dnn: OneDnn) {
    this.#dnn = dnn;
  }

  /** y normalised with the shard's own statistics, and those (biased variance). */
  forward(
    x: tf.Tensor,
    gamma: Vector,
    beta: Vector,
    epsilon: number,
  ): { y: tf.Tensor; mean: Vector; variance: Vector } {
    const channels = gamma.length;
    const mean = new Float32Array(channels);
    const variance = new Float32Array(channels);
    const y = this.#output(x.shape, (heap, out) => {
      this.#run("forward", x.size / channels, channels, epsilon, [
        view(heap, x),
        out,
        mean,
        variance,
        gamma,
        beta,
      ]);
    });
    return { y, mean, variance };
  }

  /** y normalised with the given statistics. */
  normalise(
    x: tf.Tensor,
    gamma: Vector,
    beta: Vector,
    mean: Vector,
    variance: Vector,
    epsilon: number,
  ): tf.Tensor {
    const channels = gamma.length;
    return this.#output(x.shape, (heap, out) => {
      this.#run("normalise", x.size / channels, channels, epsilon, [
        view(heap, x),
        out,
        mean,
        variance,
        gamma,
        beta,
      ]);
    });
  }

  /**
   * dx of batch norm with the given statistics and the shard's own reductions of dy, and those
   * reductions: `dGamma` = sum of dy * (x - mean) / sqrt(variance + epsilon), `dBeta` = sum of dy.
   * With `constantStatistics`, dx treats the statistics as constants (gamma * invStd * dy, the
   * reductions' terms left to the caller, who has the global ones).
   */
  backward(
    x: tf.Tensor,
    dy: tf.Tensor,
    gamma: Vector,
    mean: Vector,
    variance: Vector,
    epsilon: number,
    constantStatistics = false,
  ): { dx: tf.Tensor; dGamma: Vector; dBeta: Vector } {
    const channels = gamma.length;
    const dGamma = new Float32Array(channels);
    const dBeta = new Float32Array(channels);
    // oneDNN reads the shift with USE_SHIFT but its value does not enter the gradients.
    const shift = new Float32Array(channels);
    const dx = this.#output(x.shape, (heap, out) => {
      const kind = constantStatistics ? "backwardConstant" : "backward";
      this.#run(kind, x.size / channels, channels, epsilon, [
        view(heap, x),
        view(heap, dy),
        out,
        mean,
        variance,
        gamma,
        shift,
        dGamma,
        dBeta,
      ]);
    });
    return { dx, dGamma, dBeta };
  }

  /** dx += x * b + c per channel, in place (dx is a tensor this class made, not yet shared). */
  addAffine(dx: tf.Tensor, x: tf.Tensor, b: Vector, c: Vector): void {
    const heap = heapOf();
    this.#run("addAffine", x.size / b.length, b.length, 0, [view(heap, x), b, view(heap, dx), c]);
  }

  #output(shape: number[], fill: (heap: ArrayBuffer, out: Uint8Array) => void): tf.Tensor {
    const backend = wasmBackend();
    const info = backend.makeOutput(shape, "float32");
    // makeOutput may grow the heap: every view is taken after it.
    const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
    fill(heap, view(heap, info));
    return tf.engine().makeTensorFromTensorInfo(info);
  }

  #run(
    kind: Kind,
    rows: number,
    channels: number,
    epsilon: number,
    arrays: Uint8Array[] | (Uint8Array | Vector)[],
  ): void {
    const key = `${kind}:${rows},${channels},${epsilon}`;
    let built = this.#cache.get(key);
    if (built === undefined) {
      built = this.#build(kind, rows, channels, epsilon);
      this.#cache.set(key, built);
    }
    const { symbols, stream } = this.#dnn;
    built.memories.forEach((memory, i) => {
      const array = arrays[i];
      const bytes = array instanceof Uint8Array
        ? array
        : new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      check(symbols.dnnl_memory_set_data_handle(memory, bytes), "set data handle");
    });
    check(
      symbols.dnnl_primitive_execute(built.primitive, stream, built.memories.length, built.args),
      `batch norm ${kind}`,
    );
    check(symbols.dnnl_stream_wait(stream), "stream wait");
  }

  #build(kind: Kind, rows: number, channels: number, epsilon: number): Built {
    const { symbols, engine } = this.#dnn;
    const data = memoryDesc(symbols, [rows, channels, 1, 1], TAG_NHWC);
    const vector = memoryDesc(symbols, [channels], TAG_A);
    const perChannel = memoryDesc(symbols, [1, channels, 1, 1], TAG_NHWC);
    if (data === null || vector === null || perChannel === null) {
      throw new Error(`oneDNN refused batch norm memory of ${rows} x ${channels}`);
    }
    const desc = new Uint8Array(OP_DESC_BYTES);
    let attr = 0n;
    let postOps = 0n;
    let hint = 0n;
    let argKinds: number[];
    let descs: Uint8Array[];
    if (kind === "addAffine") {
      check(symbols.dnnl_binary_desc_init(desc, BINARY_MUL, data, perChannel, data), "binary");
      postOps = created((out) => symbols.dnnl_post_ops_create(out), "post-ops");
      // (x * b) + c, then + the dst already there (the sum post-op).
      check(symbols.dnnl_post_ops_append_binary(postOps, BINARY_ADD, perChannel), "add post-op");
      check(symbols.dnnl_post_ops_append_sum(postOps, 1), "sum post-op");
      attr = created((out) => symbols.dnnl_primitive_attr_create(out), "attributes");
      check(symbols.dnnl_primitive_attr_set_post_ops(attr, postOps), "set post-ops");
      argKinds = [ARG.src, ARG.src1, ARG.dst, ARG.postOp0Src1];
      descs = [data, perChannel, data, perChannel];
    } else if (kind === "backward" || kind === "backwardConstant") {
      const forward = new Uint8Array(OP_DESC_BYTES);
      check(
        symbols.dnnl_batch_normalization_forward_desc_init(
          forward,
          FORWARD_TRAINING,
          data,
          epsilon,
          USE_SCALE | USE_SHIFT,
        ),
        "batch norm forward",
      );
      hint = primitiveDesc(symbols, engine, forward, 0n, 0n) ?? 0n;
      check(
        symbols.dnnl_batch_normalization_backward_desc_init(
          desc,
          BACKWARD,
          data,
          data,
          epsilon,
          USE_SCALE | USE_SHIFT | (kind === "backwardConstant" ? USE_GLOBAL_STATS : 0),
        ),
        "batch norm backward",
      );
      argKinds = [
        ARG.src,
        ARG.diffDst,
        ARG.diffSrc,
        ARG.mean,
        ARG.variance,
        ARG.scale,
        ARG.shift,
        ARG.diffScale,
        ARG.diffShift,
      ];
      descs = [data, data, data, vector, vector, vector, vector, vector, vector];
    } else {
      check(
        symbols.dnnl_batch_normalization_forward_desc_init(
          desc,
          kind === "forward" ? FORWARD_TRAINING : FORWARD_INFERENCE,
          data,
          epsilon,
          USE_SCALE | USE_SHIFT | (kind === "normalise" ? USE_GLOBAL_STATS : 0),
        ),
        "batch norm forward",
      );
      argKinds = [ARG.src, ARG.dst, ARG.mean, ARG.variance, ARG.scale, ARG.shift];
      descs = [data, data, vector, vector, vector, vector];
    }
    const pd = primitiveDesc(symbols, engine, desc, hint, attr);
    if (hint !== 0n) symbols.dnnl_primitive_desc_destroy(hint);
    if (attr !== 0n) symbols.dnnl_primitive_attr_destroy(attr);
    if (postOps !== 0n) symbols.dnnl_post_ops_destroy(postOps);
    if (pd === null) throw new Error(`oneDNN refused batch norm ${kind} of ${rows} x ${channels}`);
    const primitive = created((out) => symbols.dnnl_primitive_create(out, pd), "primitive");
    symbols.dnnl_primitive_desc_destroy(pd);
    const memories = descs.map((d) =>
      created((out) => symbols.dnnl_memory_create(out, d, engine, 0n), "memory")
    );
    const args = new BigUint64Array(argKinds.length * 2);
    argKinds.forEach((arg, i) => {
      args[2 * i] = BigInt(arg);
      args[2 * i + 1] = memories[i];
    });
    return { primitive, memories, args: new Uint8Array(args.buffer) };
  }
}

function wasmBackend(): WasmBackendInternals {
  return tf.engine().backend as unknown as WasmBackendInternals;
}

function heapOf(): ArrayBuffer {
  return wasmBackend().wasm.HEAPU8.buffer as ArrayBuffer;
}

/** The bytes of a float32 tensor on the wasm heap. */
function view(heap: ArrayBuffer, info: tf.TensorInfo | tf.Tensor): Uint8Array {
  const offset = wasmBackend().dataIdMap.get(info.dataId).memoryOffset;
  return new Uint8Array(heap, offset, 4 * info.shape.reduce((a, b) => a * b, 1));
}
