import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { join } from "node:path";
import { runOffline } from "../../pipelines/offline.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { makeConfig } from "../../src/config.ts";
import { loadDataset } from "../../src/data/load_dataset.ts";
import type { RunState } from "../../src/run/run_dir.ts";

await initBackend("wasm");

const SHAPES = new URL("../../fixtures/shapes", import.meta.url).pathname;
const LABELS = join(SHAPES, "labels.csv");

Deno.test("runOffline() clusters the shapes fixtures with at least 90% accuracy", async () => {
  const config = makeConfig("fixtures");
  const train = await loadDataset(SHAPES, { size: config.inputSize, labels: LABELS });
  const runDir = await Deno.makeTempDir({ prefix: "scanstream_offline_" });
  const before = tf.memory().numTensors;
  try {
    const summary = await runOffline({ config, train, runDir });
    console.log(JSON.stringify(summary));
    assert.equal(summary.train.images, 300);
    // The paper's ordering: SCAN beats k-means on the same features, and the final model is good.
    assert.ok(summary.scan.metrics!.accuracy >= summary.pretext.kmeans!.accuracy);
    // The run chose its final model by neighbour agreement, the higher one, ties to
    // self-labelling.
    const final = summary.selflabel.final!;
    const { scan, selflabel } = final.agreement;
    assert.equal(final.stage, selflabel >= scan ? "selflabel" : "scan");
    assert.ok(scan > 0 && scan <= 1 && selflabel > 0 && selflabel <= 1, `${scan}, ${selflabel}`);
    // The target, for the model the run serves; measured 0.99 with this seed
    // (BENCHMARKS.md).
    const served = final.stage === "scan" ? summary.scan.metrics! : summary.selflabel.metrics!;
    assert.ok(served.accuracy >= 0.9, `accuracy of the final model ${served.accuracy}`);
    assert.equal(tf.memory().numTensors, before, "tensors leaked by the run");
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("runOffline() resumes a run: finished epochs are not trained again", async () => {
  const small = { inputSize: 16, heads: 2, neighbours: 5 } as const;
  const first = makeConfig("fixtures", {
    ...small,
    pretext: { epochs: 1, batchSize: 20 },
    scan: { epochs: 1, batchSize: 20 },
    selflabel: { epochs: 0, batchSize: 20 },
  });
  const train = await loadDataset(SHAPES, { size: 16, labels: LABELS, limit: 40 });
  const runDir = await Deno.makeTempDir({ prefix: "scanstream_resume_" });
  try {
    await runOffline({ config: first, train, runDir });
    const pretextWeights = join(runDir, "pretext", "backbone.weights.bin");
    const written = (await Deno.stat(pretextWeights)).mtime!.getTime();
    const more = makeConfig("fixtures", {
      ...small,
      pretext: { epochs: 1, batchSize: 20 },
      scan: { epochs: 2, batchSize: 20 },
      selflabel: { epochs: 1, batchSize: 20 },
    });
    const summary = await runOffline({ config: more, train, runDir });
    const state = JSON.parse(await Deno.readTextFile(join(runDir, "state.json"))) as RunState;
    assert.deepEqual(
      [state.pretext.epochs, state.scan.epochs, state.selflabel.epochs],
      [1, 2, 1],
    );
    assert.equal((await Deno.stat(pretextWeights)).mtime!.getTime(), written, "pretext retrained");
    assert.ok(summary.selflabel.metrics !== undefined);
    assert.equal(state.final?.stage, summary.selflabel.final?.stage, "the choice is saved");
    // A resume may change epochs only: anything else is refused with a clear message.
    await assert.rejects(
      runOffline({ config: makeConfig("fixtures", { ...small, clusters: 4 }), train, runDir }),
      /Cannot resume run .*different config/,
    );
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("runOffline() refuses a training set not larger than K", async () => {
  const config = makeConfig("fixtures", { inputSize: 16, neighbours: 10 });
  const train = await loadDataset(SHAPES, { size: 16, limit: 10 });
  const runDir = await Deno.makeTempDir({ prefix: "scanstream_small_" });
  try {
    await assert.rejects(
      runOffline({ config, train, runDir }),
      /Cannot run SCAN: the training set must hold more images than neighbours \(K = 10\), current value is 10/,
    );
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});
