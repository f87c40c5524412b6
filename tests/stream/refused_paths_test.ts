/** The refused-path set of the saved state is bounded (finding 13). */
import assert from "node:assert/strict";
import { RefusedPaths } from "../../src/stream/refused_paths.ts";

Deno.test("RefusedPaths keeps the newest `limit` paths", () => {
  const paths = new RefusedPaths(["a", "b"], 3);
  for (let i = 0; i < 1000; i++) paths.add(`bad-${i}.png`);
  assert.equal(paths.size, 3);
  assert.deepEqual([...paths], ["bad-997.png", "bad-998.png", "bad-999.png"]);
  assert.ok(!paths.has("a"));
  paths.add("bad-997.png");
  assert.deepEqual([...paths], ["bad-998.png", "bad-999.png", "bad-997.png"]);
  assert.throws(() => new RefusedPaths([], 0), /limit must be a positive integer/);
});
