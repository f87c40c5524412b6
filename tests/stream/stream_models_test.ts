import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { PROJECTION_DIM } from "../../src/config.ts";
import { StreamModels } from "../../src/stream/stream_models.ts";
import { assertClose, assertNoTensorLeak, withTempDir } from "../_assert.ts";
import { randomDataset, tinyConfig } from "../_tiny_models.ts";

await initBackend("wasm");

const data = randomDataset(5, 1);

Deno.test("StreamModels.build - the same seed gives the same networks, another seed others", () => {
  const [a, b, c] = [
    StreamModels.build(tinyConfig()),
    StreamModels.build(tinyConfig()),
    StreamModels.build(tinyConfig({ seed: 99 })),
  ];
  assert.deepEqual(a.features(data), b.features(data));
  assert.deepEqual(a.logits(data), b.logits(data));
  assert.notDeepEqual(c.features(data), a.features(data));
  [a, b, c].forEach((m) => m.dispose());
});

Deno.test("StreamModels.build - refuses an unknown backbone preset, naming the known ones", () => {
  assert.throws(
    () => StreamModels.build({ ...tinyConfig(), backbone: "resnet-huge" }),
    /backbone must be one of .*resnet-tiny.*current value is resnet-huge/,
  );
});

Deno.test("StreamModels - features are unit rows of width 128, embeddings agree with them, no leak", async () => {
  const models = StreamModels.build(tinyConfig());
  const features = await assertNoTensorLeak("features", () => models.features(data));
  assert.equal(features.length, data.n * PROJECTION_DIM);
  for (let i = 0; i < data.n; i++) {
    assertClose(Math.hypot(...features.subarray(i * PROJECTION_DIM, (i + 1) * PROJECTION_DIM)), 1);
  }
  const embedded = await assertNoTensorLeak("embeddings", () => models.embeddings(data));
  features.forEach((v, k) => assertClose(embedded.projected[k], v, { atol: 1e-5 }));
  const later = await assertNoTensorLeak("embeddingsAsync", () => models.embeddingsAsync(data));
  assert.deepEqual(later, embedded);
  // A subset in another order: the rows of those images, in that order.
  const some = models.features(data, [3, 1]);
  assert.deepEqual(
    some.subarray(0, PROJECTION_DIM),
    features.subarray(3 * PROJECTION_DIM, 4 * PROJECTION_DIM),
  );
  models.dispose();
});

Deno.test("StreamModels - probabilities are the softmax of a head's logits, from images or from features", async () => {
  const models = StreamModels.build(tinyConfig());
  const clusters = 3;
  const logits = await assertNoTensorLeak("logits", () => models.logits(data));
  assert.equal(logits.length, 2, "one array per head");
  const p = await assertNoTensorLeak("probabilities", () => models.probabilities(data, 1));
  for (let i = 0; i < data.n; i++) {
    const row = logits[1].subarray(i * clusters, (i + 1) * clusters);
    const max = Math.max(...row);
    const z = row.reduce((sum, v) => sum + Math.exp(v - max), 0);
    for (let c = 0; c < clusters; c++) {
      assertClose(p[i * clusters + c], Math.exp(row[c] - max) / z, { atol: 1e-6 });
    }
  }
  const { backbone } = models.embeddings(data);
  const fromFeatures = await assertNoTensorLeak(
    "probabilitiesOf",
    () => models.probabilitiesOf(backbone, data.n, 1),
  );
  fromFeatures.forEach((v, k) => assertClose(v, p[k], { atol: 1e-5 }));
  const headLogits = models.headLogitsOf(backbone, data.n);
  headLogits[0].forEach((v, k) => assertClose(v, logits[0][k], { atol: 1e-4 }));
  models.dispose();
});

Deno.test("StreamModels - copyFrom and save/load reproduce every output", async () => {
  const source = StreamModels.build(tinyConfig({ seed: 5 }));
  const copy = StreamModels.build(tinyConfig({ seed: 6 }));
  copy.copyFrom(source);
  assert.deepEqual(copy.features(data), source.features(data));
  assert.deepEqual(copy.logits(data), source.logits(data));
  await withTempDir("scanstream_stream_models_", async (dir) => {
    await source.save(dir);
    const loaded = await StreamModels.load(dir);
    assert.deepEqual(loaded.features(data), source.features(data));
    assert.deepEqual(loaded.logits(data), source.logits(data));
    loaded.dispose();
  });
  const before = tf.memory().numTensors;
  copy.dispose();
  assert.ok(tf.memory().numTensors < before, "dispose freed nothing");
  source.dispose();
});
