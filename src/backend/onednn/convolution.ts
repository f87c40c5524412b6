/**
 * 2-D convolutions run by oneDNN on NHWC tensors with HWIO filters (tfjs' layouts, so nothing is
 * reordered): forward, gradient with respect to the input and gradient with respect to the
 * filter. A primitive is built (oneDNN compiles its kernel for the shape) once per shape and kept.
 */
import { check, created, type OneDnn } from "./library.ts";

/** One convolution's geometry, in tfjs' terms (the padding as tfjs computed it). */
export interface ConvolutionShape {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
}

/** What a primitive computes: y from x and w, dx from dy and w, dw from x and dy. */
export type Propagation = "forward" | "backwardData" | "backwardWeights";

/**
 * The arrays a primitive reads and writes, as views of exactly their bytes (FFI passes a view's
 * address; views over the wasm heap make oneDNN work in place).
 */
export interface ConvolutionArrays {
  x: Uint8Array;
  w: Uint8Array;
  y: Uint8Array;
  /** Optional bias [outChannels], forward only. */
  bias?: Uint8Array;
}

const F32 = 3;
const TAG_A = 2;
const TAG_NHWC = 20;
const TAG_HWIO = 30;
const FORWARD_TRAINING = 64;
const CONVOLUTION_DIRECT = 1;
const ARG = {
  src: 1,
  dst: 17,
  weights: 33,
  bias: 41,
  diffSrc: 129,
  diffDst: 145,
  diffWeights: 161,
} as const;
/** Bytes for a dnnl_memory_desc_t (696 in oneDNN 2.6) and a dnnl_convolution_desc_t (5976). */
const MEMORY_DESC_BYTES = 2048;
const OP_DESC_BYTES = 16384;

/** A built primitive with its memory objects (pointed at the arrays at each call). */
interface Built {
  primitive: bigint;
  memories: bigint[];
  /** The dnnl_exec_arg_t array: pairs of (argument kind, memory). */
  args: Uint8Array;
}

/** Primitives kept per shape; the least recently used beyond this many are destroyed. */
const CACHE_SIZE = 64;

/**
 * oneDNN convolutions of one thread: {@link run} builds a primitive on a shape's first call and
 * reuses it. Returns false (and remembers it) for shapes oneDNN refuses, so callers fall back.
 */
export class Convolutions {
  readonly #dnn: OneDnn;
  readonly #cache = new Map<string, Built | null>();

  constructor(dnn: OneDnn) {
    this.#dnn = dnn;
  }

  /** Run `propagation` on `shape` over `arrays`; false when oneDNN cannot do this shape. */
  run(propagation: Propagation, shape: ConvolutionShape, arrays: ConvolutionArrays): boolean {
    const bias = arrays.bias !== undefined;
    const key = `${propagation}${bias ? "+bias" : ""}:${Object.values(shape).join(",")}`;
    let built = this.#cache.get(key);
    if (built === undefined) {
      built = this.#build(propagation, shape, bias);
      this.#remember(key, built);
    } else {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.#cache.delete(key);
      this.#cache.set(key, built);
    }
    if (built === null) return false;
    const { symbols, stream } = this.#dnn;
    const handles = propagation === "forward"
      ? [arrays.x, arrays.w, arrays.y, ...(bias ? [arrays.bias!] : [])]
      : [arrays.x, arrays.w, arrays.y];
    built.memories.forEach((memory, i) => {
      check(symbols.dnnl_memory_set_data_handle(memory, handles[i]), "set data handle");
    });
    check(
      symbols.dnnl_primitive_execute(built.primitive, stream, handles.length, built.args),
      "execute",
    );
    check(symbols.dnnl_stream_wait(stream), "stream wait");
    return true;
  }

  /** Destroy every primitive and memory object (the tests' cleanup; threads just exit). */
  dispose(): void {
    for (const built of this.#cache.values()) if (built !== null) this.#destroy(built);
    this.#cache.clear();
  }

  #remember(key: string, built: Built | null): void {
    this.#cache.set(key, built);
    if (this.#cache.size <= CACHE_SIZE) return;
    const [oldestKey, oldest] = this.#cache.entries().next().value!;
    this.#cache.delete(oldestKey);
    if (oldest !== null) this.#destroy(oldest);
  }

  #destroy(built: Built): void {
    const { symbols } = this.#dnn;
    symbols.dnnl_primitive_destroy(built.primitive);
    for (const memory of built.memories) symbols.dnnl_memory_destroy(memory);
  }

