/**
 * `deno task train`: the paper's three stages on a folder or an IDX dataset, resumable.
 * Prints one JSON object (per-stage wall time and, with labels, metrics) on stdout.
 */
import { parseThreads } from "../src/parallel/threads.ts";
import { parseArgs } from "node:util";
import { runOffline } from "../pipelines/offline.ts";
import { figureLines } from "../pipelines/offline/figures.ts";
import {
  type ConfigOverrides,
  makeConfig,
  makeConfigFrom,
  type MineOn,
  PRESETS,
} from "../src/config.ts";
import { profileDataset } from "../src/data/profile.ts";
import { autoSettings } from "../src/run/auto_settings.ts";
import { loadDataset } from "../src/data/load_dataset.ts";
import { logLine } from "../src/util/progress.ts";
import { printable, quote } from "../src/util/quote.ts";
import {
  numericFlags,
  optionalNumber,
  printJson,
  required,
  runTask,
  selectBackend,
  UsageError,
} from "./_cli.ts";

/** Minutes a run of the `auto` preset plans for without --budget (the issue's 10 minutes). */
const DEFAULT_BUDGET_MINUTES = 10;

const USAGE = `usage: deno task train --data D [--labels L] --out RUN [--clusters C] [--preset NAME]
    [--eval-data E] [--eval-labels L2] [--backend wasm|cpu|tensorflow] [--threads N] [--limit N]
    [--budget MINUTES] [--pretext-epochs N] [--scan-epochs N] [--selflabel-epochs N] [--heads N]
    [--neighbours K] [--entropy-weight W] [--input-size S] [--temperature T] [--crop-min A]
    [--mine-on projection|backbone-pixels] [--seed N]

  D: a folder of images (nested folders fine) or idx:<prefix>, e.g.
     idx:/usr/share/datasets/fashion-mnist/train (IDX files <prefix>-images-idx3-ubyte[.gz]).
  L: CSV with header file,label (file relative to D); used only for reporting.
  E: data to report metrics on (default: D), e.g. idx:/usr/share/datasets/fashion-mnist/t10k.
  presets: auto (default: settings chosen from the data, see docs/training.md),
     ${Object.keys(PRESETS).join(", ")}.
  MINUTES: time budget; epochs are planned from step times measured at the start (default
     ${DEFAULT_BUDGET_MINUTES} with the auto preset, none with a named one; 0: none). An epoch flag
     fixes that stage's epochs, and the others share what is left.
  T: NT-Xent temperature of the pretext task (default 0.1, the paper's).
  A: smallest area of the random crop, as a fraction of the image (the largest is the whole
     image); default from the data's size with the auto preset (docs/training.md).
  --mine-on: what neighbours are mined on: the projection z (the paper's), or the backbone
     features beside the images' pixels; default projection, or from the data with auto.
  Rerunning with the same --out resumes where the run stopped (with its stored plan).`;

