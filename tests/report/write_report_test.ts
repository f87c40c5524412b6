import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../../src/backend/backend.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { loadDataset } from "../../src/data/load_dataset.ts";
import { decodeImage } from "../../src/image/decode.ts";
import { encodePng } from "../../src/image/encode_png.ts";
import { writeReport } from "../../src/report/write_report.ts";
import { listDir, withTempDir } from "../_assert.ts";

await initBackend("wasm");

async function decodeFile(path: string) {
  const decoded = await decodeImage(await Deno.readFile(path));
  assert.ok(decoded.ok, JSON.stringify(decoded));
  return decoded;
}

function pixelOf(image: { width: number; rgb: Uint8Array }, x: number, y: number): number[] {
  const i = (y * image.width + x) * 3;
  return [...image.rgb.subarray(i, i + 3)];
}

/** Five 2x2 images, image i filled with the gray value 40 * i + 10. */
function uniformDataset(): Dataset {
  const n = 5;
  const pixels = new Uint8Array(n * 2 * 2 * 3);
  for (let i = 0; i < n; i++) pixels.fill(40 * i + 10, i * 12, (i + 1) * 12);
  return {
    n,
    size: 2,
    pixels,
    ids: ["a", "b", "c", "d", "e"],
    paths: ["a.png", "b.png", "c.png", "d.png", "e.png"],
    labels: Int32Array.from([0, 0, 1, 1, 1]),
    classNames: ["round", "square"],
  };
}

Deno.test("writeReport() writes a sheet of the most confident images per non-empty cluster", async () => {
  await withTempDir("scanstream_report_", async (root) => {
    const out = join(root, "nested", "report");
    const summary = await writeReport({
      out,
      dataset: uniformDataset(),
      dataSpec: "synthetic",
      assignments: Int32Array.from([0, 0, 2, 0, 2]),
      confidence: Float32Array.from([0.25, 0.75, 0.5, 0.625, 0.875]),
      clusters: 3,
      runDir: "run",
      stage: "scan",
      head: 1,
      perCluster: 2,
    });
    assert.deepEqual(await listDir(root), ["nested"], "nothing written outside out");
    assert.deepEqual(await listDir(out), ["cluster_00.png", "cluster_02.png", "index.html"]);
    assert.deepEqual(summary.clusters.map((c) => [c.cluster, c.size, c.sheet]), [
      [0, 3, "cluster_00.png"],
      [1, 0, null],
      [2, 2, "cluster_02.png"],
    ]);
    assert.equal(summary.clusters[0].majorityClass, "round");
    assert.ok(Math.abs(summary.clusters[0].purity! - 2 / 3) < 1e-12);
    assert.equal(summary.clusters[2].majorityClass, "square");
    assert.ok(Math.abs(summary.clusters[0].meanConfidence! - (0.25 + 0.75 + 0.625) / 3) < 1e-7);

    // Cluster 0 shows images 1 then 3 (the two most confident), each 2px scaled to 4px.
    const sheet = await decodeFile(join(out, "cluster_00.png"));
    assert.equal(sheet.width, 2 * 4 + 1);
    assert.equal(sheet.height, 4);
    assert.deepEqual(pixelOf(sheet, 0, 0), [50, 50, 50]);
    assert.deepEqual(pixelOf(sheet, 3, 3), [50, 50, 50]);
    assert.deepEqual(pixelOf(sheet, 5, 0), [130, 130, 130]);
    const other = await decodeFile(join(out, "cluster_02.png"));
    assert.deepEqual(pixelOf(other, 0, 0), [170, 170, 170], "image 4 before image 2");
    assert.deepEqual(pixelOf(other, 5, 0), [90, 90, 90]);

    const html = await Deno.readTextFile(join(out, "index.html"));
    assert.match(html, /src="cluster_00\.png"/);
    assert.match(html, /src="cluster_02\.png"/);
    assert.match(html, /<li>b\.png<\/li><li>d\.png<\/li>/);
    assert.match(html, /majority class round \(purity 66\.7%\)/);
  });
});

Deno.test("writeReport() draws sheets from the original files, and from stored pixels for a changed file", async () => {
  await withTempDir("scanstream_report_", async (root) => {
    const data = join(root, "data");
    await Deno.mkdir(data);
    // 8x8 images with a horizontal ramp, so a 4px copy scaled back up differs from the original.
    const ramp = (offset: number) =>
      Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => offset + 20 * (Math.floor(i / 3) % 8));
    for (const [name, offset] of [["a.png", 0], ["b.png", 50]] as const) {
      await Deno.writeFile(
        join(data, name),
        await encodePng({ width: 8, height: 8, colorType: "rgb", samples: ramp(offset) }),
      );
    }
    const dataset = await loadDataset(data, { size: 4 });
    assert.equal(dataset.n, 2);
    // b.png changes after the model saw it: its sheet tile must be what the model saw.
    await Deno.writeFile(
      join(data, "b.png"),
      await encodePng({
        width: 8,
        height: 8,
        colorType: "rgb",
        samples: new Uint8Array(8 * 8 * 3).fill(255),
      }),
    );
    const out = join(root, "out");
    const tensors = tf.memory().numTensors;
    await writeReport({
      out,
      dataset,
      dataDir: data,
      dataSpec: data,
      assignments: Int32Array.from([0, 0]),
      confidence: Float32Array.from([0.9, 0.8]),
      clusters: 2,
      runDir: "run",
      stage: "selflabel",
      head: 0,
    });
    assert.equal(tf.memory().numTensors, tensors, "no tensor leaked");
    const sheet = await decodeFile(join(out, "cluster_00.png"));
    assert.equal(sheet.width, 8 + 1 + 8);
    assert.equal(sheet.height, 8);
    // a.png at its original resolution, pixel for pixel.
    for (let x = 0; x < 8; x++) assert.deepEqual(pixelOf(sheet, x, 0), [20 * x, 20 * x, 20 * x]);
    // b.png from the stored 4px pixels: 2x2 blocks of one value, not the white new file.
    for (let x = 9; x < 17; x += 2) {
      const left = pixelOf(sheet, x, 0);
      assert.deepEqual(pixelOf(sheet, x + 1, 1), left);
      assert.ok(left[0] < 255);
    }
    assert.deepEqual(
      [...dataset.pixels.subarray(48, 51)],
      pixelOf(sheet, 9, 0),
      "stored pixel (0, 0) of b.png",
    );
  });
});

Deno.test("writeReport() rejects assignments that do not match the dataset, and perCluster 0", async () => {
  const base = {
    out: "/nonexistent/never-created",
    dataset: uniformDataset(),
    dataSpec: "synthetic",
    confidence: new Float32Array(5),
    clusters: 2,
    runDir: "run",
    stage: "scan",
    head: 0,
  };
  await assert.rejects(
    writeReport({ ...base, assignments: new Int32Array(4) }),
    { name: "RangeError", message: /one assignment per image is needed \(5\), current count is 4/ },
  );
  await assert.rejects(
    writeReport({ ...base, assignments: new Int32Array(5), perCluster: 0 }),
    { name: "RangeError", message: /perCluster must be a positive integer/ },
  );
});
