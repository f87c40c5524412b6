import assert from "node:assert/strict";
import { HandedSequences } from "../../src/transport/handed_sequences.ts";

Deno.test("HandedSequences tells a redelivered sequence from a new one", () => {
  const handed = new HandedSequences();
  assert.equal(handed.check(1), false);
  assert.equal(handed.check(2), false);
  assert.equal(handed.check(1), true);
  // A sequence this process never handed on (another queue member held it) is new.
  assert.equal(handed.check(7), false);
  assert.equal(handed.check(7), true);
});

Deno.test("HandedSequences forgets the oldest past its capacity", () => {
  const handed = new HandedSequences(3);
  for (const seq of [10, 11, 12, 13]) assert.equal(handed.check(seq), false);
  assert.equal(handed.size, 3);
  assert.equal(handed.check(13), true);
  assert.equal(handed.check(11), true);
  assert.equal(handed.check(10), false, "10 was forgotten when 13 came");
  assert.throws(() => new HandedSequences(0), /capacity must be a positive integer/);
});
