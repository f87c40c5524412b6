/** Metrics of a stage's model on the labelled evaluation images. */
import type { ScanConfig } from "../../src/config.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { labelledMetrics } from "../../src/eval/metrics.ts";
import { argmaxRows } from "../../src/operators/classify.ts";
import { predictDataset } from "../../src/run/inference.ts";
import type { ClusteringModel } from "../../src/stages/models.ts";
import type { StageMetrics } from "./context.ts";

/** Accuracy, NMI and ARI of `head`'s clusters on `dataset` (which must have labels). */
export async function evaluate(
  model: ClusteringModel,
  head: number,
  dataset: Dataset,
  config: ScanConfig,
): Promise<StageMetrics> {
  const p = await predictDataset(model, head, dataset);
  const { clusters } = argmaxRows(p, dataset.n, config.clusters);
  return metricsOf(dataset, clusters);
}

/** The metrics of `predicted` clusters against the dataset's labels, without the mapping. */
export function metricsOf(dataset: Dataset, predicted: Int32Array): StageMetrics {
  const { mapping: _mapping, ...metrics } = labelledMetrics(dataset.labels!, predicted)!;
  return metrics;
}
