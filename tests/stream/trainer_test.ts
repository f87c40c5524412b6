import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/backend.ts";
import { makeConfig } from "../../src/config.ts";
import { loadDataset } from "../../src/data/load_dataset.ts";
import { makeRoundConfig, MIN_COOLING_SCALE } from "../../src/stream/round_config.ts";
import type { StoredImage } from "../../src/stream/store.ts";
import { STATE_FILES, StreamTrainer } from "../../src/stream/trainer.ts";
import { StreamModels } from "../../src/stream/stream_models.ts";
import { argmaxRows } from "../../src/operators/classify.ts";
import { mixedDim, withPixels } from "../../src/mining/pixel_mix.ts";

await initBackend("wasm");

const SHAPES = new URL("../../fixtures/shapes", import.meta.url).pathname;

function tinyConfig(clusterHeadOnly: boolean) {
  return makeConfig("fixtures", {
    inputSize: 16,
    heads: 2,
    neighbours: 5,
    clusterHeadOnly,
    pretext: { batchSize: 12 },
    scan: { batchSize: 12 },
    selflabel: { batchSize: 12 },
  });
}

async function images(count: number): Promise<StoredImage[]> {
  const data = await loadDataset(SHAPES, {
    size: 16,
    labels: join(SHAPES, "labels.csv"),
    limit: count,
  });
  const stride = 16 * 16 * 3;
  return data.ids.map((id, i) => ({
    id,
    path: data.paths[i],
    pixels: data.pixels.slice(i * stride, (i + 1) * stride),
    label: data.classNames![data.labels![i]],
  }));
}

Deno.test("StreamTrainer - no assignment before the first clustering, then all images at once, then each new one", async () => {
  const config = tinyConfig(true);
  const rounds = makeRoundConfig(config, {
    pretextSteps: 1,
    scanSteps: 3,
    warmupSteps: 1,
    minImages: 20,
  });
  const all = await images(26);
  const trainer = await StreamTrainer.open({ config, rounds });
  try {
    assert.equal(trainer.add(all.slice(0, 12)).length, 12);
    assert.deepEqual(trainer.assignPending(), []);
    const warm = await trainer.round();
    assert.equal(warm!.update, null, "too few images for SCAN: no clustering yet");
    assert.equal(trainer.add(all.slice(0, 20)).length, 8, "known images are skipped");
    const first = await trainer.round();
    assert.equal(first!.update!.version, 1);
    assert.equal(first!.update!.images, 20);
    assert.ok(first!.update!.accuracy !== undefined, "labels give metrics");
    const assigned = trainer.assignPending();
    assert.equal(assigned.length, 20);
    assert.ok(assigned.every((a) => a.modelVersion === 1));
    // The first SCAN round made the optimiser's slots; later rounds allocate nothing that stays.
    const before = tf.memory().numTensors;
    await trainer.round();
    assert.equal(tf.memory().numTensors, before, "a round leaks no tensors");
    trainer.add(all.slice(20, 26));
    assert.deepEqual(trainer.assignPending().map((a) => a.path), all.slice(20).map((i) => i.path));
    assert.deepEqual(trainer.assignPending(), []);
  } finally {
    await trainer.dispose();
  }
});

Deno.test("StreamTrainer - full SCAN and self-labelling steps train the backbone; an aborted round changes nothing", async () => {
  const config = tinyConfig(false);
  const rounds = makeRoundConfig(config, {
    pretextSteps: 1,
    scanSteps: 1,
    selflabelSteps: 1,
    warmupSteps: 1,
    minImages: 20,
    selflabelAfter: 1,
  });
  const trainer = await StreamTrainer.open({ config, rounds });
  try {
    trainer.add(await images(20));
    await trainer.round();
    assert.deepEqual(trainer.steps, { rounds: 1, pretext: 1, scan: 1, selflabel: 1 });
    const abort = new AbortController();
    abort.abort();
    assert.equal(await trainer.round(abort.signal), null);
    assert.deepEqual(trainer.steps, { rounds: 1, pretext: 1, scan: 1, selflabel: 1 });
    assert.equal(trainer.version, 1);
  } finally {
    await trainer.dispose();
  }
});

