import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { runTaskScript, SHAPES, SHAPES_LABELS, TINY_IMAGES, tinyRun } from "../run/_tiny_run.ts";

await initBackend("wasm");
const tiny = await tinyRun();
const FASHION_T10K = "/usr/share/datasets/fashion-mnist/t10k";
const haveFashion = await Deno.stat(`${FASHION_T10K}-images-idx3-ubyte.gz`).then(
  () => true,
  () => false,
);

Deno.test("eval task - prints the final model's scores as one JSON object", async () => {
  const { code, stdout, stderr } = await runTaskScript("eval", [
    "--run",
    tiny.runDir,
    "--data",
    SHAPES,
    "--labels",
    SHAPES_LABELS,
    "--limit",
    String(TINY_IMAGES),
  ]);
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split("\n");
  assert.equal(lines.length, 1);
  const result = JSON.parse(lines[0]);
  for (const key of ["accuracy", "nmi", "ari", "manyToOneAccuracy", "images", "clusters", "head"]) {
    assert.ok(key in result, `missing ${key}`);
  }
  assert.equal(result.model, "selflabel");
  assert.equal(result.head, tiny.summary.scan.bestHead);
  assert.equal(result.images, TINY_IMAGES);
  assert.equal(result.labelled, TINY_IMAGES);
  assert.equal(result.clusters, tiny.config.clusters);
  assert.equal(result.clusterSizes.length, tiny.config.clusters);
  assert.equal(result.clusterSizes.reduce((a: number, b: number) => a + b, 0), TINY_IMAGES);
  assert.equal(result.mapping.length, tiny.config.clusters);
  // The training run scored its final model on the same images: eval must agree.
  const trained = tiny.summary.selflabel.metrics!;
  for (const key of ["accuracy", "nmi", "ari", "manyToOneAccuracy"] as const) {
    assert.ok(
      Math.abs(result[key] - trained[key]) < 1e-9,
      `${key}: ${result[key]} vs ${trained[key]}`,
    );
  }
});

Deno.test({
  name: "eval task - scores IDX data with the labels it carries",
  ignore: !haveFashion,
  fn: async () => {
    const { code, stdout, stderr } = await runTaskScript("eval", [
      "--run",
      tiny.runDir,
      "--data",
      `idx:${FASHION_T10K}`,
      "--limit",
      "300",
    ]);
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout);
    assert.equal(result.images, 300);
    assert.equal(result.labelled, 300);
    assert.ok(result.accuracy > 0 && result.accuracy <= 1);
    assert.ok(result.manyToOneAccuracy >= result.accuracy);
  },
});

Deno.test("eval task - usage errors exit 2, a missing run exits 1", async () => {
  const noLabels = await runTaskScript("eval", ["--run", tiny.runDir, "--data", SHAPES]);
  assert.equal(noLabels.code, 2);
  assert.match(noLabels.stderr, /--labels is required for a folder/);
  assert.equal(noLabels.stdout, "");
  const noRun = await runTaskScript("eval", [
    "--run",
    `${tiny.runDir}-missing`,
    "--data",
    SHAPES,
    "--labels",
    SHAPES_LABELS,
  ]);
  assert.equal(noRun.code, 1);
  assert.match(noRun.stderr, /Cannot load run/);
  assert.equal(noRun.stdout, "");
});