await runTask(USAGE, async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      data: { type: "string" },
      labels: { type: "string" },
      "eval-data": { type: "string" },
      "eval-labels": { type: "string" },
      out: { type: "string" },
      clusters: { type: "string" },
      preset: { type: "string" },
      backend: { type: "string" },
      threads: { type: "string" },
      limit: { type: "string" },
      budget: { type: "string" },
      "pretext-epochs": { type: "string" },
      "scan-epochs": { type: "string" },
      "selflabel-epochs": { type: "string" },
      heads: { type: "string" },
      neighbours: { type: "string" },
      "entropy-weight": { type: "string" },
      "input-size": { type: "string" },
      temperature: { type: "string" },
      "crop-min": { type: "string" },
      "mine-on": { type: "string" },
      seed: { type: "string" },
    },
  });
  const data = required(values.data, "--data");
  const out = required(values.out, "--out");
  // The random crop's smallest area; the largest stays the whole image.
  const cropMin = optionalNumber(values["crop-min"], "--crop-min");
  const overrides: ConfigOverrides = {
    ...numericFlags(values, [
      ["clusters", "clusters"],
      ["heads", "heads"],
      ["neighbours", "neighbours"],
      ["entropyWeight", "entropy-weight"],
      ["inputSize", "input-size"],
      ["temperature", "temperature"],
      ["seed", "seed"],
    ]),
    ...(cropMin === undefined ? {} : { cropScale: [cropMin, 1] as const }),
    // makeConfig refuses a value that names no MINE_ON entry.
    ...(values["mine-on"] === undefined ? {} : { mineOn: values["mine-on"] as MineOn }),
  };
  const fixedEpochs: Partial<Record<"pretext" | "scan" | "selflabel", number>> = {};
  for (const stage of ["pretext", "scan", "selflabel"] as const) {
    const epochs = optionalNumber(values[`${stage}-epochs`], `--${stage}-epochs`);
    if (epochs !== undefined) {
      overrides[stage] = { epochs };
      fixedEpochs[stage] = epochs;
    }
  }
  const preset = values.preset ?? "auto";
  const limit = optionalNumber(values.limit, "--limit");
  let config;
  let settings: { chosen: Record<string, unknown>; reasons: Record<string, string> } | undefined;
  try {
    if (preset === "auto") {
      const auto = autoSettings(await profileDataset(data, { limit }), overrides.clusters);
      config = makeConfigFrom(auto.config, overrides);
      settings = { chosen: chosenFields(config), reasons: { ...auto.reasons } };
      for (const [field, reason] of Object.entries(auto.reasons)) {
        const flagged = field in overrides ? " (overridden by a flag)" : "";
        logLine(`auto ${field} ${reason}${flagged}`);
      }
    } else {
      config = makeConfig(preset, overrides);
    }
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
  const budgetFlag = optionalNumber(values.budget, "--budget");
  if (budgetFlag !== undefined && !(budgetFlag >= 0)) {
    throw new UsageError(
      `--budget must be a number of minutes >= 0, current value is ${budgetFlag}`,
    );
  }
  // Every stage's epochs given: nothing left to plan.
  const allFixed = Object.keys(fixedEpochs).length === 3;
  const minutes = budgetFlag ?? (preset === "auto" && !allFixed ? DEFAULT_BUDGET_MINUTES : 0);
  const budget = minutes > 0 ? { minutes, fixedEpochs } : undefined;
  const backend = await selectBackend(values.backend);
  let threads: number;
  try {
    threads = parseThreads(values.threads, "train");
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const onRefusal = (r: { path: string; reason: string }) =>
    logLine(`refused ${quote(r.path)}: ${printable(r.reason)}`);
  const t0 = performance.now();
  const train = await loadDataset(data, {
    size: config.inputSize,
    labels: values.labels,
    onRefusal,
    limit,
  });
  const evaluation = values["eval-data"]
    ? await loadDataset(values["eval-data"], {
      size: config.inputSize,
      labels: values["eval-labels"],
      onRefusal,
    })
    : undefined;
  logLine(
    `loaded ${train.n} training images${
      evaluation ? ` and ${evaluation.n} evaluation images` : ""
    } ` +
      `in ${((performance.now() - t0) / 1000).toFixed(1)}s; backend ${backend}, ` +
      `${threads} training thread${threads === 1 ? "" : "s"}`,
  );
  const summary = await runOffline({ config, train, evaluation, runDir: out, threads, budget });
  for (const line of figureLines(summary)) logLine(line);
  printJson({ run: out, backend, threads, preset, ...(settings ? { settings } : {}), ...summary });
});

/** The fields the `auto` settings choose, as the run uses them (flags applied). */
function chosenFields(config: ReturnType<typeof makeConfig>): Record<string, unknown> {
  return {
    inputSize: config.inputSize,
    temperature: config.temperature,
    clusters: config.clusters,
    neighbours: config.neighbours,
    cropScale: config.cropScale,
    invertProbability: config.invertProbability,
    colourAugment: config.colourAugment,
    mineOn: config.mineOn,
    backbone: config.backbone,
    batchSize: { pretext: config.pretext.batchSize, scan: config.scan.batchSize },
  };
}
