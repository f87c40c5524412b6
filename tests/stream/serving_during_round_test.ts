/**
 * The serving thread only serves: while a training round runs (SimCLR steps in the training
 * pool), this thread's event loop is never held longer than one serving batch window, and an
 * image that arrives mid-round is stored and assigned at once with the current serving model.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../../src/backend/backend.ts";
import { makeConfig } from "../../src/config.ts";
import { loadDataset } from "../../src/data/load_dataset.ts";
import { makeRoundConfig } from "../../src/stream/round_config.ts";
import type { StoredImage } from "../../src/stream/store.ts";
import { StreamTrainer } from "../../src/stream/trainer.ts";

await initBackend("wasm");

const SHAPES = new URL("../../fixtures/shapes", import.meta.url).pathname;
/** The stream's default serving batch window (pipelines/stream.ts `batchWaitMs`). */
const BATCH_WINDOW_MS = 200;

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
    let last = performance.now();
    let longest = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 5);
    const assignedMidRound: number[] = [];
    const arrivals = setTimeout(() => {
      const started = performance.now();
      trainer.add(all.slice(120));
      assignedMidRound.push(trainer.assignPending().length, performance.now() - started);
      // The serving work itself is not the round's: the gap is measured from here.
      last = performance.now();
    }, 100);
    const started = performance.now();
    const report = await trainer.round();
    const seconds = (performance.now() - started) / 1000;
    clearInterval(ticker);
    clearTimeout(arrivals);
    assert.ok(report !== null);
    // Precondition: the round's SimCLR steps are long enough that running one here would show.
    assert.ok(
      seconds / rounds.pretextSteps > BATCH_WINDOW_MS / 1000,
      `a step took ${(1000 * seconds / rounds.pretextSteps).toFixed(0)} ms: too short to test`,
    );
    console.log(`round ${seconds.toFixed(2)} s, longest hold ${longest.toFixed(0)} ms`);
    assert.ok(
      longest < BATCH_WINDOW_MS,
      `the serving thread was held ${longest.toFixed(0)} ms during a ${seconds.toFixed(1)} s round`,
    );
    assert.equal(assignedMidRound[0], 10, "the images that arrived mid-round were assigned");
    assert.ok(assignedMidRound[1] < BATCH_WINDOW_MS, `assigning took ${assignedMidRound[1]} ms`);
  } finally {
    await trainer.dispose();
  }
});
