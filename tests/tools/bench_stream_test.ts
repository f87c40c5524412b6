import assert from "node:assert/strict";
import { natsAvailable } from "../_nats.ts";
import { taskPermissions, taskScript } from "../run/_tiny_run.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("bench-stream task - --quick measures every part on the fixtures and prints one JSON object", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...(await taskPermissions("bench-stream")),
      await taskScript("bench-stream"),
      "--quick",
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  assert.equal(lines.length, 1, lines.join("\n"));
  const result = JSON.parse(lines[0]);
  assert.equal(result.transport, natsAvailable ? "managed" : "memory");

  // The images there at start are assigned only once the first clustering exists.
  const first = result.firstUpdate;
  assert.ok(first.firstUpdateMs > 0);
  assert.equal(first.waitForFirstClustering.count, 40);
  assert.ok(first.waitForFirstClustering.p50Ms >= first.firstUpdateMs, JSON.stringify(first));

  // Every image written at the steady rate got its assignment, and the percentiles are ordered.
  const latency = result.latency;
  assert.equal(latency.written, 100);
  assert.equal(latency.count, latency.written);
  assert.ok(latency.p50Ms > 0);
  assert.ok(latency.p50Ms <= latency.p90Ms && latency.p90Ms <= latency.p99Ms);
  assert.ok(latency.p99Ms <= latency.maxMs);
  assert.equal(typeof latency.sustained, "boolean");

  assert.equal(result.ingest.assigned, 100);
  assert.ok(result.ingest.imagesPerSecond > 0);
  assert.equal(result.latencySummary.images, 240);

  // The labelled stream: every image assigned once, metrics on its updates.
  const fm = result.fashionMnist;
  assert.equal(fm.written, 300);
  assert.equal(fm.assigned, 300);
  assert.equal(fm.summary.images, 300);
  assert.ok(fm.updates >= 1);
  assert.ok(fm.last.accuracy >= 0 && fm.last.accuracy <= 1);
  assert.ok(fm.best.accuracy >= fm.last.accuracy);
  assert.equal(fm.steps.rounds >= fm.updates, true);
});
