/**
 * The serving thread only serves: while a training round runs (SimCLR steps in the training
 * pool), this thread's event loop is never held longer than one serving batch window beyond
 * what the machine's load alone causes (measured first, with the same training in a pool and
 * nothing on this thread), and an image that arrives mid-round is stored and assigned at once
 * with the current serving model.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SERVING_WINDOW_MS } from "../../pipelines/stream.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { makeConfig, type ScanConfig } from "../../src/config.ts";
import { readWeights } from "../../src/parallel/network_weights.ts";
import { TrainingPool } from "../../src/parallel/training_pool.ts";
import { loadDataset } from "../../src/data/load_dataset.ts";
import { makeRoundConfig } from "../../src/stream/round_config.ts";
import type { StoredImage } from "../../src/stream/store.ts";
import { StreamModels } from "../../src/stream/stream_models.ts";
import { StreamTrainer } from "../../src/stream/trainer.ts";

await initBackend("wasm");

const SHAPES = new URL("../../fixtures/shapes", import.meta.url).pathname;

async function images(count: number, size: number): Promise<StoredImage[]> {
  const data = await loadDataset(SHAPES, {
    size,
    labels: join(SHAPES, "labels.csv"),
    limit: count,
  });
  const stride = size * size * 3;
  return data.ids.map((id, i) => ({
    id,
    path: data.paths[i],
    pixels: data.pixels.slice(i * stride, (i + 1) * stride),
  }));
}

/** Run `body` while a 5 ms timer ticks; resolves to the longest gap between ticks. */
async function longestGap(body: (reset: () => void) => Promise<void>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  try {
    await body(() => last = performance.now());
  } finally {
    clearInterval(ticker);
  }
  return longest;
}

/** The longest gap while a pool trains and this thread does nothing else. */
async function loadAlone(config: ScanConfig, images: StoredImage[]): Promise<number> {
  const models = StreamModels.build(config);
  const pool = await TrainingPool.open({
    threads: 1,
    backend: "wasm",
    config,
    weights: readWeights(models),
  });
  models.dispose();
  const size = config.inputSize;
  const data = new Uint8Array(images.length * size * size * 3);
  images.forEach((image, i) => data.set(image.pixels, i * size * size * 3));
  const batch = { ids: [], data, shape: [images.length, size, size, 3] as const };
  try {
    return await longestGap(async () => {
      for (let step = 0; step < 6; step++) {
        await pool.pretextStep(
          { ...batch, shape: [...batch.shape] },
          { learningRate: 1e-3, temperature: 0.1, seed: step },
        );
      }
    });
  } finally {
    await pool.close();
  }
}

Deno.test("a training round never holds the serving thread longer than one batch window", async () => {
  // SimCLR steps large enough that one of them on this thread would exceed the window.
  const config = makeConfig("fixtures", {
    inputSize: 24,
    pretext: { batchSize: 96 },
    scan: { batchSize: 32 },
  });
  const rounds = makeRoundConfig(config, {
    pretextSteps: 4,
    scanSteps: 5,
    warmupSteps: 4,
    minImages: 40,
  });
  const all = await images(130, config.inputSize);
  const trainer = await StreamTrainer.open({ config, rounds, threads: 1 });
  try {
    trainer.add(all.slice(0, 120));
    // The first clustering, so that arrivals can be assigned.
    assert.ok((await trainer.round())?.update, "the first round clusters");
    assert.equal(trainer.assignPending().length, 120);
    const baseline = await loadAlone(config, all.slice(0, config.pretext.batchSize));
    const assignedMidRound: number[] = [];
    let report: Awaited<ReturnType<StreamTrainer["round"]>> = null;
    let seconds = 0;
    const longest = await longestGap(async (reset) => {
      const arrivals = setTimeout(() => {
        trainer.add(all.slice(120));
        assignedMidRound.push(trainer.assignPending().length);
        // The serving work itself is not the round's: the gap is measured from here.
        reset();
      }, 100);
      const started = performance.now();
      report = await trainer.round();
      seconds = (performance.now() - started) / 1000;
      clearTimeout(arrivals);
    });
    assert.ok(report !== null);
    // Precondition: the round's SimCLR steps are long enough that running one here would show.
    const stepMs = (1000 * seconds) / rounds.pretextSteps;
    assert.ok(
      stepMs > baseline + SERVING_WINDOW_MS,
      `a step took about ${stepMs.toFixed(0)} ms: too short to test`,
    );
    console.log(
      `round ${seconds.toFixed(2)} s, longest hold ${longest.toFixed(0)} ms ` +
        `(${baseline.toFixed(0)} ms with the load alone)`,
    );
    assert.ok(
      longest < baseline + SERVING_WINDOW_MS,
      `the serving thread was held ${longest.toFixed(0)} ms during a ${seconds.toFixed(1)} s ` +
        `round, ${baseline.toFixed(0)} ms with the load alone`,
    );
    assert.equal(assignedMidRound[0], 10, "the images that arrived mid-round were assigned");
  } finally {
    await trainer.dispose();
  }
});