  #build(propagation: Propagation, shape: ConvolutionShape, bias: boolean): Built | null {
    const { symbols, engine } = this.#dnn;
    const x = memoryDesc(symbols, [
      shape.batch,
      shape.inChannels,
      shape.inHeight,
      shape.inWidth,
    ], TAG_NHWC);
    const w = memoryDesc(symbols, [
      shape.outChannels,
      shape.inChannels,
      shape.filterHeight,
      shape.filterWidth,
    ], TAG_HWIO);
    const y = memoryDesc(symbols, [
      shape.batch,
      shape.outChannels,
      shape.outHeight,
      shape.outWidth,
    ], TAG_NHWC);
    const b = bias ? memoryDesc(symbols, [shape.outChannels], TAG_A) : null;
    if (x === null || w === null || y === null || (bias && b === null)) return null;
    const strides = dims([shape.strideHeight, shape.strideWidth]);
    const padBefore = dims([shape.padTop, shape.padLeft]);
    const padAfter = dims([shape.padBottom, shape.padRight]);

    const forwardDesc = new Uint8Array(OP_DESC_BYTES);
    const forwardStatus = symbols.dnnl_convolution_forward_desc_init(
      forwardDesc,
      FORWARD_TRAINING,
      CONVOLUTION_DIRECT,
      x,
      w,
      b,
      y,
      strides,
      padBefore,
      padAfter,
    );
    if (forwardStatus !== 0) return null;
    const forward = primitiveDesc(symbols, engine, forwardDesc, 0n);
    if (forward === null) return null;
    let pd = forward;
    let argKinds: number[] = [ARG.src, ARG.weights, ARG.dst, ...(bias ? [ARG.bias] : [])];
    let descs = [x, w, y, ...(b === null ? [] : [b])];
    try {
      if (propagation !== "forward") {
        const desc = new Uint8Array(OP_DESC_BYTES);
        const status = propagation === "backwardData"
          ? symbols.dnnl_convolution_backward_data_desc_init(
            desc,
            CONVOLUTION_DIRECT,
            x,
            w,
            y,
            strides,
            padBefore,
            padAfter,
          )
          : symbols.dnnl_convolution_backward_weights_desc_init(
            desc,
            CONVOLUTION_DIRECT,
            x,
            w,
            null,
            y,
            strides,
            padBefore,
            padAfter,
          );
        if (status !== 0) return null;
        const backward = primitiveDesc(symbols, engine, desc, forward);
        if (backward === null) return null;
        pd = backward;
        argKinds = propagation === "backwardData"
          ? [ARG.diffSrc, ARG.weights, ARG.diffDst]
          : [ARG.src, ARG.diffWeights, ARG.diffDst];
        descs = [x, w, y];
      }
      const primitive = created((out) => symbols.dnnl_primitive_create(out, pd), "primitive");
      const memories = descs.map((desc) =>
        created((out) => symbols.dnnl_memory_create(out, desc, engine, 0n), "memory")
      );
      const args = new BigUint64Array(argKinds.length * 2);
      argKinds.forEach((kind, i) => {
        args[2 * i] = BigInt(kind);
        args[2 * i + 1] = memories[i];
      });
      return { primitive, memories, args: new Uint8Array(args.buffer) };
    } finally {
      if (pd !== forward) symbols.dnnl_primitive_desc_destroy(pd);
      symbols.dnnl_primitive_desc_destroy(forward);
    }
  }
}

function memoryDesc(
  symbols: OneDnn["symbols"],
  shape: number[],
  tag: number,
): Uint8Array | null {
  const desc = new Uint8Array(MEMORY_DESC_BYTES);
  return symbols.dnnl_memory_desc_init_by_tag(desc, shape.length, dims(shape), F32, tag) === 0
    ? desc
    : null;
}

function primitiveDesc(
  symbols: OneDnn["symbols"],
  engine: bigint,
  opDesc: Uint8Array,
  hint: bigint,
): bigint | null {
  const out = new BigUint64Array(1);
  const status = symbols.dnnl_primitive_desc_create(
    new Uint8Array(out.buffer),
    opDesc,
    0n,
    engine,
    hint,
  );
  return status === 0 ? out[0] : null;
}

/** A dnnl_dims_t argument: int64 values. */
function dims(values: number[]): Uint8Array {
  return new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer);
}
