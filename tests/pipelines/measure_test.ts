import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { join } from "node:path";
import { measureTimings } from "../../pipelines/offline/measure.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { makeConfig } from "../../src/config.ts";
import { loadDataset } from "../../src/data/load_dataset.ts";

await initBackend("wasm");

const SHAPES = new URL("../../fixtures/shapes", import.meta.url).pathname;

Deno.test("measureTimings() times every stage through a two-thread pool, leaking nothing", async () => {
  const config = makeConfig("fixtures", {
    inputSize: 16,
    heads: 2,
    pretext: { batchSize: 16 },
    scan: { batchSize: 16 },
    selflabel: { batchSize: 16 },
  });
  const train = await loadDataset(SHAPES, {
    size: 16,
    labels: join(SHAPES, "labels.csv"),
    limit: 32,
  });
  const before = tf.memory().numTensors;
  // Two threads: the pool exchanges gradients between workers, as a real run's does.
  const timings = await measureTimings({ config, train, threads: 2, backend: "wasm" });
  assert.equal(tf.memory().numTensors, before, "tensors leaked by measuring");
  const { knnSample, ...perStep } = timings;
  for (const [name, seconds] of Object.entries(perStep)) {
    assert.ok(seconds > 0 && Number.isFinite(seconds), `${name}: ${seconds}`);
  }
  // 32 images: the kNN is timed on all of them.
  assert.equal(knnSample?.images, 32);
  assert.ok(knnSample!.seconds > 0 && Number.isFinite(knnSample!.seconds));
  assert.ok(timings.measuring >= timings.poolOpen + 2 * timings.pretextStep);
});
