import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { join } from "node:path";
import { lastValueFrom, toArray } from "rxjs";
import { predictDataset } from "../../src/run/inference.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { argmaxRows } from "../../src/operators/classify.ts";
import { classifyFiles } from "../../src/run/classify_files.ts";
import { loadRun } from "../../src/run/load_run.ts";
import { BAD, SHAPES, tinyRun } from "./_tiny_run.ts";

await initBackend("wasm");
const tiny = await tinyRun();

Deno.test("classifyFiles() gives one result per file, in order, the same as the dataset path", async () => {
  const run = await loadRun(tiny.runDir);
  try {
    const expected = argmaxRows(
      await predictDataset(run.model, run.head, tiny.train),
      tiny.train.n,
      run.config.clusters,
    );
    // Good files among bad ones, across chunk boundaries (batch size 2).
    const good = [0, 1, 7, 2].map((i) => tiny.train.paths[i]);
    const paths = [
      join(SHAPES, good[0]),
      join(BAD, "corrupt.png"),
      join(SHAPES, good[1]),
      join(SHAPES, good[2]),
      join(BAD, "missing.png"),
      join(BAD, "zero_bytes.png"),
      join(SHAPES, good[3]),
    ];
    const tensors = tf.memory().numTensors;
    const results = await lastValueFrom(classifyFiles(run, paths, 2).pipe(toArray()));
    assert.equal(tf.memory().numTensors, tensors, "no tensor leaked");
    assert.deepEqual(results.map((r) => r.path), paths);
    const goodAt = [0, 2, 3, 6];
    [0, 1, 7, 2].forEach((datasetIndex, k) => {
      const result = results[goodAt[k]];
      assert.ok("cluster" in result, JSON.stringify(result));
      assert.equal(result.cluster, expected.clusters[datasetIndex]);
      assert.ok(Math.abs(result.confidence - expected.confidence[datasetIndex]) < 1e-5);
    });
    for (const k of [1, 4, 5]) {
      const result = results[k];
      assert.ok("error" in result && result.error.length > 0, JSON.stringify(result));
    }
    assert.match((results[4] as { error: string }).error, /file not found/);
  } finally {
    run.dispose();
  }
});

Deno.test("classifyFiles() with only bad files, or none, runs no model", async () => {
  const run = await loadRun(tiny.runDir);
  try {
    const bad = await lastValueFrom(
      classifyFiles(run, [join(BAD, "text.png")]).pipe(toArray()),
    );
    assert.deepEqual(bad, [{
      path: join(BAD, "text.png"),
      error: "not an image: the file holds text",
    }]);
    assert.deepEqual(await lastValueFrom(classifyFiles(run, []).pipe(toArray())), []);
    assert.throws(() => classifyFiles(run, [], 0), {
      name: "RangeError",
      message: /batchSize must be a positive integer, current value is 0/,
    });
  } finally {
    run.dispose();
  }
});
