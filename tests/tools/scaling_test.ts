import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { median } from "../../src/util/median.ts";
import { scaling } from "../../tools/_scaling.ts";

Deno.test("median() - odd and even counts", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

Deno.test("bench --scaling: one round times N = 1, N = 2 and two independent shards, with the wait", async () => {
  await initBackend("wasm");
  const rounds: unknown[] = [];
  const run = await scaling({
    backbone: "resnet-tiny",
    backend: "wasm",
    inputSize: 16,
    batch: 8,
    threads: 2,
    rounds: 1,
    iters: 1,
    onRound: (r) => rounds.push(r),
  });
  assert.equal(run.rounds.length, 1);
  assert.deepEqual(rounds, run.rounds);
  const [r] = run.rounds;
  for (const ms of [r.oneMs, r.manyMs, r.independentMs]) assert.ok(ms > 0, JSON.stringify(r));
  assert.ok(r.waitMs >= 0 && r.waitMs < r.manyMs, JSON.stringify(r));
  assert.equal(run.median.speedup, r.speedup);
  await assert.rejects(
    () => scaling({ ...run, backbone: "resnet-tiny", backend: "wasm", threads: 3, rounds: 1 }),
    /needs at least 2 threads dividing the batch/,
  );
});
