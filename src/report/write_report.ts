/**
 * Writes a cluster report into one directory: a contact sheet PNG per non-empty cluster (its most
 * confident images) and an index.html linking them. Nothing is written outside that directory,
 * and the images' source files are only read.
 */
import { join } from "node:path";
import type { Dataset } from "../data/dataset.ts";
import { labelledMetrics } from "../eval/metrics.ts";
import { encodePng } from "../image/encode_png.ts";
import { isRefusal, loadImageFile } from "../image/load.ts";
import { toPixels } from "../image/to_input.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { summarizeClusters } from "./cluster_summary.ts";
import { contactSheet } from "./contact_sheet.ts";
import { type ClusterEntry, indexPage } from "./index_page.ts";

/** What to report on. */
export interface ReportInput {
  /** Directory to write into; created when missing. */
  readonly out: string;
  /** The classified images, at model resolution. */
  readonly dataset: Dataset;
  /**
   * The folder `dataset.paths` are relative to: sheets are then drawn from the original files
   * at twice the model resolution. Without it (IDX data), the stored pixels are scaled up 2x.
   */
  readonly dataDir?: string;
  /** How the data was named on the command line, for the page. */
  readonly dataSpec: string;
  /** Cluster id and confidence per image of `dataset`. */
  readonly assignments: Int32Array;
  readonly confidence: Float32Array;
  readonly clusters: number;
  readonly runDir: string;
  readonly stage: string;
  readonly head: number;
  /** Images per sheet at most (default 64). */
  readonly perCluster?: number;
  /** Tiles per sheet row (default 8). */
  readonly columns?: number;
}

/** One cluster in the report's summary. */
export interface ReportCluster {
  cluster: number;
  size: number;
  meanConfidence: number | null;
  /** File name of the sheet inside `out`, null for an empty cluster. */
  sheet: string | null;
  majorityClass?: string;
  purity?: number;
}

/** What was written. */
export interface ReportSummary {
  out: string;
  index: string;
  clusters: ReportCluster[];
}

const SCALE = 2;
const GAP = 1;

/**
 * Write the report.
 *
 * @throws {RangeError} when assignments or confidence do not match the dataset, or perCluster
 *   is below 1.
 * @throws {Error} when `out` cannot be created or written.
 */
export async function writeReport(input: ReportInput): Promise<ReportSummary> {
  const { dataset, out } = input;
  const perCluster = input.perCluster ?? 64;
  if (!Number.isInteger(perCluster) || perCluster < 1) {
    throw new RangeError(
      `Cannot write report: perCluster must be a positive integer, current value is ${perCluster}`,
    );
  }
  if (input.assignments.length !== dataset.n) {
    throw new RangeError(
      `Cannot write report: one assignment per image is needed (${dataset.n}), ` +
        `current count is ${input.assignments.length}`,
    );
  }
  const summaries = summarizeClusters(
    input.assignments,
    input.confidence,
    input.clusters,
    dataset.labels,
  );
  await Deno.mkdir(out, { recursive: true });
  const digits = Math.max(2, String(input.clusters - 1).length);
  const entries: ClusterEntry[] = [];
  const reported: ReportCluster[] = [];
  for (const summary of summaries) {
    const shown = summary.members.slice(0, perCluster);
    let sheet: string | null = null;
    if (shown.length > 0) {
      sheet = `cluster_${String(summary.cluster).padStart(digits, "0")}.png`;
      const { tiles, tileSize, scale } = await sheetTiles(dataset, shown, input.dataDir);
      const image = contactSheet(tiles, tileSize, { scale, gap: GAP, columns: input.columns ?? 8 });
      const png = await encodePng({ ...image, colorType: "rgb", samples: image.rgb });
      await writeFileAtomic(join(out, sheet), png);
    }
    const className = summary.majority
      ? dataset.classNames?.[summary.majority.label] ?? String(summary.majority.label)
      : undefined;
    entries.push({
      cluster: summary.cluster,
      size: summary.size,
      meanConfidence: summary.meanConfidence,
      sheet,
      shown: shown.map((i) => dataset.paths[i]),
      majority: summary.majority && {
        className: className!,
        count: summary.majority.count,
        purity: summary.majority.purity,
      },
    });
    reported.push({
      cluster: summary.cluster,
      size: summary.size,
      meanConfidence: summary.meanConfidence,
      sheet,
      ...(summary.majority && { majorityClass: className, purity: summary.majority.purity }),
    });
  }
  const html = indexPage({
    runDir: input.runDir,
    stage: input.stage,
    head: input.head,
    data: input.dataSpec,
    images: dataset.n,
    clusters: entries,
    metrics: metricsOf(dataset, input.assignments),
  });
  const index = join(out, "index.html");
  await writeFileAtomic(index, new TextEncoder().encode(html));
  return { out, index, clusters: reported };
}

/**
 * Tiles of the shown images: from the original files at twice the model resolution when the
 * folder is known, else (or for a file that changed since the dataset was loaded, whose
 * content hash no longer matches) the stored model-resolution pixels scaled up.
 */
async function sheetTiles(dataset: Dataset, shown: number[], dataDir: string | undefined) {
  const size = dataset.size;
  const stride = size * size * 3;
  const stored = (i: number) => dataset.pixels.subarray(i * stride, (i + 1) * stride);
  if (dataDir === undefined) {
    return { tiles: shown.map(stored), tileSize: size, scale: SCALE };
  }
  const tileSize = size * SCALE;
  const tiles: Uint8Array[] = [];
  for (const i of shown) {
    const loaded = await loadImageFile(join(dataDir, dataset.paths[i]));
    if (!isRefusal(loaded) && loaded.id === dataset.ids[i]) {
      tiles.push(toPixels(loaded.rgb, loaded.width, loaded.height, tileSize));
    } else {
      tiles.push(contactSheet([stored(i)], size, { scale: SCALE, columns: 1 }).rgb);
    }
  }
  return { tiles, tileSize, scale: 1 };
}

function metricsOf(dataset: Dataset, assignments: Int32Array) {
  if (!dataset.labels) return undefined;
  const metrics = labelledMetrics(dataset.labels, assignments);
  if (!metrics) return undefined;
  const { mapping: _mapping, ...rest } = metrics;
  return rest;
}
