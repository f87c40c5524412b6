/**
 * Throughput of a backbone, to pick the default one and to size a trainer's rounds: forward
 * images per second, and SimCLR training image pairs per second (backbone + projection head,
 * NT-Xent on two views, one full Adam step). Views are fixed random images, so augmentation and
 * decoding are not in the figures. Prints one JSON line on stdout.
 *
 *   deno task bench [--backend wasm|cpu|tensorflow|all] [--batch N] [--iters N]
 *     [--backbone resnet-small] [--input-size S | --size S]
 *   deno task bench --compare [--batch N] [--size S] [--iters N]
 *   deno task bench --profile [--batch N] [--size S] [--top N] [--steps N] [--baseline]
 *
 * Without `--backend` it measures wasm at batch 64 and cpu at batch 8 (fewer iterations: the
 * pure-JS backend is far slower) and reports the per-image speed-up of wasm over cpu; the
 * batches differ, so the ratio is indicative. Takes about two minutes on two cores.
 *
 * `--compare` measures wasm against the same step in PyTorch (tools/torch_step.py, when
 * /usr/bin/python3 can import torch) at 1 and 2 threads, PyTorch run before and after wasm, at
 * 16 px batch 256 and 32 px batch 64 unless `--size`/`--batch` pick one setting.
 *
 * `--profile` profiles training steps on wasm (3 unless `--steps`), kernel by kernel, each
 * kernel's median over the steps (tools/_kernel_profile.ts): a table on stderr, JSON on stdout.
 * `--baseline` also profiles the kernels of before issue 11, alternating with today's.
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { parseArgs } from "node:util";
import { type BackendName, BACKENDS, initBackend } from "../src/backend/backend.ts";
import { convolutionEngine } from "../src/backend/register_wasm_kernels.ts";
import { type BackboneConfig, BACKBONES, buildBackbone } from "../src/models/resnet.ts";
import { logLine } from "../src/util/progress.ts";
import { printJson, runTask, UsageError } from "../tasks/_cli.ts";
import { defaultThreads, parseThreads } from "../src/parallel/threads.ts";
import { BASELINE_KERNELS, currentKernels, useKernels } from "./_baseline_kernels.ts";
import {
  formatProfile,
  layersStep,
  medianProfile,
  type ProfiledStep,
  profileStep,
  type StepProfile,
} from "./_kernel_profile.ts";
import { poolStep, poolStepHere } from "./_pool_step.ts";
import { scaling } from "./_scaling.ts";
import { range, ratio, runTorch, type TorchRun, torchUnavailable } from "./_torch_compare.ts";
import {
  buildSimclrStepState,
  checkLoss,
  disposeSimclrStepState,
  singleThreadStep,
  type StepFactory,
  type StepSpec,
} from "./_train_step.ts";

const USAGE = "usage: deno task bench [--backend wasm|cpu|tensorflow|all] [--batch N] " +
  "[--iters N] [--backbone " + Object.keys(BACKBONES).join("|") + "] [--input-size S | --size S]" +
  " [--threads N[,N...]] [--layers] [--compare] [--profile [--top N] [--steps N] [--baseline]]" +
  " [--scaling [--rounds N]]";

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

/** The settings of issue 11's comparison table, when `--compare` is not given one. */
const COMPARE_SETTINGS: readonly { inputSize: number; batch: number }[] = [
  { inputSize: 16, batch: 256 },
  { inputSize: 32, batch: 64 },
];

/** PyTorch's thread counts in `--compare`: this machine's cores. */
const TORCH_THREADS = [1, 2] as const;

/**
 * The step every measurement times: training's own, the data-parallel pool of src/parallel/ with
 * `threads` workers; with `layers`, the tfjs-layers step every trainer ran before issue 11 (one
 * thread, layers' batch norm, tf.train.adam), kept to measure the change.
 */
function stepFactory(threads: number, layers: boolean, backbone: string): StepFactory {
  return layers ? singleThreadStep : poolStep(threads, backbone, tf.getBackend() as BackendName);
}

