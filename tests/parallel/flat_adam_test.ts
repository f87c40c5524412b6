import assert from "node:assert/strict";
import { FlatAdam } from "../../src/parallel/flat_adam.ts";

Deno.test("FlatAdam - a new learning rate scales the next step and keeps the moments", () => {
  const gradients = [Float32Array.from([0.5, -1, 2]), Float32Array.from([0.25, 1, -3])];
  const full = new FlatAdam(3, { learningRate: 0.1 });
  const cooled = new FlatAdam(3, { learningRate: 0.1 });
  const a = Float32Array.from([1, 2, 3]);
  const b = Float32Array.from([1, 2, 3]);
  full.step(a, gradients[0]);
  cooled.step(b, gradients[0]);
  assert.deepEqual(a, b);
  const before = Float32Array.from(a);
  cooled.learningRate = 0.025;
  assert.equal(cooled.learningRate, 0.025);
  full.step(a, gradients[1]);
  cooled.step(b, gradients[1]);
  // Same moments, a quarter of the step: a restart of the moments would give another ratio.
  for (let i = 0; i < 3; i++) {
    const ratio = (b[i] - before[i]) / (a[i] - before[i]);
    assert.ok(Math.abs(ratio - 0.25) < 1e-4, `parameter ${i}: ratio ${ratio}`);
  }
  assert.throws(() => (cooled.learningRate = 0), /learningRate must be > 0, current value is 0/);
  assert.throws(() => new FlatAdam(3, { learningRate: NaN }), /Cannot make Adam/);
});
