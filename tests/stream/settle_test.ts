import assert from "node:assert/strict";
import { settle } from "../../src/stream/trainer.ts";

Deno.test("settle() keeps a published cluster unless the new one is clearly more probable", () => {
  // Three images, two clusters; the head's cluster 0 is stable cluster 1 and vice versa.
  const permutation = [1, 0];
  const probabilities = Float32Array.from([
    0.52,
    0.48, // image 0: argmax head 0 (stable 1), a near-tie with its published stable 0
    0.9,
    0.1, //   image 1: argmax head 0 (stable 1), clearly
    0.3,
    0.7, //   image 2: argmax head 1 (stable 0), never published
  ]);
  const stable = Int32Array.from([1, 1, 0]);
  const confidence = Float32Array.from([0.52, 0.9, 0.7]);
  const previous = Int32Array.from([0, 0, -1]);
  settle(stable, confidence, previous, probabilities, permutation, 0.1);
  assert.deepEqual([...stable], [0, 1, 0], "the near-tie stays, the clear move moves");
  assert.ok(
    Math.abs(confidence[0] - 0.48) < 1e-6,
    "a kept image has its kept cluster's confidence",
  );
  assert.ok(Math.abs(confidence[1] - 0.9) < 1e-6);
  // With no margin every change of the argmax moves.
  const again = Int32Array.from([1, 1, 0]);
  settle(again, Float32Array.from([0.52, 0.9, 0.7]), previous, probabilities, permutation, 0);
  assert.deepEqual([...again], [1, 1, 0]);
});
