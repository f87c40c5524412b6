import assert, { deepEqual } from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/backend.ts";
import { makeConfig, type ScanConfig } from "../../src/config.ts";
import type { ImageBatch } from "../../src/data/dataset.ts";
import { batchToTensor } from "../../src/data/dataset.ts";
import { ntXentLoss } from "../../src/losses/nt_xent.ts";
import { type NetworkWeights, readWeights } from "../../src/parallel/network_weights.ts";
import { split, TrainingPool } from "../../src/parallel/training_pool.ts";
import { projectFeatures, trainableVariables } from "../../src/stages/models.ts";
import { StreamModels } from "../../src/stream/stream_models.ts";
import { concatFloat32 } from "../../src/util/concat.ts";
import { Random } from "../../src/util/random.ts";

function tinyConfig(): ScanConfig {
  return makeConfig(
    "fixtures",
    {
      backbone: "resnet-tiny",
      inputSize: 8,
      clusters: 3,
      heads: 1,
      seed: 3,
    } as Parameters<typeof makeConfig>[1],
  );
}

function randomBatch(count: number, size: number, seed: number): ImageBatch {
  const rng = new Random(seed);
  const data = new Uint8Array(count * size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { ids: [], data, shape: [count, size, size, 3] };
}

function maxDifference(a: NetworkWeights, b: NetworkWeights): number {
  let worst = 0;
  for (const name of ["backbone", "projection", "heads"] as const) {
    a[name].forEach((w, i) => {
      for (let j = 0; j < w.length; j++) {
        const scale = Math.max(1, Math.abs(w[j]));
        worst = Math.max(worst, Math.abs(w[j] - b[name][i][j]) / scale);
      }
    });
  }
  return worst;
}

const STEP = { learningRate: 1e-2, temperature: 0.5, seed: 1, augment: false } as const;

Deno.test("training pool: one SimCLR step on 1 and on 2 workers gives the same gradient and weights", async () => {
  await initBackend("wasm");
  const config = tinyConfig();
  const models = StreamModels.build(config);
  const start = readWeights(models);
  models.dispose();
  const batch = randomBatch(10, config.inputSize, 7);
  const after: NetworkWeights[] = [];
  const gradients: Float32Array[] = [];
  const losses: number[] = [];
  for (const threads of [1, 2]) {
    const pool = await TrainingPool.open({ threads, backend: "wasm", config, weights: start });
    try {
      gradients.push((await pool.pretextStep(batch, { ...STEP, gradientOnly: true })).gradient!);
      const step = await pool.pretextStep(batch, STEP);
      losses.push(step.loss);
      // Each worker says how long it waited for its peers: nothing to wait for alone.
      assert.equal(step.waitMs.length, threads);
      for (const ms of step.waitMs) assert.ok(ms >= 0 && ms <= step.workerMs, `${step.waitMs}`);
      if (threads === 1) assert.deepEqual(step.waitMs, [0]);
      after.push(await pool.weights());
      losses.push((await pool.pretextStep(batch, STEP)).loss);
    } finally {
      await pool.close();
    }
  }
  assert(Math.abs(losses[0] - losses[2]) < 1e-5, `first losses ${losses[0]} vs ${losses[2]}`);
  // After one Adam step (see below): the same loss to float32 rounding, relative.
  assert(
    Math.abs(losses[1] - losses[3]) < 1e-5 * losses[1],
    `second losses ${losses[1]} vs ${losses[3]}`,
  );
  assert(losses[1] < losses[0], `the loss should fall on the same batch: ${losses}`);
  // The summed gradient: float32 rounding only (the two sums add in different orders).
  const gradientError = relativeDistance(gradients[0], gradients[1]);
  assert(gradientError < 1e-5, `gradients differ by ${gradientError} (relative L2)`);
  // The weights: Adam's first step is lr * g / (|g| + 1e-7), which turns the rounding error of
  // a near-zero gradient into a visible difference for a few weights (gradients of 1e-8 against
  // a largest of 0.5: weights whose gradient is zero but for rounding, such as some batch-norm
  // shifts), so the difference of the weights is held to 2e-3 of the update.
  const update = relativeDistance(flat(start), flat(after[0]));
  const weightError = relativeDistance(flat(after[0]), flat(after[1]));
  assert(update > 1e-3, "the step changed no weight");
  assert(weightError < 2e-3 * update, `weights differ by ${weightError}, the update is ${update}`);
});

/** ||a - b|| / ||a||. */
function relativeDistance(a: Float32Array, b: Float32Array): number {
  let diff = 0, norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += a[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

function flat(w: NetworkWeights): Float32Array {
  return concatFloat32([...w.backbone, ...w.projection, ...w.heads]);
}

Deno.test("training pool: one worker's step equals tfjs-layers batch norm and tf.train.adam", async () => {
  await initBackend("wasm");
  const config = tinyConfig();
  const models = StreamModels.build(config);
  const start = readWeights(models);
  const batch = randomBatch(6, config.inputSize, 9);
  const before = tf.memory().numTensors;
  // The reference: the layers' own batch norm (training mode) and tfjs' Adam, on the same views.
  const optimizer = tf.train.adam(STEP.learningRate);
  const views = tf.tidy(() => {
    const images = batchToTensor(batch);
    return tf.concat([images, tf.reverse(images, 2)]);
  });
  const cost = optimizer.minimize(
    () => {
      const z = projectFeatures(models.contrastive, views as tf.Tensor4D, true);
      const b = batch.shape[0];
      const pairs = tf.stack([tf.slice(z, [0, 0], [b, -1]), tf.slice(z, [b, 0], [b, -1])], 1);
      return ntXentLoss(pairs as tf.Tensor3D, STEP.temperature);
    },
    true,
    trainableVariables(models.backbone, models.projection),
  )!;
  const referenceLoss = cost.dataSync()[0];
  tf.dispose([cost, views]);
  optimizer.dispose();
  const reference = readWeights(models);
  models.dispose();
  assert.equal(tf.memory().numTensors, before - countWeights(start), "reference step leaked");

  const pool = await TrainingPool.open({ threads: 1, backend: "wasm", config, weights: start });
  try {
    const { loss } = await pool.pretextStep(batch, STEP);
    assert(Math.abs(loss - referenceLoss) < 1e-4, `loss ${loss} vs reference ${referenceLoss}`);
    const difference = maxDifference(reference, await pool.weights());
    assert(difference < 1e-4, `weights differ from the reference by ${difference}`);
  } finally {
    await pool.close();
  }
});

function countWeights(w: NetworkWeights): number {
  return w.backbone.length + w.projection.length + w.heads.length;
}

Deno.test("training pool: embeddings on 2 workers equal the networks' own", async () => {
  await initBackend("wasm");
  const config = tinyConfig();
  const models = StreamModels.build(config);
  const batch = randomBatch(9, config.inputSize, 11);
  const dataset = { n: 9, size: config.inputSize, pixels: batch.data, ids: [], paths: [] };
  const expected = models.embeddings(dataset);
  const pool = await TrainingPool.open({
    threads: 2,
    backend: "wasm",
    config,
    weights: readWeights(models),
  });
  models.dispose();
  try {
    const got = await pool.embed(batch);
    deepEqual(got.backbone.length, expected.backbone.length);
    for (let i = 0; i < got.projected.length; i++) {
      assert(Math.abs(got.projected[i] - expected.projected[i]) < 1e-5, `row value ${i}`);
    }
  } finally {
    await pool.close();
  }
});

Deno.test("split: whole images, sizes differing by at most one, in order", () => {
  const batch = randomBatch(5, 2, 1);
  const shards = split(batch, 2);
  deepEqual(shards.map((s) => s.count), [3, 2]);
  deepEqual(
    [...shards[0].pixels, ...shards[1].pixels],
    [...batch.data],
  );
  assert.throws(() => split(batch, 6), /at least one/);
});

Deno.test("training pool: networks left out keep their seeded initialisation, on 2 workers too", async () => {
  await initBackend("wasm");
  const config = tinyConfig();
  const pool = await TrainingPool.open({ threads: 2, backend: "wasm", config, weights: {} });
  try {
    const { loss } = await pool.pretextStep(randomBatch(6, config.inputSize, 5), STEP);
    assert.ok(Number.isFinite(loss));
    const models = StreamModels.build(config);
    const seeded = readWeights(models);
    models.dispose();
    const weights = await pool.weights();
    assert.deepEqual(
      weights.heads,
      seeded.heads,
      "the heads were not trained: still the seeded ones",
    );
  } finally {
    await pool.close();
  }
});
