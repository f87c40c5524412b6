/**
 * The self-labelling diagnosis of a finished run (issue 12, item 3): the SCAN model and the
 * self-labelled one side by side on labelled images: metrics, the confident set (size, purity,
 * balance over clusters), per-class recall and worst confusion, and the label-free statistics
 * that could choose between them (SCAN loss over the images with the run's mined neighbours,
 * agreement with those neighbours, mean confidence, balance of cluster sizes).
 *
 *   deno run -A tools/selflabel_diagnosis.ts --run RUN --data D --labels L
 *
 * The data must be the run's training images (the neighbours index them). Prints JSON on stdout.
 */
import { parseArgs } from "node:util";
import { initBackend } from "../src/backend/backend.ts";
import { loadDataset } from "../src/data/load_dataset.ts";
import { clusteringMetrics } from "../src/eval/metrics.ts";
import { diagnoseModel, topClusters } from "../src/eval/selflabel_diagnosis.ts";
import { disposeClustering, loadClustering } from "../src/run/checkpoints.ts";
import { allHeadLogits } from "../src/run/inference.ts";
import { loadRun } from "../src/run/load_run.ts";
import { runPaths } from "../src/run/run_dir.ts";
import { evaluateHeads } from "../src/stages/scan.ts";
import type { ClusteringModel } from "../src/stages/models.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { run: { type: "string" }, data: { type: "string" }, labels: { type: "string" } },
});
if (!values.run || !values.data || !values.labels) {
  console.error("usage: tools/selflabel_diagnosis.ts --run RUN --data D --labels L");
  Deno.exit(2);
}
await initBackend("wasm");
const run = await loadRun(values.run);
const { config, head } = run;
run.dispose();
const paths = runPaths(values.run);
const data = await loadDataset(values.data, { size: config.inputSize, labels: values.labels });
const k = config.neighbours;
const neighbours = new Int32Array((await Deno.readFile(paths.neighbours)).buffer);
if (neighbours.length !== data.n * k) {
  throw new Error(
    `Cannot diagnose: the run mined ${
      neighbours.length / k
    } images' neighbours, the data has ${data.n}`,
  );
}
const c = config.clusters;

/** Probabilities of the kept head and the SCAN loss it gets over the images. */
async function probe(model: ClusteringModel) {
  const logits = (await allHeadLogits(model, data, config.heads))[head];
  const loss = evaluateHeads([logits], data.n, c, neighbours, k, config.entropyWeight);
  const probs = new Float32Array(logits.length);
  for (let i = 0; i < data.n; i++) {
    const row = logits.subarray(i * c, (i + 1) * c);
    const max = Math.max(...row);
    let sum = 0;
    for (let j = 0; j < c; j++) sum += probs[i * c + j] = Math.exp(row[j] - max);
    for (let j = 0; j < c; j++) probs[i * c + j] /= sum;
  }
  const diagnosis = diagnoseModel(probs, data.labels!, c, config.confidenceThreshold, {
    indices: neighbours,
    k,
  });
  return {
    probs,
    report: {
      ...diagnosis,
      scanLoss: {
        total: loss.total[0],
        consistency: loss.consistency[0],
        entropy: loss.entropy[0],
      },
    },
  };
}

const scanModel = await loadClustering(paths.scan);
const scan = await probe(scanModel);
disposeClustering(scanModel);
const selfModel = await loadClustering(paths.selflabel);
const self = await probe(selfModel);
disposeClustering(selfModel);
const agreement = clusteringMetrics(
  topClusters(scan.probs, data.n, c).clusters,
  topClusters(self.probs, data.n, c).clusters,
  c,
).accuracy;
console.log(JSON.stringify({
  run: values.run,
  images: data.n,
  head,
  threshold: config.confidenceThreshold,
  scan: scan.report,
  selflabel: self.report,
  agreement,
}));