interface Measurement {
  backend: string;
  threads: number;
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
      size: { type: "string" },
      compare: { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
      top: { type: "string" },
      threads: { type: "string" },
      layers: { type: "boolean", default: false },
      steps: { type: "string" },
      baseline: { type: "boolean", default: false },
      scaling: { type: "boolean", default: false },
      rounds: { type: "string" },
    },
    strict: true,
  });
  if ([values.compare, values.profile, values.scaling].filter(Boolean).length > 1) {
    throw new UsageError("--compare, --profile and --scaling measure different things: give one");
  }
  if (values["input-size"] !== undefined && values.size !== undefined) {
    throw new UsageError("--size is --input-size: give one");
  }
  const preset = BACKBONES[values.backbone];
  if (preset === undefined) {
    throw new UsageError(
      `--backbone must be one of ${Object.keys(BACKBONES).join(", ")}, ` +
        `current value is ${values.backbone}`,
    );
  }
  let threadList: number[];
  try {
    threadList = (values.threads ?? String(defaultThreads("train"))).split(",").map((t) =>
      parseThreads(t, "train")
    );
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const threads = threadList[0];
  const sizeFlag = positiveInteger(values["input-size"] ?? values.size, "--input-size");
  const batchFlag = positiveInteger(values.batch, "--batch");
  const itersFlag = positiveInteger(values.iters, "--iters");
  const config = { ...preset, inputSize: sizeFlag ?? preset.inputSize };
  // Which engine ran the convolutions and batch norm (oneDNN or wasm), read once wasm is up.
  const backbone = () => ({
    backbone: values.backbone,
    params: countParams(values.backbone),
    convolutions: convolutionEngine(),
  });

  if (values.profile || values.compare || values.scaling) {
    if (!["all", "wasm"].includes(values.backend)) {
      throw new UsageError(
        `--${
          values.profile ? "profile" : values.compare ? "compare" : "scaling"
        } measures the wasm backend, ` +
          `current --backend is ${values.backend}`,
      );
    }
    await initBackend("wasm");
  }
  if (values.profile) {
    const top = positiveInteger(values.top, "--top") ?? 15;
    const batch = batchFlag ?? DEFAULTS.wasm.batch;
    const steps = positiveInteger(values.steps, "--steps") ?? 3;
    printJson({
      ...backbone(),
      ...config,
      batch,
      step: values.layers ? "layers" : "pool",
      ...(await profile(
        config,
        batch,
        top,
        steps,
        values.baseline,
        values.layers,
        values.backbone,
      )),
    });
    return;
  }
  if (values.scaling) {
    const many = values.threads === undefined ? Math.max(2, defaultThreads("train")) : threads;
    const run = await scaling({
      backbone: values.backbone,
      backend: "wasm",
      inputSize: sizeFlag ?? COMPARE_SETTINGS[0].inputSize,
      batch: batchFlag ?? COMPARE_SETTINGS[0].batch,
      threads: many,
      rounds: positiveInteger(values.rounds, "--rounds") ?? 5,
      iters: itersFlag ?? DEFAULTS.wasm.iters,
      onRound: (r) =>
        logLine(
          `N=1 ${r.oneMs} ms, N=${many} ${r.manyMs} ms (waiting ${r.waitMs} ms), ` +
            `${many} independent shards ${r.independentMs} ms: ${r.speedup}x, ceiling ${r.ceiling}x`,
        ),
    });
    printJson({ ...backbone(), ...run });
    return;
  }
  if (values.compare) {
    const iters = itersFlag ?? DEFAULTS.wasm.iters;
    const settings = sizeFlag !== undefined || batchFlag !== undefined
      ? [{ inputSize: config.inputSize, batch: batchFlag ?? DEFAULTS.wasm.batch }]
      : COMPARE_SETTINGS;
    // Both thread counts of the table unless --threads names others.
    const list = values.threads === undefined
      ? [...new Set([1, defaultThreads("train")])]
      : threadList;
    const step = (n: number) => stepFactory(n, values.layers, values.backbone);
    printJson({ ...backbone(), ...(await compare(preset, settings, iters, step, list)) });
    return;
  }

  const backends = values.backend === "all"
    ? (["wasm", "cpu"] as BackendName[])
    : [values.backend as BackendName];
  if (!backends.every((name) => BACKENDS.includes(name))) {
    throw new UsageError(
      `--backend must be one of ${BACKENDS.join(", ")} or all, current value is ${values.backend}`,
    );
  }
  const runs: Measurement[] = [];
  for (const name of backends) {
    const backend = await initBackend(name);
    const batch = batchFlag ?? DEFAULTS[name].batch;
    const iters = itersFlag ?? DEFAULTS[name].iters;
    const { warmUp } = DEFAULTS[name];
    const figures = await measure(
      stepFactory(threads, values.layers, values.backbone),
      { config, batch },
      iters,
      warmUp,
    );
    runs.push({ backend, threads: values.layers ? 1 : threads, batch, iters, warmUp, ...figures });
  }
  const wasm = runs.find((run) => run.backend === "wasm");
  const cpu = runs.find((run) => run.backend === "cpu");
  printJson({
    ...backbone(),
    ...config,
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
async function measure(factory: StepFactory, spec: StepSpec, iters: number, warmUp: boolean) {
  const step = await factory(spec);
  try {
    const forwardMs = await timed(() => step.forward(), iters, warmUp);
    const trainMs = await timed(() => step.trainStep(), iters, warmUp);
    return {
      forwardImagesPerSecond: round((spec.batch * 1000) / forwardMs),
      forwardMsPerBatch: round(forwardMs),
      trainPairsPerSecond: round((spec.batch * 1000) / trainMs),
      trainMsPerStep: round(trainMs),
    };
  } finally {
    await step.dispose();
  }
}

/** Mean milliseconds per call over `iters` calls, after one untimed call when `warmUp`. */
async function timed(
  body: () => void | Promise<void>,
  iters: number,
  warmUp: boolean,
): Promise<number> {
  if (warmUp) await body();
  const start = performance.now();
  for (let i = 0; i < iters; i++) await body();
  return (performance.now() - start) / iters;
}

/**
 * Wasm against PyTorch at each setting: PyTorch at every thread count, then wasm, then PyTorch
 * again; each PyTorch figure is the range of its two runs, each ratio wasm over that range.
 */
async function compare(
  preset: BackboneConfig,
  settings: readonly { inputSize: number; batch: number }[],
  iters: number,
  step: (threads: number) => StepFactory,
  threadList: readonly number[],
) {
  const unavailable = await torchUnavailable();
  if (unavailable !== undefined) {
    logLine(`compare: PyTorch skipped: ${unavailable}; measuring wasm alone`);
  }
  const rows = [];
  for (const { inputSize, batch } of settings) {
    const config = { ...preset, inputSize };
    const torchRuns = async () => {
      const runs: TorchRun[] = [];
      if (unavailable === undefined) {
        for (const threads of TORCH_THREADS) {
          runs.push(await runTorch(config, batch, iters, threads));
        }
      }
      return runs;
    };
    const order = unavailable === undefined ? "PyTorch, wasm, PyTorch" : "wasm";
    logLine(`compare: ${inputSize} px, batch ${batch}: ${order}`);
    const before = await torchRuns();
    const wasmRuns = [];
    for (const threads of threadList) {
      wasmRuns.push({ threads, ...await measure(step(threads), { config, batch }, iters, true) });
    }
    const after = await torchRuns();
    for (const wasm of wasmRuns) {
      const torch = TORCH_THREADS.filter(() => unavailable === undefined).map((threads) => {
        const runs = [...before, ...after].filter((run) => run.threads === threads);
        const train = range(runs.map((run) => run.trainPairsPerSecond));
        const forward = range(runs.map((run) => run.forwardImagesPerSecond));
        return {
          threads,
          trainPairsPerSecond: train,
          forwardImagesPerSecond: forward,
          wasmOverTorch: {
            train: ratio(wasm.trainPairsPerSecond, train),
            forward: ratio(wasm.forwardImagesPerSecond, forward),
          },
        };
      });
      const params = before[0]?.backboneParams;
      if (params !== undefined && params !== countParamsOf(config)) {
        throw new Error(
          `Cannot compare: the PyTorch backbone has ${params} weights, the tfjs one ` +
            `${countParamsOf(config)}; tools/torch_step.py no longer builds the same network`,
        );
      }
      rows.push({ inputSize, batch, iters, wasm, torch, torchRuns: [...before, ...after] });
      logLine(formatCompareRow(inputSize, batch, wasm, torch));
    }
    if (wasmRuns.length > 1) {
      const scaling = wasmRuns[wasmRuns.length - 1].trainPairsPerSecond /
        wasmRuns[0].trainPairsPerSecond;
      logLine(
        `  wasm ${wasmRuns.at(-1)!.threads} threads over ${wasmRuns[0].threads}: train ${
          scaling.toFixed(2)
        }x`,
      );
    }
  }
  return {
    compare: rows,
    ...(unavailable === undefined ? {} : { torchSkipped: unavailable }),
  };
}

function formatCompareRow(
  inputSize: number,
  batch: number,
  wasm: { threads: number; trainPairsPerSecond: number; forwardImagesPerSecond: number },
  torch: {
    threads: number;
    trainPairsPerSecond: [number, number];
    forwardImagesPerSecond: [number, number];
    wasmOverTorch: { train: [number, number]; forward: [number, number] };
  }[],
): string {
  const span = ([low, high]: [number, number]) => low === high ? `${low}` : `${low}-${high}`;
  const lines = [
    `${inputSize} px, batch ${batch}: wasm ${wasm.threads} thread${wasm.threads > 1 ? "s" : ""}` +
    ` train ${wasm.trainPairsPerSecond} pairs/s, ` +
    `forward ${wasm.forwardImagesPerSecond} images/s`,
  ];
  for (const t of torch) {
    lines.push(
      `  torch ${t.threads} thread${t.threads > 1 ? "s" : ""}: train ${
        span(t.trainPairsPerSecond)
      } pairs/s, forward ${span(t.forwardImagesPerSecond)} images/s; wasm / torch: train ${
        span(t.wasmOverTorch.train)
      }x, forward ${span(t.wasmOverTorch.forward)}x`,
    );
  }
  return lines.join("\n");
}

/**
 * Warm up (two steps: the first allocates Adam's slots), then profile `steps` steps of training's
 * own step (the pool's, as one worker runs it; with `layers`, the tfjs-layers step it replaced)
 * and report each kernel's median. With `baseline`, also the step of before issue 11 (the
 * tfjs-layers step with the kernels of tools/_baseline_kernels.ts), alternating step by step, so
 * load from other processes hits both alike; reported as `baseline` beside today's.
 */
async function profile(
  config: BackboneConfig,
  batch: number,
  top: number,
  steps: number,
  baseline: boolean,
  layers: boolean,
  backbone: string,
) {
  const spec = { config, batch };
  const before = buildSimclrStepState(spec);
  const now: { step: ProfiledStep; dispose(): void } = layers
    ? { step: layersStep(before), dispose: () => {} }
    : poolStepHere(backbone, spec);
  const current = currentKernels();
  const sets = baseline
    ? [["baseline", BASELINE_KERNELS, layersStep(before)], ["current", current, now.step]] as const
    : [["current", current, now.step]] as const;
  try {
    const profiles = new Map<string, StepProfile[]>(sets.map(([name]) => [name, []]));
    for (let i = -2; i < steps; i++) {
      for (const [name, kernels, step] of sets) {
        useKernels(kernels);
        if (i < 0) {
          const { value, grads } = tf.variableGrads(() => step.loss(), step.variables);
          step.apply(grads);
          tf.dispose(grads);
          checkLoss(value);
        } else profiles.get(name)!.push(await profileStep(step));
      }
    }
    const result = medianProfile(profiles.get("current")!);
    if (!baseline) {
      logLine(formatProfile(result, top, steps));
      return { steps, ...result };
    }
    const old = medianProfile(profiles.get("baseline")!);
    logLine("== before issue 11: tfjs-layers step, kernels of tools/_baseline_kernels.ts");
    logLine(formatProfile(old, top, steps));
    logLine(`== now: ${layers ? "tfjs-layers" : "the pool's"} step, today's kernels`);
    logLine(formatProfile(result, top, steps));
    return { steps, ...result, baseline: old };
  } finally {
    useKernels(current);
    now.dispose();
    disposeSimclrStepState(before);
  }
}

function countParams(backboneName: string): number {
  return countParamsOf(BACKBONES[backboneName]);
}

function countParamsOf(config: BackboneConfig): number {
  const model: tfl.LayersModel = buildBackbone(config);
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
