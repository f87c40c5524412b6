import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { PretextTrainer } from "../../src/stages/pretext.ts";
import { Random } from "../../src/util/random.ts";
import { assertNoTensorLeak } from "../_assert.ts";
import {
  changed,
  disposeModel,
  randomImages,
  tinyContrastive,
  weightsOf,
} from "../_tiny_models.ts";

await initBackend("wasm");

const OPTIONS = { learningRate: 1e-2, temperature: 0.1 };

/** A fresh seeded model and trainer, the loss of one step on seeded images, the weights after. */
function oneStep(seed: number) {
  const model = tinyContrastive(seed);
  const trainer = new PretextTrainer(model, OPTIONS, new Random(seed));
  const images = randomImages(6, seed);
  const loss = trainer.step(images);
  const after = [...weightsOf(model.backbone), ...weightsOf(model.projection)];
  images.dispose();
  trainer.dispose();
  disposeModel(model);
  return { loss, after };
}

Deno.test("PretextTrainer - one step moves the backbone and the projection head, with a finite NT-Xent", () => {
  const model = tinyContrastive(3);
  const trainer = new PretextTrainer(model, OPTIONS, new Random(3));
  const backbone = weightsOf(model.backbone);
  const projection = weightsOf(model.projection);
  const images = randomImages(6, 3);
  const loss = trainer.step(images);
  // NT-Xent over 2B = 12 views: each row is a softmax over 11 others, so the loss is in (0, ~log 11]
  // at initialisation, and certainly finite and positive.
  assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
  assert.ok(changed(backbone, weightsOf(model.backbone)), "the backbone did not move");
  assert.ok(changed(projection, weightsOf(model.projection)), "the projection head did not move");
  images.dispose();
  trainer.dispose();
  disposeModel(model);
});

Deno.test("PretextTrainer - the same seeds give the same loss and the same weights", () => {
  const a = oneStep(5);
  const b = oneStep(5);
  assert.equal(a.loss, b.loss);
  assert.ok(!changed(a.after, b.after), "weights differ between two seeded runs");
  const c = oneStep(6);
  assert.notEqual(c.loss, a.loss);
});

Deno.test("PretextTrainer - a step leaves no tensor behind; dispose frees the optimiser", async () => {
  const model = tinyContrastive(2);
  const images = randomImages(4, 2);
  const before = tf.memory().numTensors;
  const trainer = new PretextTrainer(model, OPTIONS, new Random(2));
  // The first step creates Adam's moments, which the trainer owns until dispose.
  trainer.step(images);
  await assertNoTensorLeak("a pretext step", () => {
    trainer.step(images);
  });
  trainer.dispose();
  assert.equal(tf.memory().numTensors, before, "the trainer kept tensors after dispose");
  images.dispose();
  disposeModel(model);
});

Deno.test("PretextTrainer - refuses a batch of one image, which has no negatives", () => {
  const model = tinyContrastive(1);
  const trainer = new PretextTrainer(model, OPTIONS, new Random(1));
  const images = randomImages(1, 1);
  const before = tf.memory().numTensors;
  assert.throws(() => trainer.step(images), /at least 2 images, current value is 1/);
  assert.equal(tf.memory().numTensors, before);
  images.dispose();
  trainer.dispose();
  disposeModel(model);
});
