import assert from "node:assert/strict";
import { deadlineHook } from "../../pipelines/offline.ts";
import type { BudgetPlan } from "../../src/run/budget_plan.ts";

const plan: BudgetPlan = {
  minutes: 1,
  timings: {
    pretextStep: 1,
    scanStep: 0.1,
    selflabelStep: 1,
    embedImage: 0.001,
    checkpoint: 0,
    poolOpen: 1,
    measuring: 1,
  },
  pretext: { epochs: 5, seconds: 40, fixed: false },
  mining: { seconds: 1 },
  scan: { epochs: 10, seconds: 5, fixed: false },
  selflabel: { epochs: 1, seconds: 4, fixed: false },
  overheadSeconds: 2,
};

Deno.test("deadlineHook() stops a stage whose next epoch would pass its deadline, and records it", async () => {
  const recorded: unknown[] = [];
  // 30 s left: the pretext task must leave 1 + 5 + 4 + 2 = 12 s to the later stages.
  const hook = deadlineHook(plan, {}, performance.now() + 30_000, (cut) => {
    recorded.push(cut);
    return Promise.resolve();
  })!;
  assert.equal(await hook.proceed("pretext", 1, 8), true, "8 s fits in 18");
  assert.equal(await hook.proceed("pretext", 2, 20), false, "20 s does not");
  assert.deepEqual(recorded, [{ pretext: 2 }]);
  // SCAN keeps back self-labelling's 4 s and half the overhead.
  assert.equal(await hook.proceed("scan", 3, 1), true);
  assert.equal(await hook.proceed("scan", 4, 26), false);
  assert.deepEqual(recorded.at(-1), { pretext: 2, scan: 4 });
});

Deno.test("deadlineHook() never stops a stage whose epochs came from a flag", async () => {
  const hook = deadlineHook(plan, { pretext: 5 }, performance.now() - 1000, () => {
    throw new Error("nothing to record");
  })!;
  assert.equal(await hook.proceed("pretext", 1, 100), true);
  await assert.rejects(hook.proceed("scan", 1, 100), /nothing to record/);
});
