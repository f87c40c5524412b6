/**
 * The weights of the three networks (backbone f, projection head g, clustering heads h) as plain
 * arrays, the form in which they cross between threads, and the flat view of a list of variables
 * that gradients and Adam work on.
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { concatFloat32 } from "../util/concat.ts";

/** Every weight (trainable or not, batch-norm statistics included) of each network, in order. */
export interface NetworkWeights {
  readonly backbone: Float32Array[];
  readonly projection: Float32Array[];
  readonly heads: Float32Array[];
}

/** The networks whose weights travel. */
export interface Networks {
  readonly backbone: tfl.LayersModel;
  readonly projection: tfl.LayersModel;
  readonly heads: tfl.LayersModel;
}

/** Copy of every weight of `networks`; a network left out is left out of the copy too. */
export function readWeights(networks: Networks): NetworkWeights;
export function readWeights(networks: Partial<Networks>): Partial<NetworkWeights>;
export function readWeights(networks: Partial<Networks>): Partial<NetworkWeights> {
  const read = (model: tfl.LayersModel | undefined) =>
    model?.getWeights().map((w) => (w.dataSync() as Float32Array).slice());
  return {
    backbone: read(networks.backbone),
    projection: read(networks.projection),
    heads: read(networks.heads),
  };
}

/**
 * Overwrite the weights of `networks` with `weights` (same shapes); a network absent from either
 * is left alone (the offline pretext stage has no clustering heads yet).
 */
export function writeWeights(
  networks: Partial<Networks>,
  weights: Partial<NetworkWeights>,
): void {
  for (const name of ["backbone", "projection", "heads"] as const) {
    const model = networks[name];
    const values = weights[name];
    if (model === undefined || values === undefined) continue;
    const current = model.getWeights();
    if (values.length !== current.length) {
      throw new RangeError(
        `Cannot set ${name} weights: expected ${current.length} arrays, current value is ${values.length}`,
      );
    }
    const tensors = current.map((w, i) => tf.tensor(values[i], w.shape, "float32"));
    model.setWeights(tensors);
    tf.dispose(tensors);
  }
}

/** The trainable variables of `models`, in order, and their flat view. */
export class FlatVariables {
  readonly variables: readonly tf.Variable[];
  readonly size: number;
  readonly #offsets: number[];

  constructor(models: readonly tfl.LayersModel[]) {
    this.variables = models.flatMap((m) => m.trainableWeights.map((w) => w.read() as tf.Variable));
    this.#offsets = [];
    let size = 0;
    for (const v of this.variables) {
      this.#offsets.push(size);
      size += v.size;
    }
    this.size = size;
  }

  /** The variables' values, concatenated. */
  read(): Float32Array {
    return concatFloat32(this.variables.map((v) => v.dataSync() as Float32Array));
  }

  /** Assign `flat` (as `read` lays it out) to the variables. */
  write(flat: Float32Array): void {
    this.variables.forEach((v, i) => {
      const value = tf.tensor(flat.subarray(this.#offsets[i], this.#offsets[i] + v.size), v.shape);
      v.assign(value);
      value.dispose();
    });
  }

  /** Gradients keyed by variable name, concatenated in `read`'s layout (zeros where absent). */
  flatten(grads: tf.NamedTensorMap): Float32Array {
    const flat = new Float32Array(this.size);
    this.variables.forEach((v, i) => {
      const g = grads[v.name];
      if (g !== undefined) flat.set(g.dataSync() as Float32Array, this.#offsets[i]);
    });
    return flat;
  }
}
