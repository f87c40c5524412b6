/**
 * 2-D convolutions run by oneDNN for tensors in tfjs' layouts (NHWC activations, HWIO filters):
 * forward, gradient with respect to the input and gradient with respect to the filter.
 *
 * oneDNN picks its own layouts (channels in blocks of 16): on plain NHWC it falls back to an
 * im2col GEMM 3 to 8x slower than its direct AVX-512 kernels on resnet-small's shapes (measured
 * with tools/onednn_formats.c). So each operand whose chosen layout differs from tfjs' is
 * reordered into it (inputs) or out of it (outputs) around the convolution, through scratch
 * buffers this thread reuses. A primitive (oneDNN compiles its kernel for the shape) is built
 * once per shape and kept.
 */
import { check, created, dims, memoryDesc, type OneDnn, primitiveDesc } from "./library.ts";

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
 * address; views over the wasm heap make oneDNN work in place). For the gradients, `x` is dx or
 * the forward input, `w` dw or the filter, `y` dy.
 */
export interface ConvolutionArrays {
  x: Uint8Array;
  w: Uint8Array;
  y: Uint8Array;
  /** Optional bias [outChannels], forward only. */
  bias?: Uint8Array;
}

const TAG_ANY = 1;
const TAG_A = 2;
const TAG_NHWC = 20;
const TAG_HWIO = 30;
/** nChw16c: channels in blocks of 16; with exactly 16 channels, the same bytes as NHWC. */
const TAG_CHANNEL_BLOCKS_16 = 69;
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
  from: 1,
  to: 17,
} as const;
const QUERY = {
  src: 129,
  diffSrc: 130,
  weights: 131,
  diffWeights: 132,
  dst: 133,
  diffDst: 134,
} as const;
/** Bytes for a dnnl_convolution_desc_t (5976 in oneDNN 2.6), with room to spare. */
const OP_DESC_BYTES = 16384;

/** Per propagation: for x, w, y, the primitive's argument, its layout query and its direction. */
const OPERANDS: Record<Propagation, { arg: number; query: number; output: boolean }[]> = {
  forward: [
    { arg: ARG.src, query: QUERY.src, output: false },
    { arg: ARG.weights, query: QUERY.weights, output: false },
    { arg: ARG.dst, query: QUERY.dst, output: true },
  ],
  backwardData: [
    { arg: ARG.diffSrc, query: QUERY.diffSrc, output: true },
    { arg: ARG.weights, query: QUERY.weights, output: false },
    { arg: ARG.diffDst, query: QUERY.diffDst, output: false },
  ],
  backwardWeights: [
    { arg: ARG.src, query: QUERY.src, output: false },
    { arg: ARG.diffWeights, query: QUERY.diffWeights, output: true },
    { arg: ARG.diffDst, query: QUERY.diffDst, output: false },
  ],
};

/** One of x, w, y: a memory over tfjs' array and, when layouts differ, one in oneDNN's. */
interface Operand {
  user: bigint;
  /** The operand in the primitive's layout, in a scratch buffer, with its reorder. */
  internal?: { memory: bigint; bytes: number; reorder: bigint; args: Uint8Array };
  output: boolean;
}

/** A built primitive with its operands (x, w, y, then the bias if any). */
interface Built {
  primitive: bigint;
  operands: Operand[];
  /** The dnnl_exec_arg_t array: pairs of (argument kind, memory). */
  args: Uint8Array;
}

/**
 * Primitives kept per shape; the least recently used beyond this many are destroyed (oneDNN keeps
 * its compiled kernels in a cache of its own, so rebuilding one is cheap; serving batches come in
 * every size).
 */
const CACHE_SIZE = 256;

/**
 * oneDNN convolutions of one thread: {@link run} builds a primitive on a shape's first call and
 * reuses it. Returns false (and remembers it) for shapes oneDNN refuses, so callers fall back.
 */
