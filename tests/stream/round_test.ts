import assert from "node:assert/strict";
import { refreshedHead } from "../../src/stream/round.ts";
import { coolingScale, MIN_COOLING_SCALE } from "../../src/stream/round_config.ts";

Deno.test("refreshedHead() - every `every` SCAN rounds, the heads other than the kept one in turn", () => {
  const picks = Array.from({ length: 12 }, (_, i) => refreshedHead(3, i + 1, 4, 2));
  // Rounds 3, 6, 9, 12: heads 3, 0, 1, then 3 again; never the kept head 2.
  assert.deepEqual(picks, [null, null, 3, null, null, 0, null, null, 1, null, null, 3]);
  // Whichever head is kept, it is never the one refreshed.
  for (let kept = 0; kept < 5; kept++) {
    for (let r = 1; r <= 40; r++) assert.notEqual(refreshedHead(2, r, 5, kept), kept);
  }
});

Deno.test("refreshedHead() - none when turned off, with a single head, or before any SCAN round", () => {
  assert.equal(refreshedHead(0, 3, 5, 0), null);
  assert.equal(refreshedHead(3, 3, 1, 0), null);
  assert.equal(refreshedHead(3, 0, 5, 0), null);
});

Deno.test("coolingScale() halves the rates every coolingSeconds without a new image; 0 never cools", () => {
  assert.equal(coolingScale(0, 20), 1);
  assert.equal(coolingScale(20, 20), 0.5);
  assert.equal(coolingScale(60, 20), 0.125);
  assert.ok(Math.abs(coolingScale(10, 20) - Math.SQRT1_2) < 1e-12);
  assert.equal(coolingScale(100, 0), 1);
  assert.equal(coolingScale(1e6, 20), MIN_COOLING_SCALE, "never 0: a rate must stay positive");
});
