/**
 * `deno task soak` at CI size: 150 images at once and 10 after, with the task's permissions
 * from deno.json. It must drain, lose and duplicate nothing, and stay inside its buffer bounds.
 */
import assert from "node:assert/strict";
import { runTaskScript } from "../run/_tiny_run.ts";
import { natsTest } from "../_nats.ts";

natsTest(
  "soak task - a small burst drains with nothing lost or duplicated, within its bounds",
  async () => {
    const result = await runTaskScript("soak", [
      "--images",
      "150",
      "--after",
      "10",
      "--rate",
      "20",
      "--timeout-s",
      "120",
    ]);
    assert.equal(result.code, 0, result.stderr.slice(-3000));
    const figures = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
    assert.equal(figures.images, 150);
    assert.equal(figures.bus, "nats");
    assert.equal(figures.lost, 0);
    assert.equal(figures.duplicated, 0);
    assert.ok(figures.drainSeconds > 0, `drainSeconds ${figures.drainSeconds}`);
    assert.equal(figures.after.assigned, 10);
    assert.ok(figures.after.p99Ms >= figures.after.p50Ms && figures.after.p50Ms > 0);
    assert.ok(figures.peakBuffered >= 1 && figures.peakBuffered <= figures.bufferLimit);
    assert.ok(figures.peakOutbox >= 1 && figures.peakOutbox <= figures.outboxLimit);
    assert.ok(figures.peakRssMiB >= figures.baselineRssMiB);
  },
);

natsTest(
  "soak task --hostile - forged messages, hostile files, two nats-server restarts and a SIGKILL of the stream: nothing lost, duplicated or crashed",
  async () => {
    const result = await runTaskScript("soak", [
      ...["--images", "100", "--after", "20", "--rate", "20", "--hostile"],
      ...["--kill-gap-s", "1", "--timeout-s", "240"],
    ]);
    assert.equal(result.code, 0, result.stderr.slice(-3000));
    const figures = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
    assert.equal(figures.lost, 0);
    assert.equal(figures.duplicated, 0);
    assert.equal(figures.crashes, 0);
    const hostile = figures.hostile;
    assert.equal(hostile.natsRestarts, 2);
    assert.equal(hostile.streamKills, 1);
    assert.equal(hostile.streamStarts, 2);
    assert.equal(hostile.hostileFiles, 16);
    assert.equal(hostile.onBus.distinctImages, 120);
    assert.equal(hostile.onBus.assignments, 120, "each image's assignment once on the bus");
    assert.equal(hostile.onBus.refusalsDuplicated, 0);
    assert.equal(hostile.boardAssigned, 120);
  },
);
