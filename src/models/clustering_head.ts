/**
 * The SCAN clustering head h (official SCAN `ClusteringModel`): `heads` independent linear layers
 * on the backbone features, each giving logits over the clusters. Several heads train at once and
 * the one with the lowest SCAN loss is kept.
 */
import * as tf from "@tensorflow/tfjs-core";
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
  const uniform = () => linearInit(inDim, rng);
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

/** PyTorch's `nn.Linear` initialisation: uniform in ±1/sqrt(inDim), seeded from `rng`. */
function linearInit(inDim: number, rng: Random) {
  const bound = 1 / Math.sqrt(inDim);
  return tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed: rng.int(2 ** 31) });
}

/**
 * Give head `head` of a model from `buildClusteringHead` fresh weights drawn from `seed`, as a
 * new head would have. The stream's heads start on the features of a barely trained backbone;
 * a head that settled there on a split the later features no longer support (it ranks below
 * the kept one but never recovers) is restarted on the current features instead.
 *
 * @throws {RangeError} when the model has no such head.
 */
export function reinitialiseHead(model: tfl.LayersModel, head: number, seed: number): void {
  const name = `head_${head}`;
  if (!model.layers.some((layer) => layer.name === name)) {
    throw new RangeError(
      `Cannot re-initialise head: the model has no ${name}, current value is ${head}`,
    );
  }
  const layer = model.getLayer(name);
  const [kernel, bias] = layer.getWeights();
  const rng = new Random(seed);
  const inDim = kernel.shape[0];
  const fresh = [kernel.shape, bias.shape].map((shape) =>
    tf.tidy(() => linearInit(inDim, rng).apply(shape))
  );
  layer.setWeights(fresh);
  tf.dispose(fresh);
}
