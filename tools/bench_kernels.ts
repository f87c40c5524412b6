// Times the wasm kernels at batch 64, 32x32x16 -> 16, 3x3 "same" (stride 1 and 2), and Tile as
// the batch-norm gradient uses it. Run: deno task bench-kernels [ROUNDS]
// Measurements are interleaved round-robin so load from other processes hits all alike.
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/backend.ts";
import { WASM_KERNELS } from "../src/backend/register_wasm_kernels.ts";

tf.enableProdMode();
await tf.setBackend("wasm");
await tf.ready();
const stock = new Map(
  ["Tile", "Conv2DBackpropInput"].map((name) => [name, tf.getKernel(name, "wasm")!]),
);
await initBackend("wasm");
const ours = new Map(WASM_KERNELS.map((k) => [k.kernelName, k]));
const backend = tf.backend();
const ROUNDS = Number(Deno.args[0] ?? 9);

type Case = [string, () => tf.TensorInfo];
const release = (out: tf.TensorInfo) =>
  out instanceof tf.Tensor ? out.dispose() : backend.disposeData(out.dataId);
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
    console.log(
      `${label.padEnd(44)} ${ts[Math.floor(ts.length / 2)].toFixed(1).padStart(7)} ms  (min ${
        ts[0].toFixed(1)
      })`,
    );
  }
  return medians;
}
const kernel = (k: tf.KernelConfig, inputs: tf.NamedTensorInfoMap, attrs: object) => () =>
  k.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;

for (const stride of [1, 2]) {
  const x = tf.randomNormal([64, 32, 32, 16]) as tf.Tensor4D;
  const filter = tf.randomNormal([3, 3, 16, 16]) as tf.Tensor4D;
  const y = tf.conv2d(x, filter, stride, "same");
  const dy = tf.randomNormal(y.shape);
  const conv = { strides: stride, pad: "same", dataFormat: "NHWC" } as const;
  console.log(`-- batch 64, 32x32x16 -> 16, 3x3 same, stride ${stride} (dy ${dy.shape})`);
  const m = measure([
    ["forward conv2d", () => tf.conv2d(x, filter, stride, "same")],
    [
      "Conv2DBackpropFilter ours (stock: none)",
      kernel(ours.get("Conv2DBackpropFilter")!, { x, dy }, { ...conv, filterShape: filter.shape }),
    ],
    [
      "Conv2DBackpropInput stock",
      kernel(stock.get("Conv2DBackpropInput")!, { dy, filter }, { ...conv, inputShape: x.shape }),
    ],
    [
      "Conv2DBackpropInput ours",
      kernel(ours.get("Conv2DBackpropInput")!, { dy, filter }, { ...conv, inputShape: x.shape }),
    ],
  ]);
  const f = m.get("forward conv2d")!;
  console.log(
    `   / forward: filter ${
      (m.get("Conv2DBackpropFilter ours (stock: none)")! / f).toFixed(2)
    }x, ` +
      `input stock ${(m.get("Conv2DBackpropInput stock")! / f).toFixed(2)}x, input ours ${
        (m.get("Conv2DBackpropInput ours")! / f).toFixed(2)
      }x`,
  );
  tf.dispose([x, filter, y, dy]);
}
console.log("-- Tile as in the batch-norm gradient: [1,1,1,16] by [64,32,32,1]");
const scale = tf.randomNormal([1, 1, 1, 16]);
const ones = tf.ones([64, 32, 32, 1]);
const reps = { reps: [64, 32, 32, 1] };
const t = measure([
  ["Tile stock", kernel(stock.get("Tile")!, { x: scale }, reps)],
  ["Tile ours", kernel(ours.get("Tile")!, { x: scale }, reps)],
  ["broadcast multiply (reference)", () => tf.mul(scale, ones)],
]);
const b = t.get("broadcast multiply (reference)")!;
console.log(
  `   / broadcast: stock ${(t.get("Tile stock")! / b).toFixed(1)}x, ours ${
    (t.get("Tile ours")! / b).toFixed(1)
  }x`,
);
tf.dispose([scale, ones]);
console.log("tensors left", tf.memory().numTensors);
