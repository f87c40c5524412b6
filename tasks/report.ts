/**
 * `deno task report`: a page to look at a trained run's clusters. Writes into --out (created when
 * missing, nothing outside it) one contact sheet PNG per non-empty cluster, its most confident
 * images, and index.html with each cluster's size, mean confidence and, with labels, majority
 * class and purity. Prints a JSON summary on stdout.
 */
import { parseArgs } from "node:util";
import { predictDataset } from "../src/run/inference.ts";
import { loadDataset } from "../src/data/load_dataset.ts";
import { argmaxRows } from "../src/operators/classify.ts";
import { writeReport } from "../src/report/write_report.ts";
import { loadRun } from "../src/run/load_run.ts";
import { logLine } from "../src/util/progress.ts";
import { printable, quote } from "../src/util/quote.ts";
import { optionalNumber, printJson, required, runTask, selectBackend, UsageError } from "./_cli.ts";

const USAGE = `usage: deno task report --run RUN --data D --out DIR [--labels L] [--limit N]
    [--per-cluster N] [--backend wasm|cpu|tensorflow]

  RUN: a run directory written by \`deno task train\`.
  D:   a folder of images (sheets are drawn from the original files) or idx:<prefix>.
  L:   optional CSV with header file,label for a folder: adds majority class and purity.
  DIR: where cluster_NN.png and index.html are written (created when missing).
  N (--per-cluster): most confident images per sheet, default 64 (an 8-wide grid).`;

await runTask(USAGE, async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      run: { type: "string" },
      data: { type: "string" },
      labels: { type: "string" },
      out: { type: "string" },
      limit: { type: "string" },
      "per-cluster": { type: "string" },
      backend: { type: "string" },
    },
  });
  const runDir = required(values.run, "--run");
  const data = required(values.data, "--data");
  const out = required(values.out, "--out");
  const isIdx = data.startsWith("idx:");
  if (isIdx && values.labels !== undefined) {
    throw new UsageError("--labels is for a folder; IDX data carries its own labels");
  }
  const limit = optionalNumber(values.limit, "--limit");
  const perCluster = optionalNumber(values["per-cluster"], "--per-cluster") ?? 64;
  if (!Number.isInteger(perCluster) || perCluster < 1) {
    throw new UsageError(
      `--per-cluster must be a positive integer, current value is ${perCluster}`,
    );
  }
  const backend = await selectBackend(values.backend);
  const run = await loadRun(runDir);
  try {
    const dataset = await loadDataset(data, {
      size: run.config.inputSize,
      labels: values.labels,
      limit,
      onRefusal: (r) => logLine(`refused ${quote(r.path)}: ${printable(r.reason)}`),
    });
    if (dataset.n === 0) throw new Error(`Cannot write report: ${data} holds no readable image`);
    const probabilities = await predictDataset(run.model, run.head, dataset);
    const { clusters, confidence } = argmaxRows(probabilities, dataset.n, run.config.clusters);
    const summary = await writeReport({
      out,
      dataset,
      dataDir: isIdx ? undefined : data,
      dataSpec: data,
      assignments: clusters,
      confidence,
      clusters: run.config.clusters,
      runDir,
      stage: run.stage,
      head: run.head,
      perCluster,
    });
    printJson({
      run: runDir,
      model: run.stage,
      head: run.head,
      backend,
      images: dataset.n,
      ...summary,
    });
  } finally {
    run.dispose();
  }
});
