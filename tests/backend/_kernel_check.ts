/**
 * Shared by the kernel tests: seeded inputs, one kernel run on a chosen backend with its tensor
 * and buffer counts checked, the comparison with the cpu backend, and the convolution shapes
 * (strides, paddings, layouts) every convolution kernel is checked over.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { Random } from "../../src/util/random.ts";

export type Inputs = Record<string, { shape: number[]; dtype: tf.DataType; values: number[] }>;

/** Seeded values for a kernel input. */
export function normal(shape: number[], seed: number): Inputs[string] {
  const rng = new Random(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return { shape, dtype: "float32", values: Array.from({ length: size }, () => rng.normal()) };
}

/** Run one kernel on a backend from plain inputs; returns the output's values and shape. */
export async function runOn(
  backend: "wasm" | "cpu",
  kernelName: string,
  inputs: Inputs | Inputs[string][],
  attrs: tf.NamedAttrMap,
): Promise<
  { shape: number[]; dtype: tf.DataType; values: Float32Array | Int32Array | Uint8Array }
> {
  await tf.setBackend(backend);
  const tensors = Array.isArray(inputs)
    ? inputs.map((i) => tf.tensor(i.values, i.shape, i.dtype))
    : Object.fromEntries(
      Object.entries(inputs).map(([name, i]) => [name, tf.tensor(i.values, i.shape, i.dtype)]),
    );
  const all = Object.values(tensors);
  const tensorsBefore = tf.memory().numTensors;
  const buffersBefore = tf.engine().backend.numDataIds();
  const out = tf.engine().runKernel(
    kernelName,
    tensors as unknown as tf.NamedTensorMap,
    attrs,
  ) as tf.Tensor;
  assert.equal(tf.memory().numTensors, tensorsBefore + 1, `${kernelName} on ${backend}: tensors`);
  assert.equal(tf.engine().backend.numDataIds(), buffersBefore + 1, `${kernelName}: buffers`);
  const result = {
    shape: out.shape,
    dtype: out.dtype,
    values: out.dataSync() as Float32Array | Int32Array | Uint8Array,
  };
  out.dispose();
  tf.dispose(all);
  assert.equal(tf.memory().numTensors, tensorsBefore - all.length, `${kernelName}: disposed`);
  await tf.setBackend("wasm");
  return result;
}

/** Largest absolute difference over the largest magnitude of the reference. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < actual.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

export async function assertMatchesCpu(
  kernelName: string,
  inputs: Inputs | Inputs[string][],
  attrs: tf.NamedAttrMap,
  label: string,
): Promise<void> {
  const wasm = await runOn("wasm", kernelName, inputs, attrs);
  const cpu = await runOn("cpu", kernelName, inputs, attrs);
  assert.deepEqual(wasm.shape, cpu.shape, `${label}: shape`);
  assert.equal(wasm.dtype, cpu.dtype, `${label}: dtype`);
  const error = relativeError(wasm.values, cpu.values);
  assert.ok(error < 1e-4, `${label}: relative error ${error}`);
}

/** Shapes of a forward convolution, for building its gradients' inputs. */
export interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: "same" | "valid" | number | [[number, number], [number, number], [number, number], [
    number,
    number,
  ]];
  dimRoundingMode?: "floor" | "round" | "ceil";
  dataFormat?: "NHWC" | "NCHW";
}

export const CONV_CASES: ConvCase[] = [
  { x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: "same" },
  { x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: "same" },
  { x: [2, 9, 7, 3], filter: [3, 3, 3, 4], strides: 2, pad: "same" },
  { x: [2, 9, 7, 3], filter: [3, 3, 3, 4], strides: 2, pad: "valid" },
  { x: [2, 8, 8, 4], filter: [1, 1, 4, 5], strides: 2, pad: "valid" },
  { x: [1, 10, 9, 2], filter: [5, 3, 2, 3], strides: [3, 2], pad: "valid" },
  { x: [1, 10, 9, 2], filter: [4, 2, 2, 3], strides: [2, 3], pad: "same" },
  { x: [2, 7, 7, 2], filter: [3, 3, 2, 2], strides: 2, pad: 1, dimRoundingMode: "floor" },
  { x: [1, 6, 8, 2], filter: [3, 3, 2, 3], strides: 1, pad: [[0, 0], [2, 0], [1, 3], [0, 0]] },
  { x: [2, 3, 8, 8], filter: [3, 3, 3, 2], strides: 2, pad: "same", dataFormat: "NCHW" },
  // resnet-small's strided 3x3: an explicit zero padding of 1, then "valid" (even sizes).
  { x: [2, 10, 10, 3], filter: [3, 3, 3, 4], strides: 2, pad: "valid" },
  { x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: 1 },
  { x: [1, 8, 8, 2], filter: [5, 5, 2, 3], strides: 2, pad: "same" },
  { x: [1, 9, 6, 2], filter: [3, 2, 2, 2], strides: 3, pad: "valid" },
  { x: [1, 8, 6, 2], filter: [2, 3, 2, 2], strides: [2, 3], pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  // 1x1 filter gradients as one matrix product: more channels in than out, stride 1, mixed
  // strides, and sizes the stride does not divide (the swapped convolution then).
  { x: [2, 6, 6, 6], filter: [1, 1, 6, 3], strides: 1, pad: "valid" },
  { x: [2, 6, 4, 5], filter: [1, 1, 5, 2], strides: [3, 2], pad: "same" },
  { x: [2, 7, 7, 4], filter: [1, 1, 4, 5], strides: 2, pad: "valid" },
];

export function describe(c: ConvCase): string {
  return `x ${c.x} filter ${c.filter} strides ${c.strides} pad ${JSON.stringify(c.pad)} ` +
    (c.dataFormat ?? "NHWC");
}

export function convOutShape(c: ConvCase): [number, number, number, number] {
  const channelsFirst = c.dataFormat === "NCHW";
  const nhwc: [number, number, number, number] = channelsFirst
    ? [c.x[0], c.x[2], c.x[3], c.x[1]]
    : c.x;
  const info = tf.backend_util.computeConv2DInfo(
    nhwc,
    c.filter,
    c.strides,
    1,
    c.pad,
    c.dimRoundingMode,
  );
  const [b, h, w, ch] = info.outShape;
  return channelsFirst ? [b, ch, h, w] : [b, h, w, ch];
}
