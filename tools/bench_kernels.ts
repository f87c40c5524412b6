// The convolution gradients and Slice at resnet-small's own shapes, each against the form it
// replaced, interleaved round-robin so load from other processes hits all alike; medians.
//
//   deno task bench-kernels [--rounds N] [--batch B] [--size S] [--step]
//
// B images of S px go through the network as 2B rows (two views), as in a training step; the
// defaults (32 px, batch 64) are tools/bench.ts's. `--step` also times whole SimCLR training
// steps (tools/_train_step.ts) with the kernels of before issue 11 (tools/_baseline_kernels.ts)
// and with today's, alternating step by step.
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { initBackend } from "../src/backend/backend.ts";
import {
  conv2dBackpropFilter,
  conv2dBackpropFilterBySwap,
} from "../src/backend/kernels/conv2d_backprop_filter.ts";
import { conv2dBackpropInput } from "../src/backend/kernels/conv2d_backprop_input.ts";
import { BASELINE_KERNELS, currentKernels, useKernels } from "./_baseline_kernels.ts";
import { singleThreadStep } from "./_train_step.ts";

tf.enableProdMode();
await tf.setBackend("wasm");
await tf.ready();
const stockSlice = tf.getKernel(tf.Slice, "wasm")!;
await initBackend("wasm");
const oursSlice = tf.getKernel(tf.Slice, "wasm")!;
const backend = tf.backend();

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "7" },
    batch: { type: "string", default: "64" },
    size: { type: "string", default: "32" },
    step: { type: "boolean", default: false },
  },
});
const ROUNDS = Number(values.rounds);
const rows = 2 * Number(values.batch);
const size = Number(values.size);

type Case = [string, () => tf.TensorInfo];
const release = (out: tf.TensorInfo) =>
  out instanceof tf.Tensor ? out.dispose() : backend.disposeData(out.dataId);

/** Median ms of each case over ROUNDS interleaved rounds, after one untimed call each. */
function measure(cases: Case[]): Map<string, number> {
  const times = new Map<string, number[]>(cases.map(([l]) => [l, []]));
  for (const [, fn] of cases) release(fn());
  for (let r = 0; r < ROUNDS; r++) {
    for (const [label, fn] of cases) {
      const t0 = performance.now();
      const out = fn();
      times.get(label)!.push(performance.now() - t0);
      release(out);
    }
  }
  const medians = new Map<string, number>();
  for (const [label, ts] of times) {
    ts.sort((a, b) => a - b);
    medians.set(label, ts[Math.floor(ts.length / 2)]);
  }
  return medians;
}

/** resnet-small's convolutions: stem, then per stage conv1 (strided after stage 1), conv2, 1x1. */
interface Layer {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: "same" | "valid";
}
const layers: Layer[] = [{
  name: "stem 3x3",
  x: [rows, size, size, 3],
  filter: [3, 3, 3, 16],
  stride: 1,
  pad: "same",
}];
const widths = [16, 32, 64, 128];
let side = size;
widths.forEach((width, stage) => {
  const inC = stage === 0 ? 16 : widths[stage - 1];
  if (stage === 0) {
    layers.push({
      name: "s1 3x3",
      x: [rows, side, side, 16],
      filter: [3, 3, 16, 16],
      stride: 1,
      pad: "same",
    });
    return;
  }
  layers.push({
    name: `s${stage + 1} 3x3/2`,
    x: [rows, side + 2, side + 2, inC],
    filter: [3, 3, inC, width],
    stride: 2,
    pad: "valid",
  });
  layers.push({
    name: `s${stage + 1} 1x1/2`,
    x: [rows, side, side, inC],
    filter: [1, 1, inC, width],
    stride: 2,
    pad: "valid",
  });
  side /= 2;
  layers.push({
    name: `s${stage + 1} 3x3`,
    x: [rows, side, side, width],
    filter: [3, 3, width, width],
    stride: 1,
    pad: "same",
  });
});

