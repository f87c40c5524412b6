import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { registerWasmKernels, WASM_KERNELS } from "../../src/backend/register_wasm_kernels.ts";
import { conv2dBackpropFilter } from "../../src/backend/kernels/conv2d_backprop_filter.ts";
import {
  assertMatchesCpu,
  CONV_CASES,
  type ConvCase,
  convOutShape,
  describe,
  type Inputs,
  normal,
  relativeError,
  runOn,
} from "./_kernel_check.ts";

await initBackend("wasm");
// These tests are of the wasm kernels: the convolutions stay in wasm even where oneDNN is
// installed (tests/backend/onednn_test.ts checks those).
registerWasmKernels("wasm");

Deno.test("registerWasmKernels() installs every kernel for wasm and is idempotent", () => {
  registerWasmKernels("wasm");
  registerWasmKernels("wasm");
  for (const config of WASM_KERNELS) {
    assert.equal(config.backendName, "wasm");
    assert.equal(tf.getKernel(config.kernelName, "wasm")?.kernelFunc, config.kernelFunc);
  }
  assert.deepEqual(
    WASM_KERNELS.map((k) => k.kernelName).sort(),
    [
      "BatchMatMul",
      "Concat",
      "Conv2DBackpropFilter",
      "Conv2DBackpropInput",
      "Einsum",
      "Equal",
      "Greater",
      "GreaterEqual",
      "Identity",
      "Less",
      "LessEqual",
      "LogicalAnd",
      "LogicalOr",
      "Mean",
      "NotEqual",
      "Pack",
      "Slice",
      "Sum",
      "Tile",
      "UnsortedSegmentSum",
    ],
  );
});

Deno.test("Conv2DBackpropFilter on wasm matches cpu for strides, paddings and layouts", async () => {
  for (const [i, c] of CONV_CASES.entries()) {
    await assertMatchesCpu(
      tf.Conv2DBackpropFilter,
      { x: normal(c.x, 10 + i), dy: normal(convOutShape(c), 100 + i) },
      {
        strides: c.strides,
        pad: c.pad,
        dataFormat: c.dataFormat ?? "NHWC",
        dimRoundingMode: c.dimRoundingMode,
        filterShape: c.filter,
      } as unknown as tf.NamedAttrMap,
      `filter gradient, ${describe(c)}`,
    );
  }
});

Deno.test("Conv2DBackpropInput on wasm matches cpu for strides, paddings and layouts", async () => {
  for (const [i, c] of CONV_CASES.entries()) {
    await assertMatchesCpu(
      tf.Conv2DBackpropInput,
      { dy: normal(convOutShape(c), 200 + i), filter: normal(c.filter, 300 + i) },
      {
        strides: c.strides,
        pad: c.pad,
        dataFormat: c.dataFormat ?? "NHWC",
        dimRoundingMode: c.dimRoundingMode,
        inputShape: c.x,
      } as unknown as tf.NamedAttrMap,
      `input gradient, ${describe(c)}`,
    );
  }
});

Deno.test("conv2d gradients on wasm match cpu through tf.grads, without leaks", async () => {
  const c = CONV_CASES[2];
  const values = { x: normal(c.x, 1), filter: normal(c.filter, 2) };
  const gradsOn = async (backend: "wasm" | "cpu") => {
    await tf.setBackend(backend);
    const x = tf.tensor4d(values.x.values, c.x);
    const filter = tf.tensor4d(values.filter.values, c.filter);
    const before = tf.memory().numTensors;
    const [dx, dFilter] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same")))
    )([x, filter]);
    assert.equal(tf.memory().numTensors, before + 2, `${backend}: leaked tensors`);
    const out = [dx.dataSync().slice(), dFilter.dataSync().slice()];
    tf.dispose([x, filter, dx, dFilter]);
    await tf.setBackend("wasm");
    return out;
  };
  const wasm = await gradsOn("wasm");
  const cpu = await gradsOn("cpu");
  assert.ok(relativeError(wasm[0], cpu[0]) < 1e-4, "input gradient");
  assert.ok(relativeError(wasm[1], cpu[1]) < 1e-4, "filter gradient");
});

