/**
 * oneDNN (Debian's `libdnnl2`, the library PyTorch's CPU convolutions use) through Deno's FFI:
 * found, opened and set to one thread per calling thread, or reported absent with the reason.
 * Nothing else in the project needs it: without it the wasm backend keeps its own kernels.
 */

/** Where Debian puts the libraries; `SCANSTREAM_ONEDNN` names another libdnnl or `off`. */
const LIBRARY_DIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64"];
const DNNL = "libdnnl.so.2";
/** libdnnl's OpenMP runtime, opened only to set its thread count. */
const GOMP = "libgomp.so.1";

const DNNL_SYMBOLS = {
  dnnl_engine_create: { parameters: ["buffer", "i32", "usize"], result: "i32" },
  dnnl_stream_create: { parameters: ["buffer", "usize", "u32"], result: "i32" },
  dnnl_memory_desc_init_by_tag: {
    parameters: ["buffer", "i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  dnnl_convolution_forward_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_convolution_backward_data_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_convolution_backward_weights_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_primitive_desc_create: {
    parameters: ["buffer", "buffer", "usize", "usize", "usize"],
    result: "i32",
  },
  dnnl_primitive_desc_destroy: { parameters: ["usize"], result: "i32" },
  dnnl_primitive_create: { parameters: ["buffer", "usize"], result: "i32" },
  dnnl_primitive_destroy: { parameters: ["usize"], result: "i32" },
  dnnl_memory_create: { parameters: ["buffer", "buffer", "usize", "usize"], result: "i32" },
  dnnl_memory_set_data_handle: { parameters: ["usize", "buffer"], result: "i32" },
  dnnl_memory_destroy: { parameters: ["usize"], result: "i32" },
  dnnl_primitive_execute: { parameters: ["usize", "usize", "i32", "buffer"], result: "i32" },
  dnnl_batch_normalization_forward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "f32", "u32"],
    result: "i32",
  },
  dnnl_batch_normalization_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "u32"],
    result: "i32",
  },
  dnnl_eltwise_forward_desc_init: {
    parameters: ["buffer", "i32", "i32", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_eltwise_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_matmul_desc_init: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_memory_desc_init_by_strides: {
    parameters: ["buffer", "i32", "buffer", "i32", "buffer"],
    result: "i32",
  },
  dnnl_binary_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_post_ops_create: { parameters: ["buffer"], result: "i32" },
  dnnl_post_ops_append_binary: { parameters: ["usize", "i32", "buffer"], result: "i32" },
  dnnl_post_ops_append_sum: { parameters: ["usize", "f32"], result: "i32" },
  dnnl_post_ops_destroy: { parameters: ["usize"], result: "i32" },
  dnnl_primitive_attr_create: { parameters: ["buffer"], result: "i32" },
  dnnl_primitive_attr_set_post_ops: { parameters: ["usize", "usize"], result: "i32" },
  dnnl_primitive_attr_destroy: { parameters: ["usize"], result: "i32" },
  dnnl_primitive_desc_query_md: { parameters: ["usize", "i32", "i32"], result: "usize" },
  dnnl_memory_desc_equal: { parameters: ["buffer", "usize"], result: "i32" },
  dnnl_memory_desc_get_size: { parameters: ["usize"], result: "usize" },
  /** dnnl_memory_create for a descriptor oneDNN owns (a primitive's chosen layout). */
  memory_create_queried: {
    name: "dnnl_memory_create",
    parameters: ["buffer", "usize", "usize", "usize"],
    result: "i32",
  },
  /** dnnl_reorder_primitive_desc_create from tfjs' layout to a primitive's. */
  reorder_into: {
    name: "dnnl_reorder_primitive_desc_create",
    parameters: ["buffer", "buffer", "usize", "usize", "usize", "usize"],
    result: "i32",
  },
  /** dnnl_reorder_primitive_desc_create from a primitive's layout back to tfjs'. */
  reorder_out_of: {
    name: "dnnl_reorder_primitive_desc_create",
    parameters: ["buffer", "usize", "usize", "buffer", "usize", "usize"],
    result: "i32",
  },
  dnnl_stream_wait: { parameters: ["usize"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

export type DnnlSymbols = Deno.DynamicLibrary<typeof DNNL_SYMBOLS>["symbols"];

/** An opened oneDNN: its functions, one CPU engine and one in-order stream. */
export interface OneDnn {
  path: string;
  symbols: DnnlSymbols;
  /** Handles are addresses as integers: making a Deno.PointerValue needs FFI for any path. */
  engine: bigint;
  stream: bigint;
}

/** Why oneDNN is not used, or the opened library; decided once per thread (worker). */
let opened: OneDnn | string | undefined;

/**
 * The opened library, or a one-line reason it is not used (not installed, `SCANSTREAM_ONEDNN`
 * is `off`, or no FFI permission for its path). Never prompts for a permission.
 */
export function openOneDnn(): OneDnn | string {
  opened ??= open();
  return opened;
}

function open(): OneDnn | string {
  const setting = env("SCANSTREAM_ONEDNN") || undefined;
  if (setting === "off" || setting === "0") return "SCANSTREAM_ONEDNN is off";
  const path = setting ?? LIBRARY_DIRS.map((dir) => `${dir}/${DNNL}`).find(exists);
  if (path === undefined) {
    return `${DNNL} not found (apt-get install -y libdnnl2 brings it)`;
  }
  if (!ffiGranted(path)) return `no FFI permission for ${path} (--allow-ffi)`;
  singleThreaded(path);
  let library: Deno.DynamicLibrary<typeof DNNL_SYMBOLS>;
  try {
    library = Deno.dlopen(path, DNNL_SYMBOLS);
  } catch (error) {
    return `cannot open ${path}: ${(error as Error).message}`;
  }
  const symbols = library.symbols;
  const engine = created((out) => symbols.dnnl_engine_create(out, ENGINE_CPU, 0n), "engine");
  const stream = created(
    (out) => symbols.dnnl_stream_create(out, engine, STREAM_DEFAULT_FLAGS),
    "stream",
  );
  return { path, symbols, engine, stream };
}

const ENGINE_CPU = 1;
const STREAM_DEFAULT_FLAGS = 1;

/**
 * OpenMP's thread count for the calling thread, set to 1 before oneDNN first runs: the training
 * pool already runs one worker per core, and a team per worker would oversubscribe the cores.
 * libgomp keeps the setting per thread, so each worker sets its own.
 */
function singleThreaded(dnnlPath: string): void {
  const gomp = dnnlPath.replace(/[^/]*$/, GOMP);
  if (!exists(gomp) || !ffiGranted(gomp)) return;
  const library = Deno.dlopen(gomp, {
    omp_set_num_threads: { parameters: ["i32"], result: "void" },
  });
  library.symbols.omp_set_num_threads(1);
}

/** Throw with oneDNN's status when a call fails (status 0 is success). */
export function check(status: number, what: string): void {
  if (status !== 0) throw new Error(`oneDNN ${what} failed with status ${status}`);
}

/** Call `create` with room for one pointer and return the pointer it wrote, as an integer. */
export function created(create: (out: Uint8Array) => number, what: string): bigint {
  const out = new BigUint64Array(1);
  check(create(new Uint8Array(out.buffer)), what);
  return out[0];
}

function exists(path: string): boolean {
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return false;
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function ffiGranted(path: string): boolean {
  return Deno.permissions.querySync({ name: "ffi", path }).state === "granted";
}

function env(name: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
    return undefined;
  }
  return Deno.env.get(name);
}

const F32 = 3;
/** Bytes for a dnnl_memory_desc_t (696 in oneDNN 2.6), with room to spare. */
const MEMORY_DESC_BYTES = 2048;

/** A plain float32 memory descriptor of `shape` in layout `tag`, or null if oneDNN refuses. */
export function memoryDesc(
  symbols: OneDnn["symbols"],
  shape: number[],
  tag: number,
): Uint8Array | null {
  const desc = new Uint8Array(MEMORY_DESC_BYTES);
  return symbols.dnnl_memory_desc_init_by_tag(desc, shape.length, dims(shape), F32, tag) === 0
    ? desc
    : null;
}

/** A primitive descriptor for `opDesc` (with attributes `attr`, 0n for none), or null. */
export function primitiveDesc(
  symbols: OneDnn["symbols"],
  engine: bigint,
  opDesc: Uint8Array,
  hint: bigint,
  attr: bigint,
): bigint | null {
  const out = new BigUint64Array(1);
  const status = symbols.dnnl_primitive_desc_create(
    new Uint8Array(out.buffer),
    opDesc,
    attr,
    engine,
    hint,
  );
  return status === 0 ? out[0] : null;
}

/** A dnnl_dims_t argument: int64 values. */
export function dims(values: number[]): Uint8Array {
  return new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer);
}
