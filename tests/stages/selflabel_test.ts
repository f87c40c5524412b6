import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { buildClusteringHead } from "../../src/models/clustering_head.ts";
import { BACKBONES, buildBackbone } from "../../src/models/resnet.ts";
import { SelfLabelTrainer } from "../../src/stages/selflabel.ts";
import { Random } from "../../src/util/random.ts";
import { changed, weightsOf } from "../_tiny_models.ts";

await initBackend("wasm");

function tinyModel() {
  const backbone = buildBackbone({ ...BACKBONES["resnet-tiny"], inputSize: 8 }, 1);
  const dim = backbone.outputs[0].shape[1] as number;
  return { backbone, heads: buildClusteringHead(dim, 3, 2, 2) };
}

Deno.test("SelfLabelTrainer headOnly - trains the kept head, leaves the backbone, reports what it accepted", () => {
  const model = tinyModel();
  const rng = new Random(4);
  const images = tf.tensor4d(Float32Array.from({ length: 16 * 8 * 8 * 3 }, () => rng.next()), [
    16,
    8,
    8,
    3,
  ]);
  // A threshold a 3-cluster head at initialisation passes for some images, not for all.
  const trainer = new SelfLabelTrainer(
    model,
    { learningRate: 1e-2, threshold: 0.34, head: 1, headOnly: true },
    new Random(1),
  );
  const backbone = weightsOf(model.backbone);
  const heads = weightsOf(model.heads);
  const result = trainer.step(images);
  // The first step creates Adam's moments; a second one must leave no tensor behind.
  const tensors = tf.memory().numTensors;
  trainer.step(images);
  assert.equal(tf.memory().numTensors, tensors, "tensors leaked by a step");
  assert.ok(result.confident > 0, "no image passed the threshold");
  assert.equal(result.accepted.length, result.confident);
  for (const label of result.accepted) {
    assert.ok(label.row >= 0 && label.row < 16);
    assert.ok(label.cluster >= 0 && label.cluster < 3);
    assert.ok(label.confidence > 0.34 && label.confidence <= 1);
  }
  assert.ok(!changed(backbone, weightsOf(model.backbone)), "the frozen backbone moved");
  assert.ok(changed(heads, weightsOf(model.heads)), "the head did not move");
  trainer.dispose();
  images.dispose();
  model.backbone.dispose();
  model.heads.dispose();
});

Deno.test("SelfLabelTrainer - nothing passes a threshold near 1 at initialisation: no update, no labels", () => {
  const model = tinyModel();
  const images = tf.zeros([4, 8, 8, 3]) as tf.Tensor4D;
  const trainer = new SelfLabelTrainer(
    model,
    { learningRate: 1e-2, threshold: 0.999, head: 0 },
    new Random(1),
  );
  const result = trainer.step(images);
  assert.deepEqual(result, { loss: 0, confident: 0, accepted: [] });
  trainer.dispose();
  images.dispose();
  model.backbone.dispose();
  model.heads.dispose();
});