Deno.test("StreamTrainer - rates cool while no image arrives and come back with a new one", async () => {
  const config = tinyConfig(true);
  const rounds = makeRoundConfig(config, {
    pretextSteps: 1,
    scanSteps: 1,
    warmupSteps: 1,
    minImages: 20,
    // A half-life of 1 ms: every round without a new image trains at a far lower rate.
    coolingSeconds: 0.001,
  });
  const all = await images(21);
  const trainer = await StreamTrainer.open({ config, rounds });
  try {
    trainer.add(all.slice(0, 20));
    const scales: number[] = [];
    const moved: (number | null)[] = [];
    for (let r = 0; r < 3; r++) {
      const report = (await trainer.round())!;
      scales.push(report.learningRateScale);
      moved.push(report.moved);
    }
    trainer.add(all.slice(20));
    scales.push((await trainer.round())!.learningRateScale);
    assert.equal(scales[0], 1, "images arrived before the first round");
    assert.deepEqual(scales.slice(1, 3), [MIN_COOLING_SCALE, MIN_COOLING_SCALE]);
    assert.equal(scales[3], 1, "a new image restores the rates");
    // The first clustering publishes every image; later rounds count moves, published or not.
    assert.equal(moved[0], 0);
    assert.ok(moved.slice(1).every((m) => m !== null && m >= 0 && m <= 20), `${moved}`);
  } finally {
    await trainer.dispose();
  }
});

