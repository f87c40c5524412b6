/**
 * The SimCLR projection head g (official SCAN `ContrastiveModel`, head "mlp"): Dense-ReLU-Dense,
 * then L2 normalisation, so the pretext loss compares cosine similarities.
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { PROJECTION_DIM } from "../config.ts";
import { Random } from "../util/random.ts";
import { L2Normalize, registerL2Normalize } from "./l2_normalize.ts";

/**
 * Build the projection head. Input `[B, inDim]` backbone features; output `[B, outDim]`, every
 * row of unit L2 norm. Same seed, same weights.
 *
 * @throws {RangeError} when a dimension is not a positive integer.
 */
export function buildProjectionHead(
  inDim: number,
  hiddenDim: number,
  outDim = PROJECTION_DIM,
  seed = 0,
): tfl.LayersModel {
  const dims = { inDim, hiddenDim, outDim };
  for (const [name, value] of Object.entries(dims)) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new RangeError(
        `Cannot build projection head: ${name} must be a positive integer, current value is ${value}`,
      );
    }
  }
  registerL2Normalize();
  const rng = new Random(seed);
  const input = tfl.input({ shape: [inDim], name: "features" });
  const hidden = linear(hiddenDim, inDim, "projection_hidden", rng, "relu").apply(input);
  const projected = linear(outDim, hiddenDim, "projection_out", rng).apply(hidden);
  const normalised = new L2Normalize({ name: "projection_l2" }).apply(projected);
  return tfl.model({
    inputs: input,
    outputs: normalised as tfl.SymbolicTensor,
    name: "projection_head",
  });
}

/**
 * A dense layer initialised like PyTorch's `nn.Linear` (weights and bias uniform in
 * ±1/sqrt(fan_in)), the initialisation the reference trained with.
 */
function linear(
  units: number,
  inDim: number,
  name: string,
  rng: Random,
  activation?: "relu",
): tfl.layers.Layer {
  const bound = 1 / Math.sqrt(inDim);
  const uniform = () =>
    tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed: rng.int(2 ** 31) });
  return tfl.layers.dense({
    units,
    activation,
    kernelInitializer: uniform(),
    biasInitializer: uniform(),
    name,
  });
}
