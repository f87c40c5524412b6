/**
 * Batch norm whose statistics cover the whole batch when the batch is split across workers
 * (synchronised batch norm, as PyTorch's `SyncBatchNorm`). The reference trains SimCLR on one
 * device, so batch norm there sees every view of the batch, and NT-Xent's negatives are
 * normalised with the same statistics; per-shard statistics would make the loss depend on the
 * number of workers and leak which views share a shard (the SimCLR paper's reason for global BN).
 * Forward: a mean and then a centred sum of squares are summed across workers (two-pass, as
 * tf.moments, for float32 accuracy). Backward: the sums of dy and dy*(x - mean) are summed across
 * workers, and each worker returns its own shard's share of the gamma and beta gradients (the
 * gradient all-reduce adds them up).
 *
 * It is also the fast form on one worker: a handful of kernels each way, where tfjs-layers'
 * batch norm and its gradients take dozens of broadcasting ops.
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { BatchNorms } from "../backend/onednn/batch_norm.ts";
import { openOneDnn } from "../backend/onednn/library.ts";
import type { Collective } from "./collective.ts";

/** The global batch statistics of one forward call, per channel. */
export interface BatchMoments {
  readonly mean: Float32Array;
  readonly variance: Float32Array;
}

/**
 * Batch norm in training mode over every axis but the last, with statistics over the shards of
 * all workers. Differentiable in `x`, `gamma` and `beta`.
 *
 * @param onMoments receives the global mean and (biased) variance, for the moving averages.
 */
export function syncBatchNorm(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  collective: Collective,
  onMoments?: (moments: BatchMoments) => void,
): tf.Tensor {
  const norms = oneDnnBatchNorms();
  if (norms !== null) {
    return syncBatchNormOneDnn(x, gamma, beta, epsilon, collective, norms, onMoments);
  }
  const channels = x.shape[x.rank - 1];
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const localCount = x.size / channels;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, g, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const sums = new Float32Array(channels + 1);
    sums.set(tf.tidy(() => tf.sum(xIn, axes).dataSync() as Float32Array));
    sums[channels] = localCount;
    const totals = collective.allReduceSum(sums);
    const count = totals[channels];
    const mean = new Float32Array(channels);
    for (let c = 0; c < channels; c++) mean[c] = totals[c] / count;
    const centred = tf.sub(xIn, tf.tensor1d(mean));
    const squares = collective.allReduceSum(
      tf.tidy(() => tf.sum(tf.square(centred), axes).dataSync() as Float32Array),
    );
    const variance = new Float32Array(channels);
    const invStd = new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      variance[c] = squares[c] / count;
      invStd[c] = 1 / Math.sqrt(variance[c] + epsilon);
    }
    onMoments?.({ mean, variance });
    const invStdT = tf.tensor1d(invStd);
    const value = tf.tidy(() => tf.add(tf.mul(centred, tf.mul(g, invStdT)), b));
    save([centred, g, invStdT]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [centredS, gS, invStdS] = saved;
        const localDy = tf.tidy(() => tf.sum(dy, axes).dataSync() as Float32Array);
        const localDyCentred = tf.tidy(() =>
          tf.sum(tf.mul(dy, centredS), axes).dataSync() as Float32Array
        );
        const both = new Float32Array(2 * channels);
        both.set(localDy);
        both.set(localDyCentred, channels);
        const global = collective.allReduceSum(both);
        const inv = invStdS.dataSync() as Float32Array;
        // dx = gamma * invStd * (dy - mean(dy) - (x - mean) * invStd^2 * mean(dy * (x - mean)))
        const shift = new Float32Array(channels);
        const slope = new Float32Array(channels);
        const localDGamma = new Float32Array(channels);
        for (let c = 0; c < channels; c++) {
          shift[c] = global[c] / count;
          slope[c] = (inv[c] * inv[c] * global[channels + c]) / count;
          localDGamma[c] = localDyCentred[c] * inv[c];
        }
        const dx = tf.mul(
          tf.sub(tf.sub(dy, tf.tensor1d(shift)), tf.mul(centredS, tf.tensor1d(slope))),
          tf.mul(gS, invStdS),
        );
        return [dx, tf.tensor1d(localDGamma), tf.tensor1d(localDy)];
      },
    };
  });
  return op(x, gamma, beta);
}

/** Which batch norm {@link syncBatchNorm} runs: oneDNN's where it can ("auto"), or tf ops. */
let engine: "auto" | "tf" = "auto";
let norms: BatchNorms | null | undefined;

/** Choose the engine of {@link syncBatchNorm} in this thread (tests and benchmarks compare). */
export function setBatchNormEngine(choice: "auto" | "tf"): void {
  engine = choice;
}

function oneDnnBatchNorms(): BatchNorms | null {
  if (engine === "tf" || tf.getBackend() !== "wasm") return null;
  if (norms === undefined) {
    const dnn = openOneDnn();
    norms = typeof dnn === "string" ? null : new BatchNorms(dnn);
  }
  return norms;
}

/**
 * {@link syncBatchNorm} through oneDNN's batch norm (src/backend/onednn/batch_norm.ts). One
 * worker: one primitive each way. Several: the forward normalises again with the global
 * statistics, combined from every shard's count, mean and variance (one exchange; Chan's
 * parallel variance, as accurate as a two-pass one, in rank order so every worker gets the same
 * bits); the backward
 * takes oneDNN's dx with the statistics as constants and adds the terms of the global reductions
 * of dy (one exchange, one per-channel affine pass).
 */
