/**
 * The report's index.html: one section per cluster with its id, size, mean confidence, contact
 * sheet and, where labels exist, majority class and purity, so a person can see what each cluster
 * is. Pure: data in, a self-contained HTML string out; every text from outside (paths, class
 * names, run directory) is escaped.
 */

/** One cluster as the page shows it. */
export interface ClusterEntry {
  readonly cluster: number;
  readonly size: number;
  readonly meanConfidence: number | null;
  /** File name of the contact sheet beside index.html; null for an empty cluster. */
  readonly sheet: string | null;
  /** Sources of the images on the sheet, in sheet order (row by row). */
  readonly shown: readonly string[];
  readonly majority?: {
    readonly className: string;
    readonly count: number;
    readonly purity: number;
  };
}

/** Everything on the page. */
export interface IndexPage {
  readonly runDir: string;
  /** Which checkpoint: "selflabel" or "scan". */
  readonly stage: string;
  readonly head: number;
  readonly data: string;
  readonly images: number;
  readonly clusters: readonly ClusterEntry[];
  /** Scores against the labels, when the data has them. */
  readonly metrics?: {
    readonly accuracy: number;
    readonly nmi: number;
    readonly ari: number;
    readonly manyToOneAccuracy: number;
  };
}

/** Render the page. */
export function indexPage(page: IndexPage): string {
  const labelled = page.clusters.some((c) => c.majority !== undefined) || page.metrics;
  const metrics = page.metrics
    ? `<p>Against the labels: accuracy ${percent(page.metrics.accuracy)}, NMI ${
      page.metrics.nmi.toFixed(3)
    }, ARI ${page.metrics.ari.toFixed(3)}, many-to-one accuracy ${
      percent(page.metrics.manyToOneAccuracy)
    }.</p>`
    : "";
  const rows = page.clusters.map((c) => {
    const majority = c.majority
      ? `<td>${escapeHtml(c.majority.className)}</td><td>${
        percent(c.majority.purity)
      } (${c.majority.count})</td>`
      : labelled
      ? "<td>-</td><td>-</td>"
      : "";
    return `<tr><td><a href="#cluster-${c.cluster}">${c.cluster}</a></td><td>${c.size}</td>` +
      `<td>${c.meanConfidence === null ? "-" : c.meanConfidence.toFixed(3)}</td>${majority}</tr>`;
  });
  const sections = page.clusters.map((c) => {
    const title = `Cluster ${c.cluster}` +
      (c.majority ? ` — mostly ${escapeHtml(c.majority.className)}` : "");
    const facts = `${c.size} images` +
      (c.meanConfidence === null ? "" : `, mean confidence ${c.meanConfidence.toFixed(3)}`) +
      (c.majority
        ? `, majority class ${escapeHtml(c.majority.className)} (purity ${
          percent(c.majority.purity)
        })`
        : "");
    const body = c.sheet === null
      ? "<p>No image is in this cluster.</p>"
      : `<p>The ${c.shown.length} most confident images, row by row:</p>
<img src="${escapeHtml(encodeURIComponent(c.sheet))}" alt="contact sheet of cluster ${c.cluster}">
<details><summary>Their files</summary><ol>${
        c.shown.map((path) => `<li>${escapeHtml(path)}</li>`).join("")
      }</ol></details>`;
    return `<section id="cluster-${c.cluster}">
<h2>${title}</h2>
<p>${facts}</p>
${body}
</section>`;
  });
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Clusters of ${escapeHtml(page.runDir)}</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
img { image-rendering: pixelated; border: 1px solid #888; }
section { margin-top: 2em; }
</style>
</head>
<body>
<h1>Clusters of ${escapeHtml(page.runDir)}</h1>
<p>Model: ${escapeHtml(page.stage)} checkpoint, head ${page.head}. Data: ${
    escapeHtml(page.data)
  }, ${page.images} images in ${page.clusters.length} clusters.</p>
${metrics}
<table>
<tr><th>cluster</th><th>size</th><th>mean confidence</th>${
    labelled ? "<th>majority class</th><th>purity</th>" : ""
  }</tr>
${rows.join("\n")}
</table>
${sections.join("\n")}
</body>
</html>
`;
}

/** Escape text for HTML content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!,
  );
}

function percent(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
