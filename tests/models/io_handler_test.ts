import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../../src/backend/backend.ts";
import { fileIOHandler, loadModel, saveModel } from "../../src/models/io_handler.ts";
import { BACKBONES, buildBackbone } from "../../src/models/resnet.ts";
import { buildProjectionHead } from "../../src/models/projection_head.ts";
import { buildClusteringHead } from "../../src/models/clustering_head.ts";
import { withTempDir } from "../_assert.ts";

await initBackend("wasm");

const tiny = BACKBONES["resnet-tiny"];

/** Backbone and projection head as one model, the way the pretext stage checkpoints them. */
function buildPretextModel(seed: number): tfl.LayersModel {
  const backbone = buildBackbone(tiny, seed);
  const head = buildProjectionHead(64, 64, 16, seed);
  return tfl.model({
    inputs: backbone.inputs,
    outputs: head.apply(backbone.outputs[0]) as tfl.SymbolicTensor,
    name: "pretext",
  });
}

function predictions(model: tfl.LayersModel, seed = 1): Float32Array {
  return tf.tidy(() =>
    (model.predict(tf.randomUniform([3, 32, 32, 3], 0, 1, "float32", seed)) as tf.Tensor)
      .dataSync() as Float32Array
  );
}

async function listDir(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name).sort();
}

Deno.test("saveModel() then loadModel() gives identical predictions and weights", async () => {
  await withTempDir("scanstream-models-", async (dir) => {
    const model = buildPretextModel(1);
    await saveModel(model, join(dir, "nested"), "pretext");
    assert.deepEqual(await listDir(join(dir, "nested")), [
      "pretext.json",
      "pretext.weights.bin",
    ]);
    const loaded = await loadModel(join(dir, "nested"), "pretext");
    assert.deepEqual(predictions(loaded), predictions(model));
    const values = (m: tfl.LayersModel) => m.getWeights().map((w) => w.dataSync());
    assert.deepEqual(values(loaded), values(model));
    model.dispose();
    loaded.dispose();
  });
});

Deno.test("fileIOHandler() writes a standard model.json with a relative weights path", async () => {
  await withTempDir("scanstream-models-", async (dir) => {
    const head = buildClusteringHead(8, 3, 2, 1);
    await head.save(fileIOHandler(dir, "scan"));
    const json = JSON.parse(await Deno.readTextFile(join(dir, "scan.json")));
    assert.equal(json.format, "layers-model");
    assert.match(json.generatedBy, /TensorFlow\.js/);
    assert.deepEqual(json.weightsManifest[0].paths, ["scan.weights.bin"]);
    assert.equal(json.weightsManifest[0].weights.length, 4);
    assert.equal((await Deno.stat(join(dir, "scan.weights.bin"))).size, 4 * (2 * (8 * 3 + 3)));
    assert.match(json.weightsSha256, /^[0-9a-f]{64}$/);
    const loaded = await tfl.loadLayersModel(fileIOHandler(dir, "scan"));
    assert.equal(loaded.outputs.length, 2);
    head.dispose();
    loaded.dispose();
  });
});

Deno.test("saveModel() replaces an earlier checkpoint of the same name", async () => {
  await withTempDir("scanstream-models-", async (dir) => {
    const [first, second] = [1, 2].map(buildPretextModel);
    await saveModel(first, dir, "pretext");
    await saveModel(second, dir, "pretext");
    const loaded = await loadModel(dir, "pretext");
    assert.deepEqual(predictions(loaded), predictions(second));
    assert.notDeepEqual(predictions(loaded), predictions(first));
    assert.deepEqual(await listDir(dir), ["pretext.json", "pretext.weights.bin"]);
    [first, second, loaded].forEach((m) => m.dispose());
  });
});

Deno.test("loadModel() still loads the previous checkpoint after a save crashed midway", async () => {
  await withTempDir("scanstream-models-", async (dir) => {
    const model = buildPretextModel(1);
    await saveModel(model, dir, "pretext");
    // What a crash before the renames leaves: half-written temporaries, no new JSON.
    await Deno.writeFile(join(dir, "pretext.weights.bin.tmp-dead0001"), new Uint8Array(100));
    await Deno.writeTextFile(join(dir, "pretext.json.tmp-dead0001"), '{"modelTop');
    const loaded = await loadModel(dir, "pretext");
    assert.deepEqual(predictions(loaded), predictions(model));
    model.dispose();
    loaded.dispose();
  });
});

Deno.test("fileIOHandler() cleans up after a failed save and keeps the previous checkpoint", async () => {
  await withTempDir("scanstream-models-", async (dir) => {
    const model = buildPretextModel(1);
    await saveModel(model, dir, "pretext");
    const handler = fileIOHandler(dir, "pretext");
    // A topology JSON cannot encode fails after the weights were written to their temporary.
    const artifacts = {
      modelTopology: { bad: 1n },
      weightSpecs: [],
      weightData: new ArrayBuffer(8),
    };
    await assert.rejects(handler.save!(artifacts), /Cannot save checkpoint .*pretext\.json/);
    assert.deepEqual(await listDir(dir), ["pretext.json", "pretext.weights.bin"]);
    const loaded = await loadModel(dir, "pretext");
    assert.deepEqual(predictions(loaded), predictions(model));
    model.dispose();
    loaded.dispose();
  });
});

Deno.test("loadModel() refuses weights that do not match the JSON", async () => {
  await withTempDir("scanstream-models-", async (dir) => {
    const [first, second] = [1, 2].map(buildPretextModel);
    await saveModel(first, join(dir, "a"), "pretext");
    await saveModel(second, join(dir, "b"), "pretext");
    // A crash between the two renames: the new weights beside the previous JSON.
    await Deno.copyFile(
      join(dir, "b", "pretext.weights.bin"),
      join(dir, "a", "pretext.weights.bin"),
    );
    await assert.rejects(loadModel(join(dir, "a"), "pretext"), /does not match the checksum/);
    [first, second].forEach((m) => m.dispose());
  });
});

Deno.test("loadModel() names the missing checkpoint", async () => {
  await withTempDir("scanstream-models-", async (dir) => {
    await assert.rejects(loadModel(dir, "absent"), (error: Error) => {
      assert.match(error.message, /Cannot load checkpoint .*absent\.json/);
      assert.ok(error.cause instanceof Deno.errors.NotFound);
      return true;
    });
  });
});

Deno.test("fileIOHandler() rejects a name that is a path", () => {
  assert.throws(() => fileIOHandler("/tmp", "../escape"), TypeError);
  assert.throws(() => fileIOHandler("/tmp", ""), TypeError);
});

Deno.test("loadModel() leaves no tensors behind once the model is disposed", async () => {
  await withTempDir("scanstream-models-", async (dir) => {
    const model = buildPretextModel(3);
    await saveModel(model, dir, "pretext");
    model.dispose();
    const before = tf.memory().numTensors;
    const loaded = await loadModel(dir, "pretext");
    predictions(loaded);
    loaded.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});
