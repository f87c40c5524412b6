/**
 * `deno task eval`: scores a trained run's final model against labelled data. Prints one JSON
 * object on stdout: accuracy (Hungarian), NMI, ARI, many-to-one accuracy, which model and head,
 * the images scored and the cluster sizes.
 */
import { parseArgs } from "node:util";
import { predictDataset } from "../src/run/inference.ts";
import { loadDataset } from "../src/data/load_dataset.ts";
import { labelledMetrics } from "../src/eval/metrics.ts";
import { argmaxRows } from "../src/operators/classify.ts";
import { loadRun } from "../src/run/load_run.ts";
import { logLine } from "../src/util/progress.ts";
import { printable, quote } from "../src/util/quote.ts";
import { optionalNumber, printJson, required, runTask, selectBackend, UsageError } from "./_cli.ts";

const USAGE = `usage: deno task eval --run RUN --data D [--labels L] [--limit N]
    [--backend wasm|cpu|tensorflow]

  RUN: a run directory written by \`deno task train\` (its self-labelled model, else its best
       SCAN model, with the head SCAN kept).
  D:   a folder of images with --labels L (CSV with header file,label, file relative to D), or
       idx:<prefix>, e.g. idx:/usr/share/datasets/fashion-mnist/t10k (labels come from the IDX).
  Images without a label are classified but not scored.`;

await runTask(USAGE, async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      run: { type: "string" },
      data: { type: "string" },
      labels: { type: "string" },
      limit: { type: "string" },
      backend: { type: "string" },
    },
  });
  const runDir = required(values.run, "--run");
  const data = required(values.data, "--data");
  const isIdx = data.startsWith("idx:");
  if (isIdx && values.labels !== undefined) {
    throw new UsageError("--labels is for a folder; IDX data carries its own labels");
  }
  if (!isIdx && values.labels === undefined) {
    throw new UsageError("--labels is required for a folder (eval scores against labels)");
  }
  const limit = optionalNumber(values.limit, "--limit");
  const backend = await selectBackend(values.backend);
  const run = await loadRun(runDir);
  try {
    const dataset = await loadDataset(data, {
      size: run.config.inputSize,
      labels: values.labels,
      limit,
      onRefusal: (r) => logLine(`refused ${quote(r.path)}: ${printable(r.reason)}`),
    });
    const labels = dataset.labels!;
    const labelled = labels.filter((label) => label >= 0).length;
    if (labelled === 0) {
      throw new Error(`Cannot evaluate: none of the ${dataset.n} images of ${data} has a label`);
    }
    const probabilities = await predictDataset(run.model, run.head, dataset);
    const { clusters } = argmaxRows(probabilities, dataset.n, run.config.clusters);
    const { mapping, ...metrics } = labelledMetrics(labels, clusters, dataset.classNames?.length)!;
    const sizes = new Array<number>(run.config.clusters).fill(0);
    for (const c of clusters) sizes[c]++;
    printJson({
      run: runDir,
      model: run.stage,
      head: run.head,
      backend,
      images: dataset.n,
      labelled,
      clusters: run.config.clusters,
      clusterSizes: sizes,
      ...metrics,
      // The class each cluster is matched to by the accuracy's one-to-one matching.
      mapping: sizes.map((_, c) => {
        const k = mapping[c] ?? -1;
        return k >= 0 ? dataset.classNames?.[k] ?? String(k) : null;
      }),
    });
  } finally {
    run.dispose();
  }
});