export class Convolutions {
  readonly #dnn: OneDnn;
  readonly #cache = new Map<string, Built | null>();
  /** Scratch for operands in oneDNN's layouts, one per operand position, grown on demand. */
  readonly #scratch: Uint8Array[] = [];

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
    const views = [arrays.x, arrays.w, arrays.y, ...(bias ? [arrays.bias!] : [])];
    built.operands.forEach((operand, i) => {
      check(symbols.dnnl_memory_set_data_handle(operand.user, views[i]), "set data handle");
      if (operand.internal === undefined) return;
      const scratch = this.#scratchFor(i, operand.internal.bytes);
      check(symbols.dnnl_memory_set_data_handle(operand.internal.memory, scratch), "set scratch");
    });
    const execute = (primitive: bigint, count: number, args: Uint8Array) =>
      check(symbols.dnnl_primitive_execute(primitive, stream, count, args), "execute");
    for (const { internal, output } of built.operands) {
      if (internal !== undefined && !output) execute(internal.reorder, 2, internal.args);
    }
    execute(built.primitive, built.operands.length, built.args);
    for (const { internal, output } of built.operands) {
      if (internal !== undefined && output) execute(internal.reorder, 2, internal.args);
    }
    check(symbols.dnnl_stream_wait(stream), "stream wait");
    return true;
  }

  /** Destroy every primitive and memory object (the tests' cleanup; threads just exit). */
  dispose(): void {
    for (const built of this.#cache.values()) if (built !== null) this.#destroy(built);
    this.#cache.clear();
  }

  #scratchFor(position: number, bytes: number): Uint8Array {
    const current = this.#scratch[position];
    if (current !== undefined && current.length >= bytes) return current;
    // A buffer's memory stays where it is while it lives (oneDNN keeps its address between
    // calls); this thread runs one convolution at a time, so one buffer per position is enough.
    this.#scratch[position] = new Uint8Array(bytes);
    return this.#scratch[position];
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
    for (const { user, internal } of built.operands) {
      symbols.dnnl_memory_destroy(user);
      if (internal === undefined) continue;
      symbols.dnnl_memory_destroy(internal.memory);
      symbols.dnnl_primitive_destroy(internal.reorder);
    }
  }

  #build(propagation: Propagation, shape: ConvolutionShape, bias: boolean): Built | null {
    const { symbols, engine } = this.#dnn;
    const xDims = [shape.batch, shape.inChannels, shape.inHeight, shape.inWidth];
    const wDims = [shape.outChannels, shape.inChannels, shape.filterHeight, shape.filterWidth];
    const yDims = [shape.batch, shape.outChannels, shape.outHeight, shape.outWidth];
    // With 16 channels tfjs' layout is oneDNN's favourite, said so, no reorder is made (each
    // was a copy of the whole activation).
    const activation = (channels: number) => channels === 16 ? TAG_CHANNEL_BLOCKS_16 : TAG_NHWC;
    const user = [
      memoryDesc(symbols, xDims, activation(shape.inChannels)),
      memoryDesc(symbols, wDims, TAG_HWIO),
      memoryDesc(symbols, yDims, activation(shape.outChannels)),
    ];
    const any = [
      memoryDesc(symbols, xDims, TAG_ANY),
      memoryDesc(symbols, wDims, TAG_ANY),
      memoryDesc(symbols, yDims, TAG_ANY),
    ];
    const b = bias ? memoryDesc(symbols, [shape.outChannels], TAG_A) : null;
    if ([...user, ...any].some((d) => d === null) || (bias && b === null)) return null;
    const [x, w, y] = any as Uint8Array[];
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
    const forward = primitiveDesc(symbols, engine, forwardDesc, 0n, 0n);
    if (forward === null) return null;
    let pd = forward;
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
        const backward = primitiveDesc(symbols, engine, desc, forward, 0n);
        if (backward === null) return null;
        pd = backward;
      }
      const primitive = created((out) => symbols.dnnl_primitive_create(out, pd), "primitive");
      const operands = OPERANDS[propagation].map(({ query, output }, i) =>
        this.#operand(user[i]!, symbols.dnnl_primitive_desc_query_md(pd, query, 0), output)
      );
      const argKinds = OPERANDS[propagation].map(({ arg }) => arg);
      if (b !== null) {
        operands.push({ user: this.#memory(b), output: false });
        argKinds.push(ARG.bias);
      }
      const args = new BigUint64Array(argKinds.length * 2);
      argKinds.forEach((kind, i) => {
        args[2 * i] = BigInt(kind);
        args[2 * i + 1] = operands[i].internal?.memory ?? operands[i].user;
      });
      return { primitive, operands, args: new Uint8Array(args.buffer) };
    } finally {
      if (pd !== forward) symbols.dnnl_primitive_desc_destroy(pd);
      symbols.dnnl_primitive_desc_destroy(forward);
    }
  }

  #memory(desc: Uint8Array): bigint {
    const { symbols, engine } = this.#dnn;
    return created((out) => symbols.dnnl_memory_create(out, desc, engine, 0n), "memory");
  }

  /** The operand over tfjs' layout `userDesc`, with a reorder when the primitive's differs. */
  #operand(userDesc: Uint8Array, chosen: bigint, output: boolean): Operand {
    const { symbols, engine } = this.#dnn;
    const user = this.#memory(userDesc);
    if (symbols.dnnl_memory_desc_equal(userDesc, chosen) === 1) return { user, output };
    const memory = created(
      (out) => symbols.memory_create_queried(out, chosen, engine, 0n),
      "memory",
    );
    const reorderPd = created(
      (out) =>
        output
          ? symbols.reorder_out_of(out, chosen, engine, userDesc, engine, 0n)
          : symbols.reorder_into(out, userDesc, engine, chosen, engine, 0n),
      "reorder",
    );
    const reorder = created((out) => symbols.dnnl_primitive_create(out, reorderPd), "reorder");
    symbols.dnnl_primitive_desc_destroy(reorderPd);
    const args = new BigUint64Array([
      BigInt(ARG.from),
      output ? memory : user,
      BigInt(ARG.to),
      output ? user : memory,
    ]);
    const bytes = Number(symbols.dnnl_memory_desc_get_size(chosen));
    return {
      user,
      output,
      internal: { memory, bytes, reorder, args: new Uint8Array(args.buffer) },
    };
  }
}
