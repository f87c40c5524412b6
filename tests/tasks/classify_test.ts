import assert from "node:assert/strict";
import { join } from "node:path";
import { predictDataset } from "../../src/run/inference.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { argmaxRows } from "../../src/operators/classify.ts";
import { loadRun } from "../../src/run/load_run.ts";
import { BAD, runTaskScript, SHAPES, tinyRun } from "../run/_tiny_run.ts";

await initBackend("wasm");
const tiny = await tinyRun();

Deno.test("classify task - one JSON line per file: a cluster, or an error for a bad file", async () => {
  const bad: string[] = [];
  for await (const entry of Deno.readDir(BAD)) bad.push(join(BAD, entry.name));
  bad.sort();
  const good = [join(SHAPES, tiny.train.paths[0]), join(SHAPES, tiny.train.paths[1])];
  const files = [good[0], ...bad, good[1]];
  const { code, stdout, stderr } = await runTaskScript("classify", [
    "--run",
    tiny.runDir,
    "--batch-size",
    "4",
    ...files,
  ]);
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((l) => l.path), files);

  const run = await loadRun(tiny.runDir);
  const expected = argmaxRows(
    await predictDataset(run.model, run.head, tiny.train),
    tiny.train.n,
    run.config.clusters,
  );
  run.dispose();
  for (const [k, line] of [lines[0], lines.at(-1)].entries()) {
    assert.deepEqual(Object.keys(line), ["path", "cluster", "confidence"]);
    assert.equal(line.cluster, expected.clusters[k]);
    assert.ok(Math.abs(line.confidence - expected.confidence[k]) < 1e-5);
    assert.ok(line.confidence > 0 && line.confidence <= 1);
  }
  for (const line of lines.slice(1, -1)) {
    assert.deepEqual(Object.keys(line), ["path", "error"]);
    assert.ok(line.error.length > 0);
  }
});

Deno.test("classify task - a run that cannot be loaded exits 1, no files exits 2", async () => {
  const noRun = await runTaskScript("classify", [
    "--run",
    `${tiny.runDir}-missing`,
    join(SHAPES, tiny.train.paths[0]),
  ]);
  assert.equal(noRun.code, 1);
  assert.match(noRun.stderr, /Cannot load run/);
  assert.equal(noRun.stdout, "");
  const noFiles = await runTaskScript("classify", ["--run", tiny.runDir]);
  assert.equal(noFiles.code, 2);
  assert.match(noFiles.stderr, /at least one FILE is required/);
});
