import assert from "node:assert/strict";
import { neighbourAccuracy } from "../../src/mining/neighbour_accuracy.ts";

Deno.test("neighbourAccuracy() counts agreeing pairs without the anchor itself", () => {
  const labels = [0, 0, 1, 1];
  // Lists of k = 3, self first: image 0 has one agreeing neighbour out of two, and so on.
  const indices = Int32Array.from([0, 1, 2, 1, 0, 3, 2, 3, 1, 3, 2, 0]);
  // Pairs: (0,1) yes, (0,2) no, (1,0) yes, (1,3) no, (2,3) yes, (2,1) no, (3,2) yes, (3,0) no.
  assert.equal(neighbourAccuracy(indices, 3, labels), 0.5);
});

Deno.test("neighbourAccuracy() is 1 for pure lists and skips self wherever it sits", () => {
  const labels = [5, 5, 5, 7, 7, 7];
  const indices = [1, 0, 2, 1, 0, 2, 2, 0, 1, 4, 3, 5, 5, 4, 3, 3, 5, 4];
  assert.equal(neighbourAccuracy(indices, 3, labels), 1);
});

Deno.test("neighbourAccuracy() rejects malformed lists", () => {
  assert.throws(() => neighbourAccuracy([0, 1, 1], 2, [0, 1]), /expected 2 lists of k = 2/);
  assert.throws(() => neighbourAccuracy([0, 5, 1, 0], 2, [0, 1]), /indices must be in \[0, 2\)/);
  assert.throws(() => neighbourAccuracy([0, 1], 1, [0, 1]), /no list holds an image other/);
});
