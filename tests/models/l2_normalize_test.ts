import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { L2Normalize, registerL2Normalize } from "../../src/models/l2_normalize.ts";

await initBackend("wasm");

Deno.test("L2Normalize divides each row by its norm", () => {
  const before = tf.memory().numTensors;
  const out = tf.tidy(() =>
    (new L2Normalize().apply(tf.tensor2d([[3, 4], [-1, 0], [0.5, 0.5]])) as tf.Tensor).arraySync()
  ) as number[][];
  const s = Math.SQRT1_2;
  [[0.6, 0.8], [-1, 0], [s, s]].forEach((row, i) =>
    row.forEach((v, j) => assert.ok(Math.abs(out[i][j] - v) < 1e-6, `${out[i]}`))
  );
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("L2Normalize keeps a zero row at zero with a finite gradient", () => {
  const layer = new L2Normalize();
  tf.tidy(() => {
    const x = tf.tensor2d([[0, 0, 0], [1e-30, 0, 0], [1, 2, 2]]);
    const out = (layer.apply(x) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(out.slice(0, 3)), [0, 0, 0]);
    const grad = tf.grad((input: tf.Tensor) =>
      tf.sum(tf.mul(layer.apply(input) as tf.Tensor, tf.tensor1d([1, -2, 3])))
    )(x);
    assert.ok(grad.dataSync().every(Number.isFinite));
  });
});

Deno.test("L2Normalize has an analytic gradient: (I - y yT) g / ||x||", () => {
  tf.tidy(() => {
    const x = tf.tensor2d([[1, 2, 2]]);
    const g = tf.tensor1d([1, -2, 3]);
    const grad = tf.grad((input: tf.Tensor) =>
      tf.sum(tf.mul(new L2Normalize().apply(input) as tf.Tensor, g))
    )(x).dataSync();
    const y = [1 / 3, 2 / 3, 2 / 3];
    const yg = y[0] * 1 + y[1] * -2 + y[2] * 3;
    const expected = [1, -2, 3].map((gi, i) => (gi - y[i] * yg) / 3);
    expected.forEach((v, i) => assert.ok(Math.abs(grad[i] - v) < 1e-6, `${grad} vs ${expected}`));
  });
});

Deno.test("L2Normalize round-trips through its config and the class registry", () => {
  registerL2Normalize();
  registerL2Normalize();
  const input = tfl.input({ shape: [2] });
  const model = tfl.model({
    inputs: input,
    outputs: new L2Normalize({ epsilon: 1e-6, name: "unit" }).apply(input) as tfl.SymbolicTensor,
  });
  const restored = tfl.models.modelFromJSON({ modelTopology: model.toJSON(null, false) });
  return restored.then((copy) => {
    const layer = copy.getLayer("unit");
    assert.ok(layer instanceof L2Normalize);
    assert.equal(layer.epsilon, 1e-6);
    model.dispose();
    copy.dispose();
  });
});

Deno.test("L2Normalize rejects a non-positive epsilon", () => {
  assert.throws(() => new L2Normalize({ epsilon: 0 }), RangeError);
});
