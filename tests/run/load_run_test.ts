import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { join } from "node:path";
import { predictDataset } from "../../src/run/inference.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { clusteringMetrics } from "../../src/eval/metrics.ts";
import { argmaxRows } from "../../src/operators/classify.ts";
import { loadRun } from "../../src/run/load_run.ts";
import { tinyRun } from "./_tiny_run.ts";

await initBackend("wasm");
const tiny = await tinyRun();

async function copyDir(from: string, to: string, skip: (name: string) => boolean = () => false) {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (skip(entry.name)) continue;
    if (entry.isDirectory) await copyDir(join(from, entry.name), join(to, entry.name), skip);
    else await Deno.copyFile(join(from, entry.name), join(to, entry.name));
  }
}

async function withCopy(
  skip: (name: string) => boolean,
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "scanstream_run_copy_" });
  try {
    await copyDir(tiny.runDir, dir, skip);
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function metricsOf(dir: string) {
  const run = await loadRun(dir);
  try {
    const p = await predictDataset(run.model, run.head, tiny.train);
    const { clusters } = argmaxRows(p, tiny.train.n, run.config.clusters);
    const { mapping: _mapping, ...metrics } = clusteringMetrics(tiny.train.labels!, clusters);
    return { stage: run.stage, head: run.head, metrics };
  } finally {
    run.dispose();
  }
}

Deno.test("loadRun() opens the model the run chose, with the head SCAN kept", async () => {
  const tensors = tf.memory().numTensors;
  const run = await loadRun(tiny.runDir);
  const chosen = tiny.summary.selflabel.final?.stage ?? "selflabel";
  assert.equal(run.stage, chosen);
  assert.equal(run.head, tiny.summary.scan.bestHead);
  assert.deepEqual(run.config, tiny.config);
  assert.ok(Object.isFrozen(run.config));
  assert.equal(run.model.heads.outputs.length, tiny.config.heads);
  run.dispose();
  assert.equal(tf.memory().numTensors, tensors, "dispose() frees every weight");
  // The same predictions as the training run's own evaluation of its final model.
  const loaded = await metricsOf(tiny.runDir);
  assert.deepEqual(
    loaded.metrics,
    chosen === "scan" ? tiny.summary.scan.metrics : tiny.summary.selflabel.metrics,
  );
});

Deno.test("loadRun() follows the final model named in state.json", async () => {
  for (const stage of ["scan", "selflabel"] as const) {
    await withCopy(() => false, async (dir) => {
      const file = join(dir, "state.json");
      const state = JSON.parse(await Deno.readTextFile(file));
      state.final = { stage, agreement: { scan: 0.9, selflabel: 0.8 } };
      await Deno.writeTextFile(file, JSON.stringify(state));
      const loaded = await metricsOf(dir);
      assert.equal(loaded.stage, stage);
      assert.deepEqual(
        loaded.metrics,
        stage === "scan" ? tiny.summary.scan.metrics : tiny.summary.selflabel.metrics,
      );
    });
  }
  // A state.json whose choice is malformed is refused, not guessed at.
  await withCopy(() => false, async (dir) => {
    const file = join(dir, "state.json");
    const state = JSON.parse(await Deno.readTextFile(file));
    state.final = { stage: "pretext", agreement: { scan: 0.9, selflabel: 0.8 } };
    await Deno.writeTextFile(file, JSON.stringify(state));
    await assert.rejects(loadRun(dir), /Cannot load run/);
  });
});

Deno.test("loadRun() falls back to the best SCAN model when there is no self-labelled one", async () => {
  await withCopy((name) => name === "selflabel", async (dir) => {
    const loaded = await metricsOf(dir);
    assert.equal(loaded.stage, "scan");
    assert.equal(loaded.head, tiny.summary.scan.bestHead);
    assert.deepEqual(loaded.metrics, tiny.summary.scan.metrics);
  });
});

Deno.test("loadRun() refuses a directory that is not a run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "scanstream_not_a_run_" });
  try {
    await assert.rejects(loadRun(dir), {
      message: `Cannot load run ${dir}: it has no config.json and state.json ` +
        "(is it a directory written by `deno task train`?)",
    });
    await assert.rejects(loadRun(join(dir, "missing")), /Cannot load run .*no config\.json/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadRun() refuses a run before SCAN, a bad head and a bad config, leaking nothing", async () => {
  const edit = async (
    dir: string,
    file: string,
    change: (json: Record<string, unknown>) => void,
  ) => {
    const json = JSON.parse(await Deno.readTextFile(join(dir, file)));
    change(json);
    await Deno.writeTextFile(join(dir, file), JSON.stringify(json));
  };
  const tensors = tf.memory().numTensors;
  await withCopy(() => false, async (dir) => {
    await edit(dir, "state.json", (state) => (state.scan as { bestHead: number }).bestHead = 7);
    await assert.rejects(loadRun(dir), {
      message:
        `Cannot load run ${dir}: state.json names head 7, but the selflabel model has 2 heads`,
    });
    await edit(dir, "state.json", (state) => (state.scan as { epochs: number }).epochs = 0);
    await assert.rejects(loadRun(dir), /no SCAN epoch has finished yet/);
  });
  await withCopy(() => false, async (dir) => {
    await edit(dir, "config.json", (config) => config.inputSize = 24);
    await assert.rejects(loadRun(dir), /backbone takes 16px input, but config.json says 24/);
    await edit(dir, "config.json", (config) => delete config.clusters);
    await assert.rejects(loadRun(dir), /config\.json lacks clusters/);
    await edit(dir, "config.json", (config) => config.clusters = 1);
    await assert.rejects(
      loadRun(dir),
      /config\.json is invalid: .*clusters must be an integer of at least 2/,
    );
  });
  await withCopy((name) => name === "heads.json", async (dir) => {
    // No heads.json in selflabel/ nor scan/: selflabel is not complete, and scan fails to load.
    await assert.rejects(loadRun(dir), /Cannot load run .*heads\.json/);
  });
  assert.equal(tf.memory().numTensors, tensors);
});
