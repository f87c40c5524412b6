/**
 * The convolutions through oneDNN (src/backend/onednn/) against the cpu backend, over every
 * stride, padding and layout the wasm kernels are checked on; NCHW and dilated ones go to the
 * wasm kernels they replace. Skipped without libdnnl2, unless SCANSTREAM_REQUIRE_ONEDNN=1 (CI).
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { convolutionShape } from "../../src/backend/onednn/kernels.ts";
import { openOneDnn } from "../../src/backend/onednn/library.ts";
import {
  convolutionEngine,
  registerWasmKernels,
  WASM_KERNELS,
} from "../../src/backend/register_wasm_kernels.ts";
import {
  assertMatchesCpu,
  CONV_CASES,
  convOutShape,
  describe,
  normal,
  relativeError,
} from "./_kernel_check.ts";

await initBackend("wasm");
const dnn = openOneDnn();
const required = Deno.env.get("SCANSTREAM_REQUIRE_ONEDNN") === "1";
const ignore = typeof dnn === "string" && !required;
if (ignore) console.warn(`oneDNN tests skipped: ${dnn}`);

const attrsOf = (c: (typeof CONV_CASES)[number]) => ({
  strides: c.strides,
  pad: c.pad,
  dataFormat: c.dataFormat ?? "NHWC",
  dimRoundingMode: c.dimRoundingMode,
  dilations: 1,
});

Deno.test({
  name: "oneDNN is found and replaces the wasm convolutions; registerWasmKernels('wasm') undoes it",
  ignore,
  fn: () => {
    assert.equal(typeof dnn, "object", `oneDNN: ${dnn}`);
    assert.match(convolutionEngine(), /^oneDNN \(/);
    const byName = (name: string) => WASM_KERNELS.find((k) => k.kernelName === name)!;
    registerWasmKernels("wasm");
    assert.equal(
      tf.getKernel(tf.Conv2DBackpropFilter, "wasm")?.kernelFunc,
      byName(tf.Conv2DBackpropFilter).kernelFunc,
    );
    const stockConv = tf.getKernel(tf.Conv2D, "wasm")?.kernelFunc;
    registerWasmKernels();
    registerWasmKernels();
    assert.notEqual(
      tf.getKernel(tf.Conv2DBackpropFilter, "wasm")?.kernelFunc,
      byName(tf.Conv2DBackpropFilter).kernelFunc,
    );
    assert.notEqual(tf.getKernel(tf.Conv2D, "wasm")?.kernelFunc, stockConv);
    registerWasmKernels("wasm");
    assert.equal(tf.getKernel(tf.Conv2D, "wasm")?.kernelFunc, stockConv);
    registerWasmKernels();
  },
});

Deno.test({
  name: "Conv2D, FusedConv2D with a bias, and both gradients through oneDNN match cpu",
  ignore,
  fn: async () => {
    for (const [i, c] of CONV_CASES.entries()) {
      const label = describe(c);
      const x = normal(c.x, 10 + i);
      const filter = normal(c.filter, 20 + i);
      // The wasm backend has no NCHW forward convolution of its own to fall back to.
      if (c.dataFormat !== "NCHW") {
        await assertMatchesCpu(tf.Conv2D, { x, filter }, attrsOf(c) as never, `forward, ${label}`);
        const bias = normal([c.filter[3]], 30 + i);
        await assertMatchesCpu(
          tf.FusedConv2D,
          { x, filter, bias },
          { ...attrsOf(c), activation: "linear" } as never,
          `forward with bias, ${label}`,
        );
      }
      const dy = normal(convOutShape(c), 40 + i);
      await assertMatchesCpu(
        tf.Conv2DBackpropInput,
        { dy, filter },
        { ...attrsOf(c), inputShape: c.x } as never,
        `input gradient, ${label}`,
      );
      await assertMatchesCpu(
        tf.Conv2DBackpropFilter,
        { x, dy },
        { ...attrsOf(c), filterShape: c.filter } as never,
        `filter gradient, ${label}`,
      );
    }
  },
});

Deno.test({
  name: "oneDNN convolutions: a relu activation and a dilation fall back to wasm, still right",
  ignore,
  fn: async () => {
    const c = CONV_CASES[0];
    const x = normal(c.x, 1);
    const filter = normal(c.filter, 2);
    await assertMatchesCpu(
      tf.FusedConv2D,
      { x, filter },
      { ...attrsOf(c), activation: "relu" } as never,
      "relu",
    );
    await assertMatchesCpu(
      tf.Conv2D,
      { x, filter },
      { ...attrsOf(c), dilations: 2 } as never,
      "dilation 2",
    );
    assert.equal(convolutionShape(c.x, c.filter, { ...attrsOf(c), dilations: 2 } as never), null);
    assert.equal(
      convolutionShape([2, 3, 8, 8], [3, 3, 3, 4], { ...attrsOf(c), dataFormat: "NCHW" } as never),
      null,
    );
  },
});

Deno.test({
  name: "resnet-sized convolution gradients through oneDNN match the wasm kernels, without leaks",
  ignore,
  fn: () => {
    // A batch larger than one primitive's cache entry would see, at a shape of resnet-small.
    const values = { x: normal([9, 10, 10, 16], 5), filter: normal([3, 3, 16, 32], 6) };
    const grads = () => {
      const x = tf.tensor4d(values.x.values, [9, 10, 10, 16]);
      const filter = tf.tensor4d(values.filter.values, [3, 3, 16, 32]);
      const before = tf.memory().numTensors;
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "valid")))
      )([x, filter]);
      assert.equal(tf.memory().numTensors, before + 2, "leaked tensors");
      const out = [dx.dataSync().slice(), dw.dataSync().slice()];
      tf.dispose([x, filter, dx, dw]);
      return out;
    };
    const viaOneDnn = grads();
    registerWasmKernels("wasm");
    const viaWasm = grads();
    registerWasmKernels();
    assert.ok(relativeError(viaOneDnn[0], viaWasm[0]) < 1e-4, "input gradient");
    assert.ok(relativeError(viaOneDnn[1], viaWasm[1]) < 1e-4, "filter gradient");
  },
});

Deno.test({
  name: "Relu's gradient through oneDNN (ScanReluGrad) matches cpu, zeros included, no leaks",
  ignore,
  fn: async () => {
    const values = [...normal([3, 5, 4, 7], 7).values.map((v) => Math.round(v * 2) / 2), 0, -0];
    const gradOn = async (backend: "wasm" | "cpu") => {
      await tf.setBackend(backend);
      const x = tf.tensor1d(values);
      const dy = tf.tensor1d(normal([values.length], 8).values);
      const before = tf.memory().numTensors;
      const dx = tf.grad((a: tf.Tensor) => tf.relu(a))(x, dy);
      assert.equal(tf.memory().numTensors, before + 1, `${backend}: leaked tensors`);
      const out = dx.dataSync().slice();
      tf.dispose([x, dy, dx]);
      await tf.setBackend("wasm");
      return out;
    };
    assert.notEqual(tf.getKernel("ScanReluGrad", "wasm"), undefined);
    assert.deepEqual(await gradOn("wasm"), await gradOn("cpu"));
  },
});

Deno.test({
  name: "BatchMatMul through oneDNN matches cpu: transposed operands, batches, broadcasting",
  ignore,
  fn: async () => {
    const cases: { a: number[]; b: number[]; transposeA: boolean; transposeB: boolean }[] = [
      { a: [1, 6, 4], b: [1, 6, 4], transposeA: false, transposeB: true },
      { a: [1, 6, 6], b: [1, 6, 4], transposeA: true, transposeB: false },
      { a: [1, 5, 3], b: [1, 3, 4], transposeA: false, transposeB: false },
      { a: [2, 3, 5], b: [2, 4, 3], transposeA: true, transposeB: true },
      { a: [2, 5, 3], b: [1, 4, 3], transposeA: false, transposeB: true },
      { a: [1, 5, 3], b: [3, 3, 2], transposeA: false, transposeB: false },
    ];
    for (const [i, c] of cases.entries()) {
      await assertMatchesCpu(
        tf.BatchMatMul,
        { a: normal(c.a, 50 + i), b: normal(c.b, 60 + i) },
        { transposeA: c.transposeA, transposeB: c.transposeB },
        `matMul [${c.a}]${c.transposeA ? "^T" : ""} by [${c.b}]${c.transposeB ? "^T" : ""}`,
      );
    }
  },
});
