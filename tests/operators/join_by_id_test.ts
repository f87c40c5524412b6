/** The join of images and features waits bounded (finding 13). */
import assert from "node:assert/strict";
import { JoinById } from "../../src/operators/join_by_id.ts";

Deno.test("JoinById pairs by id, expires old entries and evicts past the limit", () => {
  let now = 0;
  const join = new JoinById<string, number>({ limit: 2, maxWaitMs: 1000, now: () => now });
  assert.equal(join.left("a", "image a"), undefined);
  assert.equal(join.right("a", 1), "image a");
  assert.deepEqual(join.waiting, { left: 0, right: 0 });
  join.left("b", "image b");
  now = 500;
  join.left("c", "image c");
  join.left("d", "image d");
  assert.deepEqual(join.expire().map((d) => [d.side, d.id, d.why]), [["left", "b", "evicted"]]);
  now = 1600;
  assert.deepEqual(join.expire().map((d) => [d.id, d.why, d.waitedMs]), [
    ["c", "expired", 1100],
    ["d", "expired", 1100],
  ]);
  assert.deepEqual(join.waiting, { left: 0, right: 0 });
  join.right("e", 1);
  assert.equal(join.right("e", 0, (known) => known < 0), undefined);
  assert.equal(join.left("e", "image e"), 1, "an older feature does not replace a newer one");
});
