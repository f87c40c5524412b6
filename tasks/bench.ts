/**
 * Throughput of a backbone, to pick the default one and to size a trainer's rounds: forward
 * images per second, and SimCLR training image pairs per second (backbone + projection head,
 * NT-Xent on two views, one full Adam step). Views are fixed random images, so augmentation and
 * decoding are not in the figures. Prints one JSON line.
 *
 *   deno run --allow-read --allow-env tasks/bench.ts [--backend wasm|cpu|all] [--batch N]
 *     [--iters N] [--backbone resnet-small]
 *
 * Without `--backend` it measures wasm at batch 64 and cpu at batch 8 (fewer iterations: the
 * pure-JS backend is far slower) and reports the per-image speed-up of wasm over cpu; the
 * batches differ, so the ratio is indicative. Takes about two minutes on two cores.
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { parseArgs } from "node:util";
import { type BackendName, BACKENDS, initBackend } from "../src/backend/backend.ts";
import { ntXentLoss } from "../src/losses/nt_xent.ts";
import { type BackboneConfig, BACKBONES, buildBackbone } from "../src/models/resnet.ts";
import { buildProjectionHead } from "../src/models/projection_head.ts";
import { printJson, runTask, UsageError } from "./_cli.ts";

const USAGE = "usage: deno task bench [--backend wasm|cpu|tensorflow|all] [--batch N] " +
  "[--iters N] [--backbone " + Object.keys(BACKBONES).join("|") + "] [--input-size S]";

/**
 * Batch and timed iterations per backend when not given, and whether to run an untimed warm-up
 * call first. The cpu backend needs no warm-up and its training step takes over a minute at
 * batch 8 (its convolution gradients are naive loops), so it gets one timed call and no more.
 */
const DEFAULTS: Record<BackendName, { batch: number; iters: number; warmUp: boolean }> = {
  wasm: { batch: 64, iters: 5, warmUp: true },
  cpu: { batch: 8, iters: 1, warmUp: false },
  tensorflow: { batch: 64, iters: 10, warmUp: true },
};

interface Measurement {
  backend: string;
  batch: number;
  iters: number;
  warmUp: boolean;
  forwardImagesPerSecond: number;
  forwardMsPerBatch: number;
  trainPairsPerSecond: number;
  trainMsPerStep: number;
}

await runTask(USAGE, async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      backend: { type: "string", default: "all" },
      batch: { type: "string" },
      iters: { type: "string" },
      backbone: { type: "string", default: "resnet-small" },
      "input-size": { type: "string" },
    },
    strict: true,
  });
  const backends = values.backend === "all"
    ? (["wasm", "cpu"] as BackendName[])
    : [values.backend as BackendName];
  if (!backends.every((name) => BACKENDS.includes(name))) {
    throw new UsageError(
      `--backend must be one of ${BACKENDS.join(", ")} or all, current value is ${values.backend}`,
    );
  }
  const preset = BACKBONES[values.backbone];
  if (preset === undefined) {
    throw new UsageError(
      `--backbone must be one of ${Object.keys(BACKBONES).join(", ")}, ` +
        `current value is ${values.backbone}`,
    );
  }
  const config = {
    ...preset,
    inputSize: positiveInteger(values["input-size"], "--input-size") ?? preset.inputSize,
  };
  const batchFlag = positiveInteger(values.batch, "--batch");
  const itersFlag = positiveInteger(values.iters, "--iters");

  const runs: Measurement[] = [];
  for (const name of backends) {
    const backend = await initBackend(name);
    const batch = batchFlag ?? DEFAULTS[name].batch;
    const iters = itersFlag ?? DEFAULTS[name].iters;
    const { warmUp } = DEFAULTS[name];
    runs.push({ backend, batch, iters, warmUp, ...measure(config, batch, iters, warmUp) });
  }
  const wasm = runs.find((run) => run.backend === "wasm");
  const cpu = runs.find((run) => run.backend === "cpu");
  printJson({
    backbone: values.backbone,
    ...config,
    params: countParams(values.backbone),
    loss: "ntXentLoss (src/losses/nt_xent.ts), temperature 0.1",
    runs,
    ...(wasm && cpu
      ? {
        wasmOverCpu: {
          forward: round(wasm.forwardImagesPerSecond / cpu.forwardImagesPerSecond),
          train: round(wasm.trainPairsPerSecond / cpu.trainPairsPerSecond),
        },
      }
      : {}),
  });
});

/** Time `iters` forward batches and `iters` training steps, each optionally warmed up first. */
function measure(config: BackboneConfig, batch: number, iters: number, warmUp: boolean) {
  const featureDim = config.widths.at(-1)!;
  const backbone = buildBackbone(config, 1);
  const head = buildProjectionHead(featureDim, featureDim, 128, 1);
  const optimizer = tf.train.adam(1e-3);
  const shape = [batch, config.inputSize, config.inputSize, 3];
  const images = tf.randomUniform(shape, 0, 1, "float32", 1);
  const otherViews = tf.randomUniform(shape, 0, 1, "float32", 2);

  const forward = () => tf.tidy(() => (backbone.predict(images) as tf.Tensor).dataSync());
  const trainStep = () => {
    const loss = optimizer.minimize(() => {
      // Both views in one pass, as [2B] rows, then regrouped as [B, 2, D] pairs.
      const views = tf.concat([images, otherViews], 0);
      const projected = head.apply(
        backbone.apply(views, { training: true }) as tf.Tensor,
        { training: true },
      ) as tf.Tensor2D;
      const pairs = tf.transpose(tf.reshape(projected, [2, batch, -1]), [1, 0, 2]) as tf.Tensor3D;
      return ntXentLoss(pairs);
    }, true)!;
    const value = loss.dataSync()[0];
    loss.dispose();
    if (!Number.isFinite(value)) throw new Error(`Cannot benchmark: the loss became ${value}`);
  };

  const forwardMs = timed(forward, iters, warmUp);
  const trainMs = timed(trainStep, iters, warmUp);
  tf.dispose([images, otherViews]);
  optimizer.dispose();
  backbone.dispose();
  head.dispose();
  return {
    forwardImagesPerSecond: round((batch * 1000) / forwardMs),
    forwardMsPerBatch: round(forwardMs),
    trainPairsPerSecond: round((batch * 1000) / trainMs),
    trainMsPerStep: round(trainMs),
  };
}

/** Mean milliseconds per call over `iters` calls, after one untimed call when `warmUp`. */
function timed(body: () => void, iters: number, warmUp: boolean): number {
  if (warmUp) body();
  const start = performance.now();
  for (let i = 0; i < iters; i++) body();
  return (performance.now() - start) / iters;
}

function countParams(backboneName: string): number {
  const model: tfl.LayersModel = buildBackbone(BACKBONES[backboneName]);
  const count = model.countParams();
  model.dispose();
  return count;
}

function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`${flag} must be a positive integer, current value is ${value}`);
  }
  return n;
}

/** Three significant figures: enough for timings this noisy, and keeps cpu's 0.07 pairs/s. */
function round(value: number): number {
  return Number(value.toPrecision(3));
}