const totals = new Map<string, number>();
const add = (label: string, ms: number) => totals.set(label, (totals.get(label) ?? 0) + ms);
console.log(
  `batch ${rows} rows (${rows / 2} pairs), ${size} px, ${ROUNDS} rounds, median ms\n` +
    `${"layer".padEnd(12)} ${"forward".padStart(8)} ${"dW swap".padStart(8)} ${
      "dW ours".padStart(8)
    } ${"dx dilat".padStart(8)} ${"dx ours".padStart(8)}`,
);
for (const layer of layers) {
  const x = tf.randomNormal(layer.x) as tf.Tensor4D;
  const filter = tf.randomNormal(layer.filter) as tf.Tensor4D;
  const y = tf.conv2d(x, filter, layer.stride, layer.pad);
  const dy = tf.randomNormal(y.shape) as tf.Tensor4D;
  const attrs = { strides: layer.stride, pad: layer.pad, dataFormat: "NHWC" } as const;
  const filterAttrs = { ...attrs, filterShape: layer.filter } as tf.Conv2DBackpropFilterAttrs;
  const inputAttrs = { ...attrs, inputShape: layer.x } as tf.Conv2DBackpropInputAttrs;
  const m = measure([
    ["forward", () => tf.conv2d(x, filter, layer.stride, layer.pad)],
    ["dW swap", () => conv2dBackpropFilterBySwap(x, dy, filterAttrs)],
    ["dW ours", () => conv2dBackpropFilter(x, dy, filterAttrs)],
    ["dx dilated", () => conv2dBackpropInput(dy, filter, inputAttrs, false)],
    ["dx ours", () => conv2dBackpropInput(dy, filter, inputAttrs)],
  ]);
  for (const [label, ms] of m) add(label, ms);
  console.log(
    `${layer.name.padEnd(12)} ${[...m.values()].map((v) => v.toFixed(1).padStart(8)).join(" ")}`,
  );
  tf.dispose([x, filter, y, dy]);
}
console.log(
  `${"sum".padEnd(12)} ${[...totals.values()].map((v) => v.toFixed(1).padStart(8)).join(" ")}`,
);

// The zero padding's gradient: a crop of the padded activation back to its size.
const padded = tf.randomNormal([rows, size + 2, size + 2, 16]);
const crop = { begin: [0, 1, 1, 0], size: [-1, size, size, -1] };
const slice = (k: tf.KernelConfig) => () =>
  k.kernelFunc({ inputs: { x: padded }, backend, attrs: crop }) as tf.TensorInfo;
const s = measure([["stock", slice(stockSlice)], ["ours", slice(oursSlice)]]);
console.log(
  `Slice [${padded.shape}] -> ${size}x${size}: stock ${s.get("stock")!.toFixed(1)} ms, ours ${
    s.get("ours")!.toFixed(1)
  } ms`,
);
padded.dispose();

if (values.step) {
  const before = BASELINE_KERNELS;
  const after = currentKernels();
  const use = useKernels;
  const step = await singleThreadStep({
    config: { widths: [16, 32, 64, 128], blocks: [1, 1, 1, 1], inputSize: size },
    batch: rows / 2,
  });
  const times = { before: [] as number[], after: [] as number[] };
  for (let r = -1; r < ROUNDS; r++) {
    for (const [label, configs] of [["before", before], ["after", after]] as const) {
      use(configs);
      const t0 = performance.now();
      await step.trainStep();
      if (r >= 0) times[label].push(performance.now() - t0);
    }
  }
  use(after);
  await step.dispose();
  const median = (ts: number[]) => ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)];
  console.log(
    `SimCLR training step, resnet-small, ${rows / 2} pairs, ${size} px, ${ROUNDS} alternating ` +
      `steps each: kernels before ${median(times.before).toFixed(0)} ms (min ${
        Math.min(...times.before).toFixed(0)
      }), after ${median(times.after).toFixed(0)} ms (min ${Math.min(...times.after).toFixed(0)})`,
  );
}
console.log("tensors left", tf.memory().numTensors);