function syncBatchNormOneDnn(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  collective: Collective,
  dnn: BatchNorms,
  onMoments?: (moments: BatchMoments) => void,
): tf.Tensor {
  const channels = x.shape[x.rank - 1];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, g, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const gammaValues = g.dataSync() as Float32Array;
    const betaValues = b.dataSync() as Float32Array;
    const local = dnn.forward(xIn, gammaValues, betaValues, epsilon);
    const localCount = xIn.size / channels;
    let { y, mean, variance } = local;
    let count = localCount;
    if (collective.size > 1) {
      const mine = new Float32Array(2 * channels + 1);
      mine.set(local.mean);
      mine.set(local.variance, channels);
      mine[2 * channels] = localCount;
      const shards = collective.allGatherEqual(mine);
      ({ count, mean, variance } = combineMoments(shards, channels));
      y.dispose();
      y = dnn.normalise(xIn, gammaValues, betaValues, mean, variance, epsilon);
    }
    onMoments?.({ mean, variance });
    save([xIn]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xS] = saved;
        const several = collective.size > 1;
        const { dx, dGamma, dBeta } = dnn.backward(
          xS,
          dy,
          gammaValues,
          mean,
          variance,
          epsilon,
          several,
        );
        if (several) {
          const both = new Float32Array(2 * channels);
          both.set(dBeta);
          both.set(dGamma, channels);
          const global = collective.allReduceSum(both);
          // dx = a * (dy - mean(dy) - xhat * mean(dy * xhat)), a = gamma * invStd and
          // xhat = (x - mean) * invStd: oneDNN gave a * dy; add x * b + c per channel.
          const slope = new Float32Array(channels);
          const offset = new Float32Array(channels);
          for (let c = 0; c < channels; c++) {
            const invStd = 1 / Math.sqrt(variance[c] + epsilon);
            const a = gammaValues[c] * invStd;
            const q = (global[channels + c] / count) * invStd;
            slope[c] = -a * q;
            offset[c] = a * (mean[c] * q - global[c] / count);
          }
          dnn.addAffine(dx, xS, slope, offset);
        }
        return [dx, tf.tensor1d(dGamma), tf.tensor1d(dBeta)];
      },
    };
  });
  return op(x, gamma, beta);
}

/**
 * The moments of the whole batch from each shard's `[mean (C), variance (C), count]`: the
 * count-weighted mean, and the variance as the shards' squared deviations about it (Chan et
 * al.'s parallel variance). Sums run in rank order, so every worker gets the same bits.
 */
export function combineMoments(
  shards: readonly Float32Array[],
  channels: number,
): { count: number; mean: Float32Array; variance: Float32Array } {
  let count = 0;
  for (const shard of shards) count += shard[2 * channels];
  const mean = new Float32Array(channels);
  const variance = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    for (const shard of shards) sum += shard[2 * channels] * shard[c];
    mean[c] = sum / count;
    let m2 = 0;
    for (const shard of shards) {
      const offset = shard[c] - mean[c];
      m2 += shard[2 * channels] * (shard[channels + c] + offset * offset);
    }
    variance[c] = m2 / count;
  }
  return { count, mean, variance };
}

/** The fields of tfjs-layers' BatchNormalization that a replacement `call` needs. */
interface BatchNormLayer {
  readonly epsilon: number;
  readonly momentum: number;
  readonly axis: number | number[];
  readonly gamma: tfl.LayerVariable;
  readonly beta: tfl.LayerVariable;
  readonly movingMean: tfl.LayerVariable;
  readonly movingVariance: tfl.LayerVariable;
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor;
}

/**
 * Make every batch-norm layer of `model` use {@link syncBatchNorm} in training mode (inference is
 * unchanged: the moving statistics). The moving averages follow tfjs-layers' rule (biased batch
 * variance; `moving = moving - (moving - batch) * (1 - momentum)`) with the global statistics,
 * so every worker keeps the same ones. Idempotent per layer. `peers` may be a function, read at
 * every call, for a worker that sometimes trains alone.
 */
export function synchroniseBatchNorm(
  model: tfl.LayersModel,
  peers: Collective | (() => Collective),
): number {
  const collective = typeof peers === "function" ? peers : () => peers;
  let patched = 0;
  for (const layer of model.layers) {
    if (layer.getClassName() !== "BatchNormalization") continue;
    const bn = layer as unknown as BatchNormLayer & { [SYNCED]?: boolean };
    if (bn[SYNCED]) continue;
    const axis = Array.isArray(bn.axis) ? bn.axis : [bn.axis];
    if (
      axis.length !== 1 || (axis[0] !== -1 && axis[0] !== (layer.inputSpec?.[0]?.ndim ?? 0) - 1)
    ) {
      throw new RangeError(
        `Cannot synchronise batch norm ${layer.name}: only the last axis is supported, ` +
          `current value is [${axis}]`,
      );
    }
    const inference = bn.call.bind(bn);
    bn.call = (inputs, kwargs) => {
      if (kwargs?.training !== true) return inference(inputs, kwargs);
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return syncBatchNorm(
        x,
        bn.gamma.read() as tf.Tensor1D,
        bn.beta.read() as tf.Tensor1D,
        bn.epsilon,
        collective(),
        ({ mean, variance }) => {
          const decay = 1 - bn.momentum;
          const update = (variable: tfl.LayerVariable, batch: Float32Array) => {
            const old = variable.read().dataSync() as Float32Array;
            const next = new Float32Array(old.length);
            for (let c = 0; c < old.length; c++) next[c] = old[c] - (old[c] - batch[c]) * decay;
            variable.write(tf.tensor1d(next));
          };
          update(bn.movingMean, mean);
          update(bn.movingVariance, variance);
        },
      );
    };
    bn[SYNCED] = true;
    patched++;
  }
  return patched;
}

const SYNCED = Symbol("syncBatchNorm");