Deno.test("StreamTrainer - state survives a crash after any file of a checkpoint, and refuses another shape", async () => {
  const dir = await Deno.makeTempDir({ prefix: "scanstream_trainer_test_" });
  const config = tinyConfig(true);
  const rounds = makeRoundConfig(config, {
    pretextSteps: 1,
    scanSteps: 2,
    warmupSteps: 1,
    minImages: 20,
  });
  try {
    const all = await images(24);
    const first = await StreamTrainer.open({ config, rounds, stateDir: dir });
    first.add(all.slice(0, 20));
    const { update } = (await first.round())!;
    const published = first.assignPending();
    assert.ok(first.reportRefusal("bad.png"));
    await first.checkpoint(true);
    // A crash after the store of a later checkpoint was saved, before its state.json: the store
    // holds images the state does not know.
    first.add(all.slice(20, 24));
    await first.store.save(join(dir, STATE_FILES.store));
    await first.dispose();

    const second = await StreamTrainer.open({ config, rounds, stateDir: dir });
    try {
      assert.equal(second.store.n, 24);
      assert.equal(second.version, update!.version);
      assert.equal(second.reportRefusal("bad.png"), false, "a reported refusal stays reported");
      // The published images are not assigned again; the 4 the state missed are, with the
      // restored model and cluster ids.
      const pending = second.assignPending();
      assert.deepEqual(pending.map((a) => a.path), all.slice(20).map((i) => i.path));
      assert.equal(published.length, 20);
    } finally {
      await second.dispose();
    }
    await assert.rejects(
      StreamTrainer.open({ config: { ...config, clusters: 4 }, rounds, stateDir: dir }),
      /Cannot resume the stream .* it was made with/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("StreamTrainer - features computed elsewhere with the serving checkpoint assign as the trainer's own would", async () => {
  const config = tinyConfig(true);
  const rounds = makeRoundConfig(config, {
    pretextSteps: 1,
    scanSteps: 3,
    warmupSteps: 1,
    minImages: 20,
  });
  const all = await images(28);
  const stateDir = await Deno.makeTempDir({ prefix: "scanstream_served_" });
  const trainer = await StreamTrainer.open({ config, rounds, stateDir });
  let worker: StreamModels | undefined;
  try {
    trainer.add(all.slice(0, 20));
    await trainer.round();
    assert.equal(trainer.assignPending().length, 20);
    // What an embed worker does: load the announced checkpoint, embed the new images.
    const serving = trainer.serving;
    await trainer.checkpoint(true);
    worker = await StreamModels.load(join(stateDir, `models-${serving.round}`));
    const fresh = all.slice(20);
    const view = viewOf(fresh);
    const before = tf.memory().numTensors;
    const served = worker.embeddings(view);
    trainer.add(fresh.slice(0, 4), {
      projected: served.projected.slice(0, 4 * 128),
      backbone: served.backbone.slice(0, 4 * (served.backbone.length / fresh.length)),
    });
    trainer.add(fresh.slice(4));
    const assigned = trainer.assignPending();
    assert.equal(tf.memory().numTensors, before, "no tensor leaks");
    const expected = argmaxRows(
      worker.probabilities(view, serving.head),
      fresh.length,
      config.clusters,
    );
    assert.deepEqual(
      assigned.map((a) => [a.path, a.cluster, a.modelVersion]),
      fresh.map((image, i) => [
        image.path,
        serving.permutation[expected.clusters[i]],
        serving.version,
      ]),
    );
    assigned.forEach((a, i) => assert.ok(Math.abs(a.confidence - expected.confidence[i]) < 1e-5));
  } finally {
    worker?.dispose();
    await trainer.dispose();
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("StreamTrainer - head-only self-labelling reports its pseudo-labels in stable cluster ids", async () => {
  // Just above uniform over 6 clusters, so that pseudo-labels pass after two SCAN steps.
  const config = makeConfig("fixtures", { ...tinyConfig(true), confidenceThreshold: 0.17 });
  const rounds = makeRoundConfig(config, {
    pretextSteps: 1,
    scanSteps: 2,
    selflabelSteps: 2,
    warmupSteps: 1,
    minImages: 20,
    selflabelAfter: 1,
  });
  const trainer = await StreamTrainer.open({ config, rounds });
  try {
    const all = await images(24);
    trainer.add(all);
    const report = (await trainer.round())!;
    assert.deepEqual(trainer.steps, { rounds: 1, pretext: 1, scan: 2, selflabel: 2 });
    assert.ok(report.labels !== null, "no pseudo-label passed a threshold of 0.17");
    const ids = new Set(all.map((image) => image.id));
    const published = new Map(trainer.assignPending().map((a) => [a.id, a.cluster]));
    assert.equal(report.labels.modelVersion, trainer.version);
    for (const label of report.labels.labels) {
      assert.ok(ids.has(label.id), `unknown id ${label.id}`);
      assert.ok(label.confidence > 0.17);
      assert.ok(published.has(label.id));
      assert.ok(label.cluster >= 0 && label.cluster < config.clusters);
    }
    assert.equal(new Set(report.labels.labels.map((l) => l.id)).size, report.labels.labels.length);
  } finally {
    await trainer.dispose();
  }
});

Deno.test("StreamTrainer - images stored while a round re-embeds the store are embedded and clustered with it", async () => {
  const config = tinyConfig(true);
  const rounds = makeRoundConfig(config, {
    pretextSteps: 0,
    scanSteps: 1,
    warmupSteps: 0,
    minImages: 20,
  });
  const trainer = await StreamTrainer.open({ config, rounds });
  try {
    const all = await images(290);
    // More than one inference batch (256), so the embedding pass yields once.
    trainer.add(all.slice(0, 270));
    const round = trainer.round();
    // Runs while the round waits between its embedding batches.
    assert.equal(trainer.add(all.slice(270)).length, 20);
    const report = await round;
    assert.ok(report !== null && report.update !== null);
    assert.equal(report.update.sizes.reduce((a, b) => a + b, 0), 290, "every image clustered");
    assert.equal(trainer.assignPending().length, 290);
  } finally {
    await trainer.dispose();
  }
});

Deno.test("StreamTrainer - mining on backbone features and pixels: every list, re-mined or incremental, is in that space", async () => {
  const config = makeConfig("fixtures", {
    ...tinyConfig(true),
    mineOn: "backbone-pixels",
  });
  const rounds = makeRoundConfig(config, {
    pretextSteps: 1,
    scanSteps: 1,
    warmupSteps: 1,
    minImages: 20,
  });
  const all = await images(28);
  const stateDir = await Deno.makeTempDir({ prefix: "scanstream_mine_on_" });
  const trainer = await StreamTrainer.open({ config, rounds, stateDir });
  let worker: StreamModels | undefined;
  try {
    trainer.add(all.slice(0, 20));
    await trainer.round();
    await trainer.checkpoint(true);
    worker = await StreamModels.load(join(stateDir, `models-${trainer.serving.round}`));
    // Four new images with features from elsewhere, four embedded by the trainer itself.
    const fresh = all.slice(20);
    const freshView = viewOf(fresh);
    const served = worker.embeddings(freshView);
    const f = served.backbone.length / fresh.length;
    trainer.add(fresh.slice(0, 4), {
      projected: served.projected.slice(0, 4 * 128),
      backbone: served.backbone.slice(0, 4 * f),
    });
    trainer.add(fresh.slice(4));

    const view = viewOf(all);
    const emb = worker.embeddings(view);
    const mixed = withPixels(emb.backbone, all.length, f, view.pixels, 16);
    const width = mixedDim(f, 16);
    const cosine = (a: number, b: number) => {
      let dot = 0;
      for (let j = 0; j < width; j++) dot += mixed[a * width + j] * mixed[b * width + j];
      return dot / 2; // each half is a unit vector
    };
    const at = new Map(all.map((image, i) => [image.id, i]));
    for (const i of [0, 7, 19, 20, 27]) {
      const list = trainer.neighboursOf(all[i].id)!;
      assert.ok(list.length > 0);
      for (const { id, similarity } of list) {
        assert.ok(
          Math.abs(similarity - cosine(i, at.get(id)!)) < 1e-3,
          `image ${i} to ${at.get(id)}: ${similarity} in the index, ${
            cosine(i, at.get(id)!)
          } mixed`,
        );
      }
    }
  } finally {
    worker?.dispose();
    await trainer.dispose();
    await Deno.remove(stateDir, { recursive: true });
  }
});

function viewOf(stored: StoredImage[]) {
  return {
    n: stored.length,
    size: 16,
    pixels: Uint8Array.from(stored.flatMap((image) => [...image.pixels])),
    ids: stored.map((image) => image.id),
    paths: stored.map((image) => image.path),
  };
}
