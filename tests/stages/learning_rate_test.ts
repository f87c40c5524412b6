import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/backend.ts";
import { setLearningRate } from "../../src/stages/learning_rate.ts";

await initBackend("wasm");

Deno.test("setLearningRate() gives a tfjs Adam the step of one made with that rate", () => {
  const before = tf.memory().numTensors;
  const step = (optimizer: tf.Optimizer) => {
    const w = tf.tidy(() => tf.variable(tf.tensor1d([1, -2, 3])));
    optimizer.minimize(() => tf.sum(tf.mul(w, tf.tensor1d([0.5, 1, -2]))) as tf.Scalar, false, [w]);
    const value = w.dataSync().slice();
    w.dispose();
    optimizer.dispose();
    return value;
  };
  const set = tf.train.adam(0.1);
  setLearningRate(set, 0.01);
  assert.deepEqual(step(set), step(tf.train.adam(0.01)));
  assert.notDeepEqual(step(tf.train.adam(0.1)), step(tf.train.adam(0.01)));
  const adam = tf.train.adam(0.1);
  assert.throws(() => setLearningRate(adam, -1), /must be a positive number/);
  adam.dispose();
  assert.equal(tf.memory().numTensors, before);
});
