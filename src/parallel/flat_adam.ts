/**
 * Adam (Kingma & Ba 2015) over one flat vector of parameters, in plain JavaScript. tfjs' Adam runs
 * about ten small kernels per variable (some 600 for the backbone and projection head); here one
 * loop updates all of them in about a millisecond, and every worker, given the same summed
 * gradient, computes the bit-identical update. Same rule and defaults as `tf.train.adam`
 * (epsilon 1e-7, bias correction through the running products of beta1 and beta2).
 */

/** Adam's hyper-parameters. */
export interface AdamOptions {
  readonly learningRate: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
}

/** The optimiser state of one flat parameter vector. */
export class FlatAdam {
  #learningRate: number;
  readonly #beta1: number;
  readonly #beta2: number;
  readonly #epsilon: number;
  readonly #m: Float32Array;
  readonly #v: Float32Array;
  #accBeta1: number;
  #accBeta2: number;

  constructor(size: number, options: AdamOptions) {
    this.#learningRate = checkRate(options.learningRate, "make Adam");
    this.#beta1 = options.beta1 ?? 0.9;
    this.#beta2 = options.beta2 ?? 0.999;
    this.#epsilon = options.epsilon ?? 1e-7;
    this.#m = new Float32Array(size);
    this.#v = new Float32Array(size);
    this.#accBeta1 = this.#beta1;
    this.#accBeta2 = this.#beta2;
  }

  /** The step size; a new one keeps the moments (a schedule, not a restart). */
  get learningRate(): number {
    return this.#learningRate;
  }

  set learningRate(rate: number) {
    this.#learningRate = checkRate(rate, "set Adam's learning rate");
  }

  /** Update `params` in place with `gradient` (same length). */
  step(params: Float32Array, gradient: Float32Array): void {
    if (params.length !== this.#m.length || gradient.length !== this.#m.length) {
      throw new RangeError(
        `Cannot take an Adam step: expected ${this.#m.length} parameters and gradients, ` +
          `current values are ${params.length} and ${gradient.length}`,
      );
    }
    const b1 = this.#beta1, b2 = this.#beta2, eps = this.#epsilon, lr = this.#learningRate;
    const c1 = 1 - this.#accBeta1, c2 = 1 - this.#accBeta2;
    const m = this.#m, v = this.#v;
    for (let i = 0; i < params.length; i++) {
      const g = gradient[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      params[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
    }
    this.#accBeta1 *= b1;
    this.#accBeta2 *= b2;
  }
}

function checkRate(rate: number, action: string): number {
  if (!(rate > 0) || !Number.isFinite(rate)) {
    throw new RangeError(`Cannot ${action}: learningRate must be > 0, current value is ${rate}`);
  }
  return rate;
}
