import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { BACKBONES, buildBackbone } from "../../src/models/resnet.ts";

await initBackend("wasm");

const tiny = BACKBONES["resnet-tiny"];

function weightValues(model: tfl.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

Deno.test("buildBackbone() maps [B, S, S, 3] images to [B, widths.at(-1)] features", () => {
  for (const config of [tiny, BACKBONES["resnet-small"]]) {
    const model = buildBackbone(config, 1);
    const features = tf.tidy(() =>
      model.predict(
        tf.randomUniform([3, config.inputSize, config.inputSize, 3], 0, 1, "float32", 7),
      )
    ) as tf.Tensor;
    assert.deepEqual(features.shape, [3, config.widths.at(-1)]);
    assert.ok(features.dataSync().every(Number.isFinite));
    tf.dispose(features);
    model.dispose();
  }
});

Deno.test("buildBackbone() has the parameter counts of the CIFAR ResNets", () => {
  // resnet18: the 11.17M of SCAN's CIFAR ResNet-18 backbone (torch: 11,173,962 with its 10-class
  // fc; without it and with BN running statistics counted, 11,178,432).
  const expected: Record<string, number> = {
    "resnet18": 11_178_432,
    "resnet-small": 308_976,
    "resnet-tiny": 78_072,
  };
  for (const [name, count] of Object.entries(expected)) {
    const model = buildBackbone(BACKBONES[name]);
    assert.equal(model.countParams(), count, name);
    model.dispose();
  }
});

Deno.test("buildBackbone() halves the resolution at each stage after the first", () => {
  const model = buildBackbone(tiny);
  const sides = [1, 2, 3, 4].map((stage) =>
    model.getLayer(`stage${stage}_block1_relu2`).outputShape.slice(1)
  );
  assert.deepEqual(sides, [[32, 32, 8], [16, 16, 16], [8, 8, 32], [4, 4, 64]]);
  model.dispose();
});

Deno.test("buildBackbone() pads stride-2 convolutions symmetrically, like PyTorch padding=1", () => {
  const model = buildBackbone(tiny, 3);
  const probe = tfl.model({
    inputs: model.inputs,
    outputs: [
      model.getLayer("stage1_block1_relu2").output as tfl.SymbolicTensor,
      model.getLayer("stage2_block1_conv1").output as tfl.SymbolicTensor,
    ],
  });
  const [difference, sameDifference] = tf.tidy(() => {
    const [stageInput, convolved] = probe.predict(
      tf.randomUniform([2, 32, 32, 3], 0, 1, "float32", 11),
    ) as tf.Tensor4D[];
    const kernel = model.getLayer("stage2_block1_conv1").getWeights()[0] as tf.Tensor4D;
    const reference = tf.conv2d(stageInput, kernel, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]);
    const tfSame = tf.conv2d(stageInput, kernel, 2, "same");
    return [
      tf.max(tf.abs(tf.sub(convolved, reference))).dataSync()[0],
      tf.max(tf.abs(tf.sub(convolved, tfSame))).dataSync()[0],
    ];
  });
  assert.ok(difference < 1e-5, `differs from symmetric padding by ${difference}`);
  assert.ok(sameDifference > 1e-3, "stride-2 convolution should not match tfjs 'same' padding");
  model.dispose();
});

Deno.test("buildBackbone() gives identical weights for the same seed and different ones otherwise", () => {
  const [a, b, c] = [5, 5, 6].map((seed) => buildBackbone(tiny, seed));
  assert.deepEqual(weightValues(a), weightValues(b));
  assert.notDeepEqual(weightValues(a)[0], weightValues(c)[0]);
  // Each layer draws its own seed: two kernels of one shape must not be copies of each other.
  const conv1 = a.getLayer("stage1_block1_conv1").getWeights()[0].dataSync();
  const conv2 = a.getLayer("stage1_block1_conv2").getWeights()[0].dataSync();
  assert.notDeepEqual(conv1, conv2);
  [a, b, c].forEach((model) => model.dispose());
});

Deno.test("buildBackbone() initialises kernels with PyTorch's kaiming_normal (fan_out)", () => {
  const model = buildBackbone(BACKBONES["resnet-small"], 2);
  const kernel = model.getLayer("stage4_block1_conv2").getWeights()[0];
  const values = Array.from(kernel.dataSync() as Float32Array);
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
  const expected = Math.sqrt(2 / (3 * 3 * 128));
  assert.ok(Math.abs(std - expected) / expected < 0.02, `std ${std}, expected ${expected}`);
  model.dispose();
});

Deno.test("buildBackbone() rejects malformed configs", () => {
  assert.throws(
    () => buildBackbone({ widths: [8, 16], blocks: [1], inputSize: 32 }),
    RangeError,
  );
  assert.throws(() => buildBackbone({ widths: [], blocks: [], inputSize: 32 }), RangeError);
  assert.throws(
    () => buildBackbone({ widths: [8, 16, 32, 64], blocks: [1, 1, 1, 1], inputSize: 4 }),
    /inputSize must be an integer of at least 8/,
  );
  assert.throws(() => buildBackbone({ widths: [8.5], blocks: [1], inputSize: 32 }), RangeError);
});

Deno.test("buildBackbone() leaves no tensors behind once disposed", () => {
  const before = tf.memory().numTensors;
  const model = buildBackbone(tiny, 4);
  tf.tidy(() => {
    model.predict(tf.ones([2, 32, 32, 3]));
  });
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
});
