import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { from, lastValueFrom, toArray } from "rxjs";
import { initBackend } from "../../src/backend/backend.ts";
import { PROJECTION_DIM } from "../../src/config.ts";
import { backboneFeatures, embed } from "../../src/operators/embed.ts";
import { assertClose } from "../_assert.ts";
import { disposeModel, randomBatch, tinyContrastive } from "../_tiny_models.ts";

await initBackend("wasm");

Deno.test("embed() - one feature batch per image batch: its ids, [B, 128], unit rows, no leak", async () => {
  const model = tinyContrastive(1);
  const batches = [randomBatch(3, 1), randomBatch(2, 2)];
  const before = tf.memory().numTensors;
  const out = await lastValueFrom(from(batches).pipe(embed(model), toArray()));
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  assert.deepEqual(out.map((f) => f.ids), batches.map((b) => b.ids));
  assert.deepEqual(out.map((f) => f.shape), [[3, PROJECTION_DIM], [2, PROJECTION_DIM]]);
  for (const { data, shape: [b, d] } of out) {
    assert.equal(data.length, b * d);
    for (let i = 0; i < b; i++) {
      const row = data.subarray(i * d, (i + 1) * d);
      assertClose(Math.hypot(...row), 1);
    }
  }
  disposeModel(model);
});

Deno.test("embed() - inference mode: the same image gives the same features, alone or in a batch", async () => {
  const model = tinyContrastive(2);
  const batch = randomBatch(4, 3);
  const [first, second] = await lastValueFrom(from([batch, batch]).pipe(embed(model), toArray()));
  assert.deepEqual(first.data, second.data);
  // A batch of one image gets the features it has in a batch of four (no batch statistics).
  const single = await lastValueFrom(
    from([{
      ids: [batch.ids[0]],
      data: batch.data.slice(0, 8 * 8 * 3),
      shape: [1, 8, 8, 3] as const,
    }])
      .pipe(embed(model)),
  );
  for (let k = 0; k < PROJECTION_DIM; k++) assertClose(single.data[k], first.data[k]);
  const other = tinyContrastive(3);
  const [elsewhere] = await lastValueFrom(from([batch]).pipe(embed(other), toArray()));
  assert.notDeepEqual(elsewhere.data, first.data);
  disposeModel(model);
  disposeModel(other);
});

Deno.test("backboneFeatures() - the backbone's own features [B, F], not normalised, no leak", async () => {
  const model = tinyContrastive(1);
  const before = tf.memory().numTensors;
  const [out] = await lastValueFrom(
    from([randomBatch(3, 1)]).pipe(backboneFeatures(model.backbone), toArray()),
  );
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  const width = model.backbone.outputs[0].shape[1] as number;
  assert.deepEqual(out.shape, [3, width]);
  assert.ok(out.data.every(Number.isFinite));
  disposeModel(model);
});
