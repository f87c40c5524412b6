import assert from "node:assert/strict";
import { escapeHtml, type IndexPage, indexPage } from "../../src/report/index_page.ts";

const page: IndexPage = {
  runDir: "runs/<mine>",
  stage: "selflabel",
  head: 3,
  data: "fixtures/shapes",
  images: 5,
  clusters: [
    {
      cluster: 0,
      size: 4,
      meanConfidence: 0.875,
      sheet: "cluster_00.png",
      shown: ["a.png", "b&c.png"],
      majority: { className: "<script>alert(1)</script>", count: 3, purity: 0.75 },
    },
    { cluster: 1, size: 0, meanConfidence: null, sheet: null, shown: [] },
  ],
  metrics: { accuracy: 0.5, nmi: 0.25, ari: 0.125, manyToOneAccuracy: 0.75 },
};

Deno.test("indexPage() shows each cluster's id, size, confidence, sheet, class and purity", () => {
  const html = indexPage(page);
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /<tr><td><a href="#cluster-0">0<\/a><\/td><td>4<\/td><td>0\.875<\/td>/);
  assert.match(html, /<img src="cluster_00\.png" alt="contact sheet of cluster 0">/);
  assert.match(html, /purity 75\.0%/);
  assert.match(html, /<li>a\.png<\/li><li>b&amp;c\.png<\/li>/);
  assert.match(html, /id="cluster-1"[\s\S]*No image is in this cluster/);
  assert.match(html, /accuracy 50\.0%, NMI 0\.250, ARI 0\.125/);
  assert.equal((html.match(/<img /g) ?? []).length, 1, "no sheet for the empty cluster");
});

Deno.test("indexPage() escapes text from outside (class names, paths, run directory)", () => {
  const html = indexPage(page);
  assert.ok(!html.includes("<script>"), "a class name cannot inject markup");
  assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  assert.ok(html.includes("runs/&lt;mine&gt;"));
  assert.equal(escapeHtml(`a"b'c&<>`), "a&quot;b&#39;c&amp;&lt;&gt;");
});

Deno.test("indexPage() has no class columns without labels", () => {
  const html = indexPage({
    ...page,
    metrics: undefined,
    clusters: page.clusters.map(({ majority: _majority, ...c }) => c),
  });
  assert.ok(!html.includes("majority class"));
  assert.ok(!html.includes("purity"));
  assert.ok(!html.includes("accuracy"));
});
