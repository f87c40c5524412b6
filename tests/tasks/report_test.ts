import assert from "node:assert/strict";
import { join } from "node:path";
import { predictDataset } from "../../src/run/inference.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { decodeImage } from "../../src/image/decode.ts";
import { argmaxRows } from "../../src/operators/classify.ts";
import { loadRun } from "../../src/run/load_run.ts";
import { runTaskScript, SHAPES, SHAPES_LABELS, TINY_IMAGES, tinyRun } from "../run/_tiny_run.ts";
import { listDir } from "../_assert.ts";

await initBackend("wasm");
const tiny = await tinyRun();

/** Every file under `dir` with its size and modification time, to see that nothing changed. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await listDir(dir)) {
    const info = await Deno.stat(join(dir, name));
    if (info.isDirectory) out.push(...(await snapshot(join(dir, name))).map((s) => `${name}/${s}`));
    else out.push(`${name} ${info.size} ${info.mtime?.getTime()}`);
  }
  return out;
}

Deno.test("report task - a contact sheet per non-empty cluster and an index page, only in --out", async () => {
  const root = await Deno.makeTempDir({ prefix: "scanstream_report_task_" });
  try {
    const out = join(root, "a", "report");
    const runBefore = await snapshot(tiny.runDir);
    const { code, stdout, stderr } = await runTaskScript("report", [
      "--run",
      tiny.runDir,
      "--data",
      SHAPES,
      "--labels",
      SHAPES_LABELS,
      "--limit",
      String(TINY_IMAGES),
      "--out",
      out,
    ]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(await listDir(root), ["a"]);
    assert.deepEqual(await snapshot(tiny.runDir), runBefore, "the run directory is untouched");

    // The cluster sizes the model gives, computed here.
    const run = await loadRun(tiny.runDir);
    const { clusters } = argmaxRows(
      await predictDataset(run.model, run.head, tiny.train),
      tiny.train.n,
      run.config.clusters,
    );
    run.dispose();
    const sizes = new Array<number>(tiny.config.clusters).fill(0);
    for (const c of clusters) sizes[c]++;
    const nonEmpty = sizes.flatMap((size, c) => (size > 0 ? [c] : []));
    assert.ok(nonEmpty.length >= 1);

    const summary = JSON.parse(stdout);
    assert.equal(summary.model, "selflabel");
    assert.equal(summary.images, TINY_IMAGES);
    assert.deepEqual(summary.clusters.map((c: { size: number }) => c.size), sizes);
    const sheets = nonEmpty.map((c) => `cluster_${String(c).padStart(2, "0")}.png`);
    assert.deepEqual(await listDir(out), [...sheets, "index.html"].sort());

    const html = await Deno.readTextFile(join(out, "index.html"));
    for (const [k, c] of nonEmpty.entries()) {
      // Up to 64 tiles, 8 to a row, 16px images at 2x from the originals, 1px gaps.
      const shown = Math.min(64, sizes[c]);
      const cols = Math.min(8, shown);
      const rows = Math.ceil(shown / cols);
      const decoded = await decodeImage(await Deno.readFile(join(out, sheets[k])));
      assert.ok(decoded.ok, sheets[k]);
      assert.equal(decoded.width, cols * 32 + cols - 1);
      assert.equal(decoded.height, rows * 32 + rows - 1);
      assert.ok(html.includes(`src="${sheets[k]}"`));
      assert.equal(typeof summary.clusters[c].purity, "number");
      assert.ok(html.includes(`majority class ${summary.clusters[c].majorityClass}`));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("report task - a missing run exits 1 and writes nothing", async () => {
  const root = await Deno.makeTempDir({ prefix: "scanstream_report_task_" });
  try {
    const { code, stderr } = await runTaskScript("report", [
      "--run",
      join(root, "no-run"),
      "--data",
      SHAPES,
      "--out",
      join(root, "out"),
    ]);
    assert.equal(code, 1);
    assert.match(stderr, /Cannot load run/);
    assert.deepEqual(await listDir(root), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