Deno.test("Tile on wasm matches cpu for float32, int32 and bool, any rank", async () => {
  const cases: { shape: number[]; reps: number[]; dtype: tf.DataType }[] = [
    { shape: [1, 1, 1, 5], reps: [3, 4, 2, 1], dtype: "float32" },
    { shape: [2, 3], reps: [2, 3], dtype: "float32" },
    { shape: [4], reps: [1], dtype: "float32" },
    { shape: [2, 1, 3], reps: [1, 4, 1], dtype: "int32" },
    { shape: [2, 3, 2, 3, 2, 2], reps: [2, 1, 2, 1, 2, 2], dtype: "float32" },
    { shape: [2, 2, 2, 2, 2, 2, 2], reps: [2, 1, 2, 1, 2, 1, 2], dtype: "float32" },
    { shape: [3, 2], reps: [2, 2], dtype: "bool" },
    { shape: [2, 0], reps: [2, 3], dtype: "float32" },
  ];
  for (const [i, c] of cases.entries()) {
    const x = normal(c.shape, 400 + i);
    x.dtype = c.dtype;
    if (c.dtype !== "float32") x.values = x.values.map((v) => (v > 0 ? Math.round(3 * v) : 0));
    await assertMatchesCpu(tf.Tile, { x }, { reps: c.reps }, `tile ${c.shape} by ${c.reps}`);
  }
});

Deno.test("Tile on wasm keeps signed zeros, NaN and infinities exactly", async () => {
  const x = { shape: [1, 4], dtype: "float32" as const, values: [-0, NaN, Infinity, -Infinity] };
  const wasm = await runOn("wasm", tf.Tile, { x }, { reps: [2, 1] });
  assert.deepEqual(Array.from(wasm.values), [
    -0,
    NaN,
    Infinity,
    -Infinity,
    -0,
    NaN,
    Infinity,
    -Infinity,
  ]);
  assert.ok(Object.is(wasm.values[4], -0));
});

Deno.test("UnsortedSegmentSum on wasm matches cpu, summing repeated ids", async () => {
  const ids = (values: number[]) => ({ shape: [values.length], dtype: "int32" as const, values });
  await assertMatchesCpu(
    tf.UnsortedSegmentSum,
    { x: normal([6, 3], 500), segmentIds: ids([0, 2, 2, 4, 0, 2]) },
    { numSegments: 5 },
    "segments of rows",
  );
  await assertMatchesCpu(
    tf.UnsortedSegmentSum,
    { x: normal([5], 501), segmentIds: ids([1, 1, 0, 1, 2]) },
    { numSegments: 3 },
    "segments of scalars",
  );
  // The cpu kernel multiplies by a float mask and so returns float32; TensorFlow keeps x's dtype.
  const x = { shape: [4, 2], dtype: "int32" as const, values: [1, 2, 3, 4, 5, 6, 7, 8] };
  const segmentIds = ids([1, 0, 1, 1]);
  const wasm = await runOn("wasm", tf.UnsortedSegmentSum, { x, segmentIds }, { numSegments: 2 });
  const cpu = await runOn("cpu", tf.UnsortedSegmentSum, { x, segmentIds }, { numSegments: 2 });
  assert.equal(wasm.dtype, "int32");
  assert.deepEqual(Array.from(wasm.values), Array.from(cpu.values));
  assert.deepEqual(Array.from(wasm.values), [3, 4, 13, 16]);
});

Deno.test("UnsortedSegmentSum on wasm drops ids outside [0, numSegments)", async () => {
  const x = { shape: [4, 2], dtype: "float32" as const, values: [1, 2, 3, 4, 5, 6, 7, 8] };
  const segmentIds = { shape: [4], dtype: "int32" as const, values: [1, -1, 3, 1] };
  const wasm = await runOn("wasm", tf.UnsortedSegmentSum, { x, segmentIds }, { numSegments: 3 });
  assert.deepEqual(wasm.shape, [3, 2]);
  assert.deepEqual(Array.from(wasm.values), [0, 0, 8, 10, 0, 0]);
});

Deno.test("gather gradients on wasm match cpu", async () => {
  const params = normal([5, 3], 600);
  const gradOn = async (backend: "wasm" | "cpu", axis: number) => {
    await tf.setBackend(backend);
    const p = tf.tensor(params.values, params.shape);
    const indices = tf.tensor1d([0, 2, 2, 1, 0], "int32");
    const before = tf.memory().numTensors;
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, indices, axis))))(p);
    assert.equal(tf.memory().numTensors, before + 1, `${backend}: leaked tensors`);
    const out = g.dataSync().slice();
    tf.dispose([p, indices, g]);
    await tf.setBackend("wasm");
    return out;
  };
  for (const axis of [0, 1]) {
    assert.ok(relativeError(await gradOn("wasm", axis), await gradOn("cpu", axis)) < 1e-4);
  }
});

