import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { buildBackbone } from "../../src/models/resnet.ts";
import { Random } from "../../src/util/random.ts";

await initBackend("wasm");

const CONFIG = { widths: [4, 8], blocks: [1, 1], inputSize: 8 };
const BATCH = 4;
const CLASSES = 5;

/** A tiny backbone with a Dense head, as in SCAN's clustering stage. */
function buildModel(): tfl.LayersModel {
  const backbone = buildBackbone(CONFIG, 3);
  const logits = tfl.layers.dense({ units: CLASSES, name: "head" }).apply(
    backbone.outputs[0],
  ) as tfl.SymbolicTensor;
  return tfl.model({ inputs: backbone.inputs, outputs: logits });
}

function seededValues(size: number, seed: number, lo: number, hi: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: size }, () => rng.uniform(lo, hi));
}

const IMAGES = seededValues(BATCH * 8 * 8 * 3, 1, 0, 1);
const TARGETS = seededValues(BATCH * CLASSES, 2, -1, 1);

/**
 * A scalar loss mixing what training uses: batch statistics (training mode), softmax, log-softmax,
 * a global mean and squares.
 */
function loss(model: tfl.LayersModel, images: tf.Tensor4D, targets: tf.Tensor2D): tf.Scalar {
  const logits = model.apply(images, { training: true }) as tf.Tensor2D;
  const crossEntropy = tf.neg(
    tf.mean(tf.sum(tf.mul(tf.softmax(targets), tf.logSoftmax(logits)), 1)),
  );
  return tf.add(crossEntropy, tf.mean(tf.square(tf.sub(logits, targets)))) as tf.Scalar;
}

/** Gradients of {@link loss} on `backend` for the given weights, keyed by weight name. */
async function gradientsOn(
  backend: "wasm" | "cpu",
  weights: Float32Array[] | null,
): Promise<{ weights: Float32Array[]; grads: Map<string, Float32Array>; loss: number }> {
  // Names are keyed by the layer's own name: tfjs suffixes variable names on a second build.
  await tf.setBackend(backend);
  const model = buildModel();
  if (weights !== null) {
    model.setWeights(model.getWeights().map((w, i) => tf.tensor(weights[i], w.shape)));
  }
  const images = tf.tensor4d(IMAGES, [BATCH, 8, 8, 3]);
  const targets = tf.tensor2d(TARGETS, [BATCH, CLASSES]);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const before = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(() => loss(model, images, targets), variables);
  assert.equal(
    tf.memory().numTensors,
    before + 1 + variables.length,
    `${backend}: only the loss and one gradient per weight remain`,
  );
  const result = {
    weights: model.getWeights().map((w) => w.dataSync() as Float32Array),
    grads: new Map(
      model.trainableWeights.map((w, i) => [
        w.originalName,
        grads[variables[i].name].dataSync() as Float32Array,
      ]),
    ),
    loss: value.dataSync()[0],
  };
  tf.dispose([value, images, targets, ...Object.values(grads)]);
  model.dispose();
  await tf.setBackend("wasm");
  return result;
}

Deno.test("a small ResNet's gradients on wasm match cpu within 1e-4 relative error", async () => {
  const cpu = await gradientsOn("cpu", null);
  const wasm = await gradientsOn("wasm", cpu.weights);
  assert.ok(Math.abs(wasm.loss - cpu.loss) <= 1e-4 * Math.abs(cpu.loss), "loss");
  assert.equal(wasm.grads.size, cpu.grads.size);
  const convKernels = [...cpu.grads.keys()].filter((name) => name.includes("conv"));
  assert.ok(convKernels.length >= 5, "convolution kernels get gradients");
  for (const [name, expected] of cpu.grads) {
    const actual = wasm.grads.get(name);
    assert.ok(actual !== undefined, `wasm has a gradient for ${name}`);
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < expected.length; i++) {
      diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
      scale = Math.max(scale, Math.abs(expected[i]));
    }
    assert.ok(scale > 0, `${name}: gradient is not all zero`);
    assert.ok(diff / scale < 1e-4, `${name}: relative error ${diff / scale}`);
  }
});

Deno.test("Adam steps on a small ResNet run on wasm, lower the loss and leak no tensors", () => {
  const model = buildModel();
  const images = tf.tensor4d(IMAGES, [BATCH, 8, 8, 3]);
  const targets = tf.tensor2d(TARGETS, [BATCH, CLASSES]);
  const optimizer = tf.train.adam(0.01);
  const step = () => optimizer.minimize(() => loss(model, images, targets), true) as tf.Scalar;
  step().dispose();
  const before = tf.memory().numTensors;
  const first = step();
  const losses = [first.dataSync()[0]];
  first.dispose();
  assert.equal(tf.memory().numTensors, before, "an Adam step leaves no tensors behind");
  for (let i = 0; i < 10; i++) {
    const value = step();
    losses.push(value.dataSync()[0]);
    value.dispose();
  }
  assert.ok(losses.at(-1)! < losses[0], `loss goes down: ${losses.join(", ")}`);
  tf.dispose([images, targets]);
  optimizer.dispose();
  model.dispose();
});
