/**
 * The SCAN clustering head h (official SCAN `ClusteringModel`): `heads` independent linear layers
 * on the backbone features, each giving logits over the clusters. Several heads train at once and
 * the one with the lowest SCAN loss is kept.
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { Random } from "../util/random.ts";

/**
 * Build the clustering head. Input `[B, inDim]` backbone features. Output `[B, clusters]` logits
 * (not probabilities) when `heads` is 1, else `heads` outputs of `[B, clusters]` logits, one per
 * head, in order. Each head is initialised like PyTorch's `nn.Linear` (uniform in
 * ±1/sqrt(inDim)), with its own seed drawn from `seed`.
 *
 * @throws {RangeError} when a size is not a positive integer, or `clusters` is below 2.
 */
export function buildClusteringHead(
  inDim: number,
  clusters: number,
  heads: number,
  seed = 0,
): tfl.LayersModel {
  const sizes = [["inDim", inDim, 1], ["clusters", clusters, 2], ["heads", heads, 1]] as const;
  for (const [name, value, min] of sizes) {
    if (!Number.isInteger(value) || value < min) {
      throw new RangeError(
        `Cannot build clustering head: ${name} must be an integer of at least ${min}, ` +
          `current value is ${value}`,
      );
    }
  }
  const rng = new Random(seed);
  const bound = 1 / Math.sqrt(inDim);
  const uniform = () =>
    tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed: rng.int(2 ** 31) });
  const input = tfl.input({ shape: [inDim], name: "features" });
  const outputs = Array.from({ length: heads }, (_, head) =>
    tfl.layers.dense({
      units: clusters,
      kernelInitializer: uniform(),
      biasInitializer: uniform(),
      name: `head_${head}`,
    }).apply(input) as tfl.SymbolicTensor);
  return tfl.model({
    inputs: input,
    outputs: heads === 1 ? outputs[0] : outputs,
    name: "clustering_head",
  });
}