Deno.test("Einsum on wasm matches cpu, and rgbToGrayscale runs", async () => {
  await assertMatchesCpu(
    tf.Einsum,
    [normal([3, 4], 700), normal([4, 5], 701)],
    { equation: "ij,jk->ik" },
    "matrix product",
  );
  await assertMatchesCpu(
    tf.Einsum,
    [normal([2, 3, 4], 702), normal([4], 703)],
    { equation: "bhk,k->bh" },
    "contraction with a vector",
  );
  await assertMatchesCpu(
    tf.Einsum,
    [normal([3, 4], 704), normal([3, 4], 705)],
    { equation: "ij,ij->j" },
    "batched dot",
  );
  const before = tf.memory().numTensors;
  const gray = tf.tidy(() => tf.image.rgbToGrayscale(tf.ones([1, 2, 2, 3]) as tf.Tensor4D));
  assert.deepEqual(gray.shape, [1, 2, 2, 1]);
  const expected = 0.2989 + 0.587 + 0.114;
  for (const v of gray.dataSync()) assert.ok(Math.abs(v - expected) < 1e-5);
  gray.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("Sum and Mean on wasm match cpu over leading axes and fall back elsewhere", async () => {
  const cases: { shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
    { shape: [16, 7, 5, 6], axis: [0, 1, 2], keepDims: false },
    { shape: [16, 7, 5, 6], axis: [2, 0, 1], keepDims: true },
    { shape: [9, 4], axis: 0, keepDims: false },
    { shape: [3, 4, 2, 5], axis: [0, 1], keepDims: false },
    { shape: [3, 4, 5], axis: [-3], keepDims: true },
    // Not leading-axes reductions: the stock kernel's.
    { shape: [3, 4, 5], axis: [1, 2], keepDims: false },
    { shape: [3, 4, 5], axis: [0, 2], keepDims: true },
    { shape: [3, 4, 5], axis: [0, 1, 2], keepDims: false },
    { shape: [6], axis: 0, keepDims: false },
  ];
  for (const [i, c] of cases.entries()) {
    for (const kernel of [tf.Sum, tf.Mean]) {
      await assertMatchesCpu(
        kernel,
        { x: normal(c.shape, 800 + i) },
        { axis: c.axis, keepDims: c.keepDims },
        `${kernel} of ${c.shape} over ${c.axis}${c.keepDims ? " keeping dims" : ""}`,
      );
    }
  }
  const x = { shape: [2, 3], dtype: "int32" as const, values: [1, 2, 3, 4, 5, 6] };
  const sum = await runOn("wasm", tf.Sum, { x }, { axis: 0, keepDims: false });
  assert.equal(sum.dtype, "int32");
  assert.deepEqual(Array.from(sum.values), [5, 7, 9]);
});

Deno.test("Sum on wasm over a batch-norm sized activation stays within 1e-4 of cpu", async () => {
  const x = normal([32, 16, 16, 8], 900);
  x.values = x.values.map((v) => v + 3);
  await assertMatchesCpu(tf.Sum, { x }, { axis: [0, 1, 2], keepDims: false }, "large sum");
  await assertMatchesCpu(tf.Mean, { x }, { axis: [0, 1, 2], keepDims: true }, "large mean");
});

Deno.test("Slice on wasm matches cpu: crops, whole axes merged, any rank and dtype", async () => {
  const cases: { shape: number[]; begin: number[]; size: number[]; dtype?: tf.DataType }[] = [
    // The zero padding's gradient in resnet-small: a spatial crop of NHWC.
    { shape: [4, 10, 10, 16], begin: [0, 1, 1, 0], size: [-1, 8, 8, -1] },
    // A crop that skips a trailing row (stride 2 on an odd window).
    { shape: [3, 9, 9, 5], begin: [0, 0, 0, 0], size: [-1, 8, 8, -1] },
    { shape: [3, 9, 9, 5], begin: [1, 2, 0, 1], size: [2, 3, 9, 3] },
    { shape: [6, 7], begin: [2, 0], size: [3, -1] },
    { shape: [6, 40], begin: [1, 3], size: [4, 30] },
    { shape: [2, 1, 3, 1, 4, 2], begin: [1, 0, 1, 0, 1, 0], size: [1, 1, 2, 1, 3, 2] },
    { shape: [5], begin: [1], size: [3] },
    { shape: [4, 3], begin: [0, 0], size: [4, 3] },
    { shape: [4, 3], begin: [2, 1], size: [0, 2] },
    { shape: [4, 6, 2], begin: [1, 2, 0], size: [2, 3, 2], dtype: "int32" },
    { shape: [4, 6, 2], begin: [0, 1, 1], size: [3, 4, 1], dtype: "bool" },
  ];
  for (const [i, c] of cases.entries()) {
    const x = normal(c.shape, 1000 + i);
    x.dtype = c.dtype ?? "float32";
    if (x.dtype !== "float32") x.values = x.values.map((v) => (v > 0 ? Math.round(3 * v) : 0));
    await assertMatchesCpu(
      tf.Slice,
      { x },
      { begin: c.begin, size: c.size },
      `slice ${c.shape} at ${c.begin} of ${c.size}`,
    );
  }
});

Deno.test("Slice on wasm copies exactly: signed zeros, NaN and infinities", async () => {
  const x = {
    shape: [2, 4],
    dtype: "float32" as const,
    values: [1, -0, NaN, 2, Infinity, -Infinity, -0, 3],
  };
  const wasm = await runOn("wasm", tf.Slice, { x }, { begin: [0, 1], size: [2, 2] });
  assert.deepEqual(Array.from(wasm.values), [-0, NaN, -Infinity, -0]);
  assert.ok(Object.is(wasm.values[0], -0));
});

Deno.test("Concat and Pack on wasm match cpu: any axis, rank and dtype, empty inputs", async () => {
  const cases: { shapes: number[][]; axis: number; dtype?: tf.DataType }[] = [
    // The strided input gradient's phases, side by side on the channel axis.
    { shapes: [[4, 3, 3, 16], [4, 3, 3, 16]], axis: 3 },
    { shapes: [[4, 3, 6, 16], [4, 3, 6, 16]], axis: 2 },
    { shapes: [[2, 5], [3, 5], [1, 5]], axis: 0 },
    { shapes: [[2, 3], [2, 40], [2, 1]], axis: 1 },
    { shapes: [[2, 3, 4], [2, 0, 4], [2, 2, 4]], axis: 1 },
    { shapes: [[3, 2], [3, 2]], axis: -1, dtype: "int32" },
    { shapes: [[3, 2], [3, 2]], axis: 0, dtype: "bool" },
  ];
  for (const [i, c] of cases.entries()) {
    const inputs = c.shapes.map((shape, j) => {
      const x = normal(shape, 1100 + 10 * i + j);
      x.dtype = c.dtype ?? "float32";
      if (x.dtype !== "float32") x.values = x.values.map((v) => (v > 0 ? Math.round(3 * v) : 0));
      return x;
    });
    const label = `${c.shapes.map((s) => `[${s}]`).join(" ")} on axis ${c.axis}`;
    await assertMatchesCpu(tf.Concat, inputs, { axis: c.axis }, `concat ${label}`);
    if (c.shapes.every((s) => s.join() === c.shapes[0].join())) {
      for (const axis of [0, c.shapes[0].length, -1]) {
        await assertMatchesCpu(tf.Pack, inputs, { axis }, `stack ${label}, new axis ${axis}`);
      }
    }
  }
});

Deno.test("Conv2DBackpropFilter on wasm over batch chunks matches cpu, without leaks", async () => {
  const cases: ConvCase[] = [
    { x: [5, 6, 6, 3], filter: [3, 3, 3, 4], strides: 1, pad: "same" },
    { x: [5, 8, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: "valid" },
  ];
  for (const [i, c] of cases.entries()) {
    const x = normal(c.x, 1200 + i);
    const dy = normal(convOutShape(c), 1210 + i);
    const attrs = {
      strides: c.strides,
      pad: c.pad,
      dataFormat: "NHWC",
      filterShape: c.filter,
    } as unknown as tf.Conv2DBackpropFilterAttrs;
    const cpu = await runOn("cpu", tf.Conv2DBackpropFilter, { x, dy }, attrs as never);
    const xt = tf.tensor4d(x.values, c.x);
    const dyt = tf.tensor4d(dy.values, convOutShape(c));
    const before = tf.memory().numTensors;
    // Two images' worth of values per chunk: chunks of 2, 2 and 1.
    const perImage = (xt.size + dyt.size) / c.x[0];
    const chunked = conv2dBackpropFilter(xt, dyt, attrs, 2 * perImage);
    assert.equal(tf.memory().numTensors, before + 1, `${describe(c)}: leaked tensors`);
    assert.ok(relativeError(chunked.dataSync(), cpu.values) < 1e-4, describe(c));
    tf.dispose([xt, dyt, chunked]);
  }
});

Deno.test("BatchMatMul on wasm matches cpu with either operand transposed, batched", async () => {
  const cases: { a: number[]; b: number[]; transposeA: boolean; transposeB: boolean }[] = [
    // NT-Xent's similarity and its gradient; a dense layer's gradients.
    { a: [6, 4], b: [6, 4], transposeA: false, transposeB: true },
    { a: [6, 6], b: [6, 4], transposeA: true, transposeB: false },
    { a: [5, 3], b: [5, 4], transposeA: true, transposeB: false },
    { a: [5, 3], b: [4, 3], transposeA: false, transposeB: true },
    { a: [3, 5], b: [4, 3], transposeA: true, transposeB: true },
    { a: [2, 3, 5], b: [2, 4, 3], transposeA: true, transposeB: true },
    { a: [2, 5, 3], b: [1, 4, 3], transposeA: false, transposeB: true },
    { a: [5, 3], b: [3, 4], transposeA: false, transposeB: false },
  ];
  for (const [i, c] of cases.entries()) {
    await assertMatchesCpu(
      tf.BatchMatMul,
      { a: normal(c.a, 1300 + i), b: normal(c.b, 1310 + i) },
      { transposeA: c.transposeA, transposeB: c.transposeB },
      `matMul [${c.a}]${c.transposeA ? "^T" : ""} by [${c.b}]${c.transposeB ? "^T" : ""}`,
    );
  }
});

Deno.test("comparisons on wasm match cpu when their operands broadcast", async () => {
  const pairs: [number[], number[]][] = [
    // NT-Xent's max gradient: logits against their row maxima.
    [[6, 6], [6, 1]],
    [[1, 5], [4, 1]],
    [[2, 3, 4], [4]],
    [[3, 4], [3, 4]],
    [[3, 4], []],
  ];
  const ops = [tf.Equal, tf.NotEqual, tf.Greater, tf.GreaterEqual, tf.Less, tf.LessEqual];
  for (const [i, [aShape, bShape]] of pairs.entries()) {
    // Rounded, so that equal values occur.
    const round = (x: Inputs[string]) => ({ ...x, values: x.values.map((v) => Math.round(v)) });
    const a = round(normal(aShape, 1400 + i));
    const b = round(normal(bShape, 1410 + i));
    for (const op of ops) {
      await assertMatchesCpu(op, { a, b }, {}, `${op} [${aShape}] with [${bShape}]`);
    }
    const bool = (x: Inputs[string]) => ({
      ...x,
      dtype: "bool" as const,
      values: x.values.map((v) => (v > 0 ? 1 : 0)),
    });
    for (const op of [tf.LogicalAnd, tf.LogicalOr]) {
      await assertMatchesCpu(
        op,
        { a: bool(a), b: bool(b) },
        {},
        `${op} [${aShape}] with [${bShape}]`,
      );
    }
  }
});

Deno.test("Identity (tf.clone) on wasm shares its input's data: same values, either may be disposed first", () => {
  const before = tf.memory();
  for (const dtype of ["float32", "int32", "bool"] as const) {
    const x = tf.tensor([1, -0, 3, 4], [2, 2], dtype);
    const buffers = tf.memory().numDataBuffers;
    const y = tf.clone(x);
    assert.equal(tf.memory().numDataBuffers, buffers, `${dtype}: no copy made`);
    assert.notEqual(y.id, x.id);
    assert.deepEqual(y.shape, [2, 2]);
    assert.equal(y.dtype, dtype);
    const expected = Array.from(x.dataSync());
    x.dispose();
    assert.deepEqual(Array.from(y.dataSync()), expected, `${dtype}: y outlives x`);
    const z = tf.clone(y);
    z.dispose();
    assert.deepEqual(Array.from(y.dataSync()), expected, `${dtype}: y outlives its copy`);
    y.dispose();
  }
  // Gradients pass through it (customGrad wraps values in Identity).
  const x = tf.tensor1d([1, 2, 3]);
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.clone(v), v)))(x);
  assert.deepEqual(Array.from(g.dataSync()), [2, 4, 6]);
  tf.dispose([x, g]);
  const after = tf.memory();
  assert.equal(after.numTensors, before.numTensors, "no tensor left");
  assert.equal(after.numDataBuffers, before.numDataBuffers, "no data left");
});
