/**
 * `deno task train`: the paper's three stages on a folder or an IDX dataset, resumable.
 * Prints one JSON object (per-stage wall time and, with labels, metrics) on stdout.
 */
import { parseThreads } from "../src/parallel/threads.ts";
import { parseArgs } from "node:util";
import { runOffline } from "../pipelines/offline.ts";
import { figureLines } from "../pipelines/offline/figures.ts";
import { type ConfigOverrides, makeConfig, PRESETS } from "../src/config.ts";
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

const USAGE = `usage: deno task train --data D [--labels L] --out RUN [--clusters C] [--preset NAME]
    [--eval-data E] [--eval-labels L2] [--backend wasm|cpu|tensorflow] [--threads N] [--limit N]
    [--pretext-epochs N] [--scan-epochs N] [--selflabel-epochs N] [--heads N]
    [--neighbours K] [--entropy-weight W] [--input-size S] [--seed N]

  D: a folder of images (nested folders fine) or idx:<prefix>, e.g.
     idx:/usr/share/datasets/fashion-mnist/train (IDX files <prefix>-images-idx3-ubyte[.gz]).
  L: CSV with header file,label (file relative to D); used only for reporting.
  E: data to report metrics on (default: D), e.g. idx:/usr/share/datasets/fashion-mnist/t10k.
  presets: ${Object.keys(PRESETS).join(", ")} (default fixtures).
  Rerunning with the same --out resumes where the run stopped.`;

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
      "pretext-epochs": { type: "string" },
      "scan-epochs": { type: "string" },
      "selflabel-epochs": { type: "string" },
      heads: { type: "string" },
      neighbours: { type: "string" },
      "entropy-weight": { type: "string" },
      "input-size": { type: "string" },
      seed: { type: "string" },
    },
  });
  const data = required(values.data, "--data");
  const out = required(values.out, "--out");
  const overrides: ConfigOverrides = numericFlags(values, [
    ["clusters", "clusters"],
    ["heads", "heads"],
    ["neighbours", "neighbours"],
    ["entropyWeight", "entropy-weight"],
    ["inputSize", "input-size"],
    ["seed", "seed"],
  ]);
  for (const stage of ["pretext", "scan", "selflabel"] as const) {
    const epochs = optionalNumber(values[`${stage}-epochs`], `--${stage}-epochs`);
    if (epochs !== undefined) overrides[stage] = { epochs };
  }
  let config;
  try {
    config = makeConfig(values.preset ?? "fixtures", overrides);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const backend = await selectBackend(values.backend);
  let threads: number;
  try {
    threads = parseThreads(values.threads, "train");
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const limit = optionalNumber(values.limit, "--limit");
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
  const summary = await runOffline({ config, train, evaluation, runDir: out, threads });
  for (const line of figureLines(summary)) logLine(line);
  printJson({ run: out, backend, threads, preset: values.preset ?? "fixtures", ...summary });
});
