// On the `cpu` backend: these tests need gradient kernels (Conv2DBackpropFilter) that the wasm
// backend only gains when the project registers its own.
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { type BackboneConfig, buildBackbone } from "../../src/models/resnet.ts";
import { buildProjectionHead } from "../../src/models/projection_head.ts";

await initBackend("cpu");

// Smaller than resnet-tiny: the cpu backend's convolution gradients are slow.
const small: BackboneConfig = { widths: [4, 8, 8, 16], blocks: [1, 1, 1, 1], inputSize: 16 };

Deno.test("buildBackbone() passes a finite, non-zero gradient to every trainable weight", () => {
  const backbone = buildBackbone(small, 1);
  const head = buildProjectionHead(16, 16, 16, 1);
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const images = tf.randomUniform([4, 16, 16, 3], 0, 1, "float32", 3);
    const { grads } = tf.variableGrads(() => {
      const features = backbone.apply(images, { training: true }) as tf.Tensor;
      const projected = head.apply(features, { training: true }) as tf.Tensor2D;
      return tf.sum(tf.mul(projected, tf.linspace(-1, 1, 16))) as tf.Scalar;
    });
    const trainable = [...backbone.trainableWeights, ...head.trainableWeights];
    assert.equal(Object.keys(grads).length, trainable.length);
    for (const weight of trainable) {
      const grad = grads[weight.name].dataSync();
      assert.ok(grad.every(Number.isFinite), `${weight.name} has a non-finite gradient`);
      assert.ok(grad.some((g) => g !== 0), `${weight.name} gets no gradient`);
    }
  });
  assert.equal(tf.memory().numTensors, before);
  backbone.dispose();
  head.dispose();
});

Deno.test("buildBackbone() updates batch-norm statistics in training only", () => {
  const backbone = buildBackbone(small, 2);
  const movingMean = () => backbone.getLayer("stem_bn").getWeights()[2].dataSync().slice();
  const initial = movingMean();
  const images = tf.randomUniform([4, 16, 16, 3], 0, 1, "float32", 4);
  tf.dispose(backbone.predict(images));
  assert.deepEqual(movingMean(), initial);
  tf.dispose(backbone.apply(images, { training: true }) as tf.Tensor);
  // PyTorch's momentum 0.1: one step moves the running mean 10% of the way to the batch mean.
  const stem = tfl.model({
    inputs: backbone.inputs,
    outputs: backbone.getLayer("stem_conv").output as tfl.SymbolicTensor,
  });
  const batchMean = tf.tidy(() => tf.mean(stem.predict(images) as tf.Tensor, [0, 1, 2]).dataSync());
  const updated = movingMean();
  updated.forEach((value, i) => assert.ok(Math.abs(value - 0.1 * batchMean[i]) < 1e-5));
  assert.ok(batchMean.some((v) => Math.abs(v) > 1e-3));
  images.dispose();
  backbone.dispose();
});

Deno.test("buildBackbone() can be trained: a few Adam steps lower a regression loss", () => {
  const backbone = buildBackbone(small, 3);
  const images = tf.randomUniform([4, 16, 16, 3], 0, 1, "float32", 5);
  const target = tf.randomNormal([4, 16], 0, 1, "float32", 6);
  const optimizer = tf.train.adam(0.01);
  const losses: number[] = [];
  for (let step = 0; step < 6; step++) {
    const loss = optimizer.minimize(() => {
      const features = backbone.apply(images, { training: true }) as tf.Tensor;
      return tf.losses.meanSquaredError(target, features) as tf.Scalar;
    }, true)!;
    losses.push(loss.dataSync()[0]);
    loss.dispose();
  }
  assert.ok(losses.at(-1)! < losses[0] * 0.9, `loss went ${losses.join(" -> ")}`);
  optimizer.dispose();
  tf.dispose([images, target]);
  backbone.dispose();
});
