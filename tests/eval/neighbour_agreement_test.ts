import assert from "node:assert/strict";
import { neighbourAgreement } from "../../src/eval/neighbour_agreement.ts";

Deno.test("neighbourAgreement() counts image-neighbour pairs in one cluster, self excluded", () => {
  // Four images, K = 2, each list starting with the image itself.
  const indices = Int32Array.from([0, 1, 1, 0, 2, 3, 3, 1]);
  // Pairs: 0-1 same, 1-0 same, 2-3 different, 3-1 same.
  assert.equal(neighbourAgreement([0, 0, 1, 0], indices, 2), 3 / 4);
  assert.equal(neighbourAgreement([0, 0, 0, 0], indices, 2), 1);
  assert.equal(neighbourAgreement([0, 1, 2, 3], indices, 2), 0);
  // Lists holding only the image itself give no pair.
  assert.ok(Number.isNaN(neighbourAgreement([0, 1], Int32Array.from([0, 1]), 1)));
});

Deno.test("neighbourAgreement() refuses lists that do not fit the clusters", () => {
  assert.throws(
    () => neighbourAgreement([0, 1], Int32Array.from([0, 1, 1]), 2),
    /neighbour agreement: expected 2 lists of k = 2 indices, current length is 3/,
  );
  assert.throws(
    () => neighbourAgreement([0, 1], Int32Array.from([0, 5, 1, 0]), 2),
    /neighbour agreement: indices must be in \[0, 2\), current value in the list of 0 is 5/,
  );
});
