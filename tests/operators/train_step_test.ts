import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { from, lastValueFrom, toArray } from "rxjs";
import { initBackend } from "../../src/backend/backend.ts";
import { featurePairStep, pairStep, trainStep } from "../../src/operators/train_step.ts";
import { PretextTrainer } from "../../src/stages/pretext.ts";
import { Random } from "../../src/util/random.ts";
import {
  changed,
  disposeModel,
  randomBatch,
  TINY_SIZE,
  tinyContrastive,
  weightsOf,
} from "../_tiny_models.ts";

await initBackend("wasm");

Deno.test("trainStep() - one step per batch, on the batch's pixels in [0, 1], the tensor disposed after", async () => {
  const seen: { shape: number[]; max: number; min: number; first: number }[] = [];
  const trainer = {
    step(images: tf.Tensor4D) {
      const values = images.dataSync();
      seen.push({
        shape: images.shape,
        max: Math.max(...values),
        min: Math.min(...values),
        first: values[0],
      });
      return seen.length;
    },
  };
  const batches = [randomBatch(3, 1), randomBatch(2, 2)];
  const before = tf.memory().numTensors;
  const results = await lastValueFrom(from(batches).pipe(trainStep(trainer), toArray()));
  assert.equal(tf.memory().numTensors, before, "the batch tensors were not disposed");
  assert.deepEqual(results, [1, 2]);
  assert.deepEqual(seen.map((s) => s.shape), [[3, TINY_SIZE, TINY_SIZE, 3], [
    2,
    TINY_SIZE,
    TINY_SIZE,
    3,
  ]]);
  assert.ok(seen.every((s) => s.min >= 0 && s.max <= 1));
  assert.ok(Math.abs(seen[0].first - batches[0].data[0] / 255) < 1e-6);
});

Deno.test("trainStep() - a failing step disposes its batch tensor and errors the stream", async () => {
  const trainer = {
    step(): number {
      throw new Error("step failed");
    },
  };
  const before = tf.memory().numTensors;
  await assert.rejects(
    lastValueFrom(from([randomBatch(2)]).pipe(trainStep(trainer))),
    /step failed/,
  );
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("trainStep() - with the pretext trainer: weights move, the loss is finite, no leak", async () => {
  const model = tinyContrastive(4);
  const trainer = new PretextTrainer(
    model,
    { learningRate: 1e-2, temperature: 0.1 },
    new Random(4),
  );
  const before = weightsOf(model.backbone);
  // Warm up Adam's moments (owned by the trainer), then count.
  await lastValueFrom(from([randomBatch(4, 1)]).pipe(trainStep(trainer)));
  const tensors = tf.memory().numTensors;
  const losses = await lastValueFrom(
    from([randomBatch(4, 2), randomBatch(4, 3)]).pipe(trainStep(trainer), toArray()),
  );
  assert.equal(tf.memory().numTensors, tensors, "tensors leaked by the steps");
  assert.ok(losses.every((l) => Number.isFinite(l) && l > 0), `losses ${losses}`);
  assert.ok(changed(before, weightsOf(model.backbone)));
  trainer.dispose();
  disposeModel(model);
});

Deno.test("pairStep() and featurePairStep() - both tensors of a pair reach the step and are disposed", async () => {
  const shapes: number[][] = [];
  const trainer = {
    step(a: tf.Tensor4D, n: tf.Tensor4D) {
      shapes.push(a.shape, n.shape);
      return "pair";
    },
    stepOnFeatures(a: tf.Tensor2D, n: tf.Tensor2D) {
      shapes.push(a.shape, n.shape);
      assert.deepEqual([...a.dataSync()], [1, 2, 3, 4, 5, 6]);
      assert.deepEqual([...n.dataSync()], [6, 5, 4, 3, 2, 1]);
      return "features";
    },
  };
  const before = tf.memory().numTensors;
  const pair = await lastValueFrom(
    from([{ anchors: randomBatch(2, 1), neighbours: randomBatch(2, 2) }]).pipe(pairStep(trainer)),
  );
  const features = await lastValueFrom(
    from([{
      anchors: new Float32Array([1, 2, 3, 4, 5, 6]),
      neighbours: new Float32Array([6, 5, 4, 3, 2, 1]),
      shape: [2, 3] as const,
    }]).pipe(featurePairStep(trainer)),
  );
  assert.equal(tf.memory().numTensors, before, "pair tensors were not disposed");
  assert.deepEqual([pair, features], ["pair", "features"]);
  assert.deepEqual(shapes, [
    [2, TINY_SIZE, TINY_SIZE, 3],
    [2, TINY_SIZE, TINY_SIZE, 3],
    [2, 3],
    [2, 3],
  ]);
});
