/**
 * The backbone f of SCAN: a CIFAR-style ResNet (He et al. 2016, as in the official SCAN
 * `models/resnet_cifar.py`): 3x3 stem convolution, batch norm, ReLU, no max-pool, stages of
 * BasicBlocks with stride 2 at the start of every stage after the first, global average pool.
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { Random } from "../util/random.ts";

/** The shape of a backbone: one entry per stage in `widths` and `blocks`; 3 input channels. */
export interface BackboneConfig {
  /** Output channels of each stage; the feature dimension is the last one. */
  widths: number[];
  /** BasicBlocks per stage. */
  blocks: number[];
  /** Side of the square input images, in pixels. */
  inputSize: number;
}

/**
 * Named backbone presets. `resnet18` is the paper's CIFAR ResNet-18 (11.2M parameters);
 * `resnet-small` (0.31M) is the CPU default and `resnet-tiny` (0.08M) is for tests. The default
 * is data, not code: it is picked by measuring throughput and accuracy.
 */
export const BACKBONES: Record<"resnet18" | "resnet-small" | string, BackboneConfig> = Object
  .freeze({
    "resnet18": preset([64, 128, 256, 512], [2, 2, 2, 2], 32),
    "resnet-small": preset([16, 32, 64, 128], [1, 1, 1, 1], 32),
    "resnet-tiny": preset([8, 16, 32, 64], [1, 1, 1, 1], 32),
  });

/** A preset frozen all the way down, so no caller can change it for everyone else. */
function preset(widths: number[], blocks: number[], inputSize: number): BackboneConfig {
  return Object.freeze({
    widths: Object.freeze(widths) as number[],
    blocks: Object.freeze(blocks) as number[],
    inputSize,
  });
}

// PyTorch's BatchNorm2d defaults (running = 0.9 * running + 0.1 * batch, eps 1e-5), so training
// behaves like the reference implementation rather than Keras' slower 0.99 momentum.
const BN_MOMENTUM = 0.9;
const BN_EPSILON = 1e-5;

/**
 * Build the backbone as a functional `LayersModel`.
 *
 * Input: `[B, S, S, 3]` float in [0, 1], S = `config.inputSize`. Output: `[B, widths.at(-1)]`.
 * Convolution kernels use PyTorch's `kaiming_normal_(mode="fan_out")` as in the reference, each
 * layer with its own seed drawn from `seed`, so two builds with the same seed are identical.
 *
 * @throws {RangeError} when the config is malformed.
 */
export function buildBackbone(config: BackboneConfig, seed = 0): tfl.LayersModel {
  validateConfig(config);
  const rng = new Random(seed);
  const input = tfl.input({ shape: [config.inputSize, config.inputSize, 3], name: "images" });
  let x = conv(input, config.widths[0], 3, 1, "stem_conv", rng);
  x = batchNorm(x, "stem_bn");
  x = tfl.layers.reLU({ name: "stem_relu" }).apply(x) as tfl.SymbolicTensor;
  let channels = config.widths[0];
  config.widths.forEach((width, stage) => {
    for (let block = 0; block < config.blocks[stage]; block++) {
      const stride = stage > 0 && block === 0 ? 2 : 1;
      x = basicBlock(x, channels, width, stride, `stage${stage + 1}_block${block + 1}`, rng);
      channels = width;
    }
  });
  const features = tfl.layers.globalAveragePooling2d({ name: "pool" }).apply(
    x,
  ) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: features, name: "backbone" });
}

function validateConfig(config: BackboneConfig): void {
  const { widths, blocks, inputSize } = config;
  const positiveIntegers = (values: number[]) =>
    values.length > 0 && values.every((v) => Number.isInteger(v) && v > 0);
  if (!positiveIntegers(widths)) {
    throw new RangeError(
      `Cannot build backbone: widths must be positive integers, current value is [${widths}]`,
    );
  }
  if (!positiveIntegers(blocks) || blocks.length !== widths.length) {
    throw new RangeError(
      `Cannot build backbone: blocks must be ${widths.length} positive integers (one per stage), ` +
        `current value is [${blocks}]`,
    );
  }
  const minSize = 2 ** (widths.length - 1);
  if (!Number.isInteger(inputSize) || inputSize < minSize) {
    throw new RangeError(
      `Cannot build backbone: inputSize must be an integer of at least ${minSize} for ` +
        `${widths.length} stages, current value is ${inputSize}`,
    );
  }
}

/** BasicBlock: conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU. */
function basicBlock(
  x: tfl.SymbolicTensor,
  inChannels: number,
  outChannels: number,
  stride: number,
  name: string,
  rng: Random,
): tfl.SymbolicTensor {
  let y = conv(x, outChannels, 3, stride, `${name}_conv1`, rng);
  y = batchNorm(y, `${name}_bn1`);
  y = tfl.layers.reLU({ name: `${name}_relu1` }).apply(y) as tfl.SymbolicTensor;
  y = conv(y, outChannels, 3, 1, `${name}_conv2`, rng);
  y = batchNorm(y, `${name}_bn2`);
  let shortcut = x;
  if (stride !== 1 || inChannels !== outChannels) {
    shortcut = conv(x, outChannels, 1, stride, `${name}_shortcut_conv`, rng);
    shortcut = batchNorm(shortcut, `${name}_shortcut_bn`);
  }
  const sum = tfl.layers.add({ name: `${name}_add` }).apply([y, shortcut]) as tfl.SymbolicTensor;
  return tfl.layers.reLU({ name: `${name}_relu2` }).apply(sum) as tfl.SymbolicTensor;
}

/**
 * Convolution without bias (batch norm follows), padded like PyTorch's `padding = k // 2`.
 * For stride 1 that is tfjs "same". For a stride-2 3x3 on an even input, "same" would pad only
 * the bottom and right (0/1), shifting the sampling grid by a pixel against the CIFAR ResNet's
 * symmetric 1/1, so those get an explicit zero pad and a "valid" convolution. A 1x1 needs no pad.
 */
function conv(
  x: tfl.SymbolicTensor,
  filters: number,
  kernelSize: number,
  strides: number,
  name: string,
  rng: Random,
): tfl.SymbolicTensor {
  let input = x;
  let padding: "same" | "valid" = "same";
  if (strides !== 1 || kernelSize === 1) {
    padding = "valid";
    const pad = Math.floor(kernelSize / 2);
    if (pad > 0) {
      input = tfl.layers.zeroPadding2d({ padding: pad, name: `${name}_pad` }).apply(
        x,
      ) as tfl.SymbolicTensor;
    }
  }
  const fanOut = kernelSize * kernelSize * filters;
  return tfl.layers.conv2d({
    filters,
    kernelSize,
    strides,
    padding,
    useBias: false,
    kernelInitializer: tfl.initializers.randomNormal({
      mean: 0,
      stddev: Math.sqrt(2 / fanOut),
      seed: layerSeed(rng),
    }),
    name,
  }).apply(input) as tfl.SymbolicTensor;
}

function batchNorm(x: tfl.SymbolicTensor, name: string): tfl.SymbolicTensor {
  return tfl.layers.batchNormalization({
    axis: -1,
    momentum: BN_MOMENTUM,
    epsilon: BN_EPSILON,
    name,
  }).apply(x) as tfl.SymbolicTensor;
}

/** A fresh seed for one layer's initialiser. */
function layerSeed(rng: Random): number {
  return rng.int(2 ** 31);
}
