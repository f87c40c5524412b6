import assert from "node:assert/strict";
import { makeConfig } from "../../src/config.ts";
import { budgetPlanSchema } from "../../src/protocol/disk_state.ts";
import { parseJson } from "../../src/protocol/parse.ts";
import {
  BUDGET_SHARES,
  describePlan,
  formatSeconds,
  knnSeconds,
  MAX_EPOCHS,
  planBudget,
  type StageTimings,
  stepsPerEpoch,
} from "../../src/run/budget_plan.ts";

const config = makeConfig("fashion-mnist", {
  pretext: { batchSize: 100 },
  scan: { batchSize: 100 },
  selflabel: { batchSize: 100 },
});
const sizes = { train: 1000, evaluation: 1000, labelled: false };
// 10 steps an epoch: pretext 10 s an epoch, SCAN 1 s, self-labelling 5 s.
const timings: StageTimings = {
  pretextStep: 1,
  scanStep: 0.1,
  selflabelStep: 0.5,
  embedImage: 0.001,
  checkpoint: 0,
  poolOpen: 2,
  measuring: 5,
};

Deno.test("stepsPerEpoch() drops the last partial batch, never below one step", () => {
  assert.equal(stepsPerEpoch(1000, 256), 3);
  assert.equal(stepsPerEpoch(100, 256), 1);
  assert.equal(stepsPerEpoch(512, 256), 2);
});

Deno.test("planBudget() splits what is left by the shares, pretext taking the rest", () => {
  const plan = planBudget(10, config, sizes, timings);
  // 600 s - 5 measuring - 1 mining - (2 pool + 3 passes of 1 s: SCAN's frozen features, its
  // best head, the self-labelled model for the final choice) = 589 s to share.
  assert.equal(plan.mining.seconds, 1);
  assert.equal(plan.overheadSeconds, 5);
  const available = 589;
  assert.equal(Math.floor(available * BUDGET_SHARES.scan), 88);
  assert.equal(plan.selflabel.epochs, MAX_EPOCHS.selflabel, "capped: 59 s would give 11");
  assert.equal(plan.pretext.epochs, Math.floor((available - 88 - 50) / 10));
  // 45 whole pretext epochs leave 1 s: one more SCAN epoch.
  assert.equal(plan.scan.epochs, 89);
  const total = plan.pretext.seconds + plan.scan.seconds + plan.selflabel.seconds;
  assert.ok(total <= available, `planned ${total} s of ${available}`);
  assert.ok(!plan.pretext.fixed && !plan.scan.fixed && !plan.selflabel.fixed);
});

Deno.test("planBudget() keeps epochs given by flags and shares the rest", () => {
  const plan = planBudget(10, config, sizes, timings, { pretext: 3 });
  assert.deepEqual(plan.pretext, { epochs: 3, seconds: 30, fixed: true });
  // 560 s left for SCAN (0.15) and self-labelling (0.1): 336 s and 224 s, both capped.
  assert.equal(plan.scan.epochs, MAX_EPOCHS.scan);
  assert.equal(plan.selflabel.epochs, MAX_EPOCHS.selflabel);
});

Deno.test("planBudget() gives a budget too small still one pretext and one SCAN epoch", () => {
  const plan = planBudget(0.05, config, sizes, timings);
  assert.deepEqual([plan.pretext.epochs, plan.scan.epochs, plan.selflabel.epochs], [1, 1, 0]);
  const labelled = planBudget(10, config, { ...sizes, labelled: true }, timings);
  assert.equal(labelled.overheadSeconds, 8, "three evaluation passes");
});

Deno.test("planBudget() counts each epoch's checkpoints (SCAN writes two)", () => {
  const plan = planBudget(10, config, sizes, { ...timings, checkpoint: 0.5 }, {
    pretext: 2,
    scan: 2,
    selflabel: 2,
  });
  assert.deepEqual(
    [plan.pretext.seconds, plan.scan.seconds, plan.selflabel.seconds],
    [2 * 10.5, 2 * 2, 2 * 5.5],
  );
});

Deno.test("planBudget() gives self-labelling an epoch from the time whole epochs leave", () => {
  // 3 min: 170 s to share; self-labelling's 17 s share is short of its 20 s epoch, and 40 s
  // pretext epochs leave 25 s of the 145 s that SCAN's 25 leave them.
  const slow = { ...timings, selflabelStep: 2, pretextStep: 4 };
  const plan = planBudget(3, config, sizes, slow);
  assert.equal(plan.selflabel.epochs, 1);
  const total = plan.pretext.seconds + plan.scan.seconds + plan.selflabel.seconds;
  assert.ok(total <= 170 && total > 170 - 10, `planned ${total} s of 170`);
});

Deno.test("planBudget() refuses a budget that is not a positive number", () => {
  for (const minutes of [0, -1, NaN, Infinity]) {
    assert.throws(() => planBudget(minutes, config, sizes, timings), /minutes must be a positive/);
  }
});

Deno.test("describePlan() prints a line per stage with epochs and time", () => {
  const lines = describePlan(planBudget(10, config, sizes, timings, { scan: 4 }));
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^budget 10 min: measured in 5\.0s/);
  assert.match(lines[2], /scan: 4 epochs, 0m04s \(epochs from a flag\), 100 ms a step/);
  assert.equal(formatSeconds(125.4), "2m05s");
});

Deno.test("a plan as stored in plan.json parses back; a tampered one is refused", () => {
  const plan = { ...planBudget(10, config, sizes, timings), cut: { pretext: 3 } };
  assert.deepEqual(parseJson(budgetPlanSchema(), JSON.stringify(plan), "plan.json"), plan);
  const tampered = JSON.stringify({ ...plan, pretext: { ...plan.pretext, epochs: -1 } });
  assert.throws(() => parseJson(budgetPlanSchema(), tampered, "plan.json"), /plan\.json/);
});

Deno.test("planBudget() counts the heads' losses that end each SCAN epoch, and once more at its end", () => {
  // 1000 images at 2 ms each: 2 s a SCAN epoch besides its 1 s of steps.
  const plan = planBudget(10, config, sizes, { ...timings, headLossImage: 0.002 }, {
    pretext: 2,
    scan: 2,
    selflabel: 2,
  });
  assert.equal(plan.scan.seconds, 2 * (1 + 2));
  assert.equal(plan.overheadSeconds, 5 + 2, "the best head's losses after the last epoch");
  // A plan made before the field existed reads as 0.
  const older = planBudget(10, config, sizes, timings, { pretext: 2, scan: 2, selflabel: 2 });
  assert.equal(older.scan.seconds, 2);
});

Deno.test("planBudget() counts mining's exact kNN, scaled from its sample by the pairs", () => {
  // 100 images in 0.05 s: 1000 images are 100 times the pairs, 5 s besides the 1 s pass.
  const plan = planBudget(10, config, sizes, {
    ...timings,
    knnSample: { images: 100, seconds: 0.05 },
  });
  assert.equal(plan.mining.seconds, 1 + 5);
  assert.equal(knnSeconds(100, { ...timings, knnSample: { images: 100, seconds: 0.05 } }), 0.05);
  assert.equal(knnSeconds(1000, timings), 0, "a plan made before it was measured");
  const parsed = parseJson(budgetPlanSchema(), JSON.stringify(plan), "plan.json");
  assert.deepEqual(parsed.timings.knnSample, { images: 100, seconds: 0.05 });
});
