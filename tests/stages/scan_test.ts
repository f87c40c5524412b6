import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { evaluateHeads, ScanTrainer } from "../../src/stages/scan.ts";
import { Random } from "../../src/util/random.ts";
import { assertClose, assertNoTensorLeak } from "../_assert.ts";
import { changed, disposeModel, randomImages, tinyClustering, weightsOf } from "../_tiny_models.ts";

await initBackend("wasm");

const OPTIONS = { learningRate: 1e-2, entropyWeight: 5, augment: true };

function features(model: ReturnType<typeof tinyClustering>, images: tf.Tensor4D): tf.Tensor2D {
  return model.backbone.apply(images, { training: false }) as tf.Tensor2D;
}

Deno.test("ScanTrainer - one step moves backbone and heads, with finite losses for every head", () => {
  const model = tinyClustering(3);
  const trainer = new ScanTrainer(model, OPTIONS, new Random(3));
  const backbone = weightsOf(model.backbone);
  const heads = weightsOf(model.heads);
  const [anchors, neighbours] = [randomImages(6, 3), randomImages(6, 4)];
  const losses = trainer.step(anchors, neighbours);
  assert.equal(losses.total.length, 2, "one loss per head");
  for (let h = 0; h < 2; h++) {
    assert.ok(losses.consistency[h] > 0 && Number.isFinite(losses.consistency[h]));
    // Entropy of a distribution over 3 clusters: in [0, log 3].
    assert.ok(losses.entropy[h] >= 0 && losses.entropy[h] <= Math.log(3) + 1e-6);
    assertClose(losses.total[h], losses.consistency[h] - 5 * losses.entropy[h]);
  }
  assert.ok(changed(backbone, weightsOf(model.backbone)), "the backbone did not move");
  assert.ok(changed(heads, weightsOf(model.heads)), "the heads did not move");
  tf.dispose([anchors, neighbours]);
  trainer.dispose();
  disposeModel(model);
});

Deno.test("ScanTrainer - the same seeds give the same losses and weights", () => {
  const run = (seed: number) => {
    const model = tinyClustering(seed);
    const trainer = new ScanTrainer(model, OPTIONS, new Random(seed));
    const [anchors, neighbours] = [randomImages(6, seed), randomImages(6, seed + 1)];
    const losses = trainer.step(anchors, neighbours);
    const after = [...weightsOf(model.backbone), ...weightsOf(model.heads)];
    tf.dispose([anchors, neighbours]);
    trainer.dispose();
    disposeModel(model);
    return { losses, after };
  };
  const [a, b] = [run(7), run(7)];
  assert.deepEqual(a.losses, b.losses);
  assert.ok(!changed(a.after, b.after), "weights differ between two seeded runs");
  assert.notDeepEqual(run(8).losses, a.losses);
});

Deno.test("ScanTrainer stepOnFeatures - trains the heads only, on frozen backbone features", () => {
  const model = tinyClustering(2);
  const trainer = new ScanTrainer(model, OPTIONS, new Random(2));
  const [a, n] = [randomImages(6, 2), randomImages(6, 3)];
  const [fa, fn] = [features(model, a), features(model, n)];
  const backbone = weightsOf(model.backbone);
  const heads = weightsOf(model.heads);
  const losses = trainer.stepOnFeatures(fa, fn);
  assert.ok(losses.total.every(Number.isFinite));
  assert.ok(!changed(backbone, weightsOf(model.backbone)), "the frozen backbone moved");
  assert.ok(changed(heads, weightsOf(model.heads)), "the heads did not move");
  tf.dispose([a, n, fa, fn]);
  trainer.dispose();
  disposeModel(model);
});

Deno.test("ScanTrainer - steps leave no tensor behind; dispose frees the optimiser", async () => {
  const model = tinyClustering(1);
  const [a, n] = [randomImages(4, 1), randomImages(4, 2)];
  const [fa, fn] = [features(model, a), features(model, n)];
  const before = tf.memory().numTensors;
  // One trainer per kind of step: Adam keeps its moments by position in the variable list, and a
  // head-only step updates another list (a run uses one kind throughout, by its config).
  const full = new ScanTrainer(model, OPTIONS, new Random(1));
  const headOnly = new ScanTrainer(model, OPTIONS, new Random(1));
  // The first steps create Adam's moments, which the trainers own until dispose.
  full.step(a, n);
  headOnly.stepOnFeatures(fa, fn);
  await assertNoTensorLeak("a SCAN step", () => {
    full.step(a, n);
  });
  await assertNoTensorLeak("a head-only SCAN step", () => {
    headOnly.stepOnFeatures(fa, fn);
  });
  full.dispose();
  headOnly.dispose();
  assert.equal(tf.memory().numTensors, before, "the trainers kept tensors after dispose");
  tf.dispose([a, n, fa, fn]);
  disposeModel(model);
});

Deno.test("evaluateHeads - the head whose neighbours agree has the lower loss", () => {
  // 4 images in 2 pairs of neighbours (K = 2, entry 0 is the image itself).
  const neighbours = new Int32Array([0, 1, 1, 0, 2, 3, 3, 2]);
  const confident = 8;
  // Head 0 puts each pair in its own cluster; head 1 splits every pair.
  const agree = new Float32Array([confident, 0, confident, 0, 0, confident, 0, confident]);
  const split = new Float32Array([confident, 0, 0, confident, confident, 0, 0, confident]);
  const losses = evaluateHeads([agree, split], 4, 2, neighbours, 2, 5);
  assert.ok(losses.consistency[0] < 0.01, `consistency ${losses.consistency[0]}`);
  assert.ok(losses.consistency[1] > 5, `consistency ${losses.consistency[1]}`);
  // Both use the two clusters equally: the entropy term is log 2 for both.
  assertClose(losses.entropy[0], Math.log(2));
  assertClose(losses.entropy[1], Math.log(2));
  assert.ok(losses.total[0] < losses.total[1]);
});
