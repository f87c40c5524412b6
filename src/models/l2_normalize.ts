/**
 * A layer that scales each row to unit L2 norm, like PyTorch's `F.normalize(x, dim=1)`: the last
 * step of the SimCLR projection head, so NT-Xent sees cosine similarities.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

/** Options of {@link L2Normalize}. */
export interface L2NormalizeArgs extends LayerArgs {
  /** Norms below this are clamped to it, so a zero row stays zero instead of NaN. Default 1e-12. */
  epsilon?: number;
}

/**
 * `[B, ..., D]` → same shape, each vector along the last axis divided by `max(||x||, epsilon)`.
 * Saved models name it by {@link L2Normalize.className}; call {@link registerL2Normalize} before
 * loading one.
 */
export class L2Normalize extends tfl.layers.Layer {
  static className = "L2Normalize";
  readonly epsilon: number;

  constructor(args: L2NormalizeArgs = {}) {
    super(args);
    this.epsilon = args.epsilon ?? 1e-12;
    if (!(this.epsilon > 0)) {
      throw new RangeError(
        `Cannot create L2Normalize: epsilon must be positive, current value is ${this.epsilon}`,
      );
    }
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      // Clamping the squared norm (not the norm) keeps the gradient finite at a zero row.
      const squared = tf.sum(tf.square(x), -1, true);
      return tf.mul(x, tf.rsqrt(tf.maximum(squared, this.epsilon * this.epsilon)));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}

/**
 * Make {@link L2Normalize} known to the model loader. Idempotent; the model builders and
 * `loadModel` call it, so importing this module has no side effect.
 */
export function registerL2Normalize(): void {
  tf.serialization.registerClass(L2Normalize);
}
