import assert from "node:assert/strict";
import { deadlineHook } from "../../pipelines/offline.ts";
import { type BudgetPlan, MAX_EPOCHS } from "../../src/run/budget_plan.ts";

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

Deno.test("deadlineHook() lets a stage ahead of its deadline go on an epoch at a time, and records it", async () => {
  const recorded: Partial<Record<string, number>>[] = [];
  // 30 s left: the pretext task keeps 12 s for the later stages, SCAN 6 s.
  const hook = deadlineHook(plan, {}, performance.now() + 30_000, (cut) => {
    recorded.push(cut);
    return Promise.resolve();
  })!;
  assert.equal(await hook.extend("pretext", 5, 8), true, "a 6th epoch of 8 s fits in 18");
  assert.equal(await hook.extend("pretext", 6, 8), true);
  assert.equal(await hook.extend("pretext", 7, 20), false, "20 s does not");
  assert.deepEqual(recorded, [{ pretext: 6 }, { pretext: 7 }]);
  assert.equal(await hook.extend("scan", 10, 1), true);
  assert.deepEqual(recorded.at(-1), { pretext: 7, scan: 11 });
  // Self-labelling is never lengthened, nor a stage at its most epochs, nor one given by a flag.
  assert.equal(await hook.extend("selflabel", 1, 0), false);
  assert.equal(await hook.extend("scan", MAX_EPOCHS.scan, 0), false);
  const flagged = deadlineHook(plan, { scan: 10 }, performance.now() + 30_000, () => {
    throw new Error("nothing to record");
  })!;
  assert.equal(await flagged.extend("scan", 10, 0), false);
});
