/** The lines `deno task train` prints after a run: each stage's figures beside the baseline's. */
import type { OfflineSummary } from "../offline.ts";
import type { StageMetrics } from "./context.ts";

/**
 * One line per scored model, in the order a reader compares them (none without labels), then the
 * final model the run chose, with or without labels.
 */
export function figureLines(summary: OfflineSummary): string[] {
  const rows: [string, StageMetrics | undefined][] = [
    ["k-means on raw pixels (baseline)", summary.baseline?.kmeansRawPixels],
    ["k-means on pretext features", summary.pretext.kmeans],
    ["SCAN", summary.scan.metrics],
    ["self-labelling", summary.selflabel.metrics],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const final = summary.selflabel.final;
  const chosen = final === undefined ? [] : [
    `final model: ${final.stage === "scan" ? "SCAN" : "self-labelling"} (neighbour agreement ` +
    `SCAN ${final.agreement.scan.toFixed(3)}, self-labelling ${
      final.agreement.selflabel.toFixed(3)
    })`,
  ];
  return [
    ...rows.flatMap(([name, m]) =>
      m
        ? [
          `${name.padEnd(width)}  accuracy ${m.accuracy.toFixed(3)}  NMI ${m.nmi.toFixed(3)}  ` +
          `ARI ${m.ari.toFixed(3)}`,
        ]
        : []
    ),
    ...chosen,
  ];
}
