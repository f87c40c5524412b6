import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { isGrayscale, rawPixelBaseline } from "../../pipelines/offline/baseline.ts";
import { figureLines } from "../../pipelines/offline/figures.ts";
import type { OfflineSummary } from "../../pipelines/offline.ts";
import { initBackend } from "../../src/backend/backend.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { Random } from "../../src/util/random.ts";

await initBackend("wasm");

/** n images of side 4: class c is a flat gray level 40 + 80c, plus noise; `tint` colours them. */
function flatImages(n: number, classes: number, seed: number, tint = false): Dataset {
  const rng = new Random(seed);
  const size = 4;
  const stride = size * size * 3;
  const pixels = new Uint8Array(n * stride);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % classes;
    for (let p = 0; p < size * size; p++) {
      const v = 40 + 80 * labels[i] + Math.floor(rng.next() * 20);
      pixels.set([v, tint ? 255 - v : v, v], i * stride + p * 3);
    }
  }
  const ids = Array.from({ length: n }, (_, i) => `img:${i}`);
  return {
    n,
    size,
    pixels,
    ids,
    paths: ids,
    labels,
    classNames: ["a", "b", "c"].slice(0, classes),
  };
}

Deno.test("rawPixelBaseline() finds flat gray levels and scores the evaluation images", () => {
  const train = flatImages(60, 3, 1);
  const evaluation = flatImages(30, 3, 2);
  const before = tf.memory().numTensors;
  const report = rawPixelBaseline(train, evaluation, 3, new Random(5));
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  assert.equal(report.kmeansRawPixels.accuracy, 1);
  assert.ok(Math.abs(report.kmeansRawPixels.nmi - 1) < 1e-9);
  assert.equal(report.kmeansRawPixels.fitImages, 60);
  // Seeded: the same figures again.
  assert.deepEqual(
    { ...rawPixelBaseline(train, evaluation, 3, new Random(5)).kmeansRawPixels, seconds: 0 },
    { ...report.kmeansRawPixels, seconds: 0 },
  );
});

Deno.test("rawPixelBaseline() refuses evaluation images without labels", () => {
  const train = flatImages(20, 2, 1);
  const { labels: _labels, ...unlabelled } = train;
  assert.throws(() => rawPixelBaseline(train, unlabelled, 2, new Random(1)), /no labels/);
});

Deno.test("isGrayscale() tells equal channels from colour", () => {
  assert.equal(isGrayscale(flatImages(6, 2, 1)), true);
  assert.equal(isGrayscale(flatImages(6, 2, 1, true)), false);
});

Deno.test("figureLines() puts the baseline beside the stages, only where scored", () => {
  const m = { accuracy: 0.5, nmi: 0.25, ari: 0.125 };
  const summary = {
    baseline: { kmeansRawPixels: { ...m, seconds: 1, fitImages: 10 } },
    pretext: { seconds: 1, kmeans: m },
    scan: { seconds: 1, bestHead: 0, loss: { total: 0, consistency: 0, entropy: 0 }, metrics: m },
    selflabel: { seconds: 1 },
  } as unknown as OfflineSummary;
  const lines = figureLines(summary);
  assert.equal(lines.length, 3);
  assert.match(lines[0], /raw pixels.*accuracy 0\.500 {2}NMI 0\.250 {2}ARI 0\.125/);
  assert.match(lines[2], /^SCAN/);
});

Deno.test("figureLines() ends with the final model the run chose", () => {
  const m = { accuracy: 0.5, nmi: 0.25, ari: 0.125 };
  const summary = {
    pretext: { seconds: 1 },
    scan: { seconds: 1, bestHead: 0, loss: { total: 0, consistency: 0, entropy: 0 }, metrics: m },
    selflabel: {
      seconds: 1,
      metrics: m,
      final: { stage: "scan", agreement: { scan: 0.894, selflabel: 0.885 } },
    },
  } as unknown as OfflineSummary;
  const lines = figureLines(summary);
  assert.equal(lines.length, 3);
  assert.equal(
    lines[2],
    "final model: SCAN (neighbour agreement SCAN 0.894, self-labelling 0.885)",
  );
});
