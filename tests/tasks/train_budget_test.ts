import assert from "node:assert/strict";
import { join } from "node:path";
import { runTaskScript, SHAPES, SHAPES_LABELS } from "../run/_tiny_run.ts";

/** The train task on 40 fixtures at 16 px with a budget, one thread; its JSON and stderr. */
async function train(out: string, extra: string[] = []) {
  const { code, stdout, stderr } = await runTaskScript("train", [
    ...["--data", SHAPES, "--labels", SHAPES_LABELS, "--out", out],
    ...["--budget", "0.3", "--limit", "40", "--clusters", "6", "--input-size", "16"],
    ...["--threads", "1", ...extra],
  ]);
  assert.equal(code, 0, stderr);
  return { summary: JSON.parse(stdout.trim()), stderr };
}

Deno.test("train --budget plans the stages, reports planned and actual time, and resumes with its plan", async () => {
  const out = await Deno.makeTempDir({ prefix: "scanstream_budget_" });
  try {
    const flags = ["--scan-epochs", "2", "--crop-min", "0.3", "--temperature", "0.2"];
    const { summary, stderr } = await train(out, flags);
    const { budget } = summary;
    assert.equal(budget.minutes, 0.3);
    for (const name of ["pretextStep", "scanStep", "selflabelStep", "embedImage", "poolOpen"]) {
      assert.ok(budget.timings[name] > 0, `measured ${name}: ${budget.timings[name]}`);
    }
    // The flag fixes SCAN; the budget gives the pretext task at least an epoch.
    assert.equal(budget.planned.scan.epochs, 2);
    assert.ok(budget.planned.pretext.epochs >= 1);
    for (const stage of ["pretext", "mining", "scan", "selflabel"]) {
      assert.equal(typeof budget.actual[stage], "number", `actual ${stage}`);
    }
    assert.ok(budget.actual.total > 0);
    assert.match(stderr, /budget 0\.3 min: measured in/);
    assert.match(stderr, /scan: 2 epochs, .*\(epochs from a flag\)/);
    assert.match(stderr, /left /, "the progress lines show the time left");
    // The auto settings and the baseline come with it.
    assert.equal(summary.preset, "auto");
    assert.equal(summary.settings.chosen.inputSize, 16);
    assert.deepEqual(summary.settings.chosen.cropScale, [0.3, 1]);
    assert.equal(summary.settings.chosen.temperature, 0.2);
    assert.match(stderr, /auto cropScale .*\(overridden by a flag\)/);
    assert.match(summary.settings.reasons.inputSize, /native short side 32 px/);
    assert.ok(summary.baseline.kmeansRawPixels.accuracy > 0);
    assert.match(stderr, /k-means on raw pixels \(baseline\) +accuracy/);
    const stored = JSON.parse(await Deno.readTextFile(join(out, "plan.json")));
    assert.equal(stored.pretext.epochs, budget.planned.pretext.epochs);
    const state = JSON.parse(await Deno.readTextFile(join(out, "state.json")));
    // Every planned epoch, unless the stage's deadline came first, or the steps ran faster than
    // measured and another epoch fitted (step times move with the machine's load): then the
    // deadline's count is recorded as the cut, and that is how many were trained.
    assert.equal(
      state.pretext.epochs,
      budget.cut.pretext ?? budget.planned.pretext.epochs,
      JSON.stringify(budget),
    );
    assert.ok(state.pretext.epochs >= 1);
    assert.equal(state.scan.epochs, 2);

    // A resume keeps the stored plan (no new measurement), so nothing is left to train.
    const again = await train(out, flags);
    assert.match(again.stderr, /resuming with the stored plan of 0\.3 min/);
    assert.deepEqual(again.summary.budget.timings, budget.timings, "measured again");
    assert.deepEqual(again.summary.budget.planned, budget.planned);
    assert.deepEqual(again.summary.scan.metrics, summary.scan.metrics);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
