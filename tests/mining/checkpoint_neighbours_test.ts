import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import {
  type CheckpointFeature,
  CheckpointNeighbours,
  type NeighbourList,
} from "../../src/mining/checkpoint_neighbours.ts";
import { mineNeighbours } from "../../src/mining/knn.ts";
import { Random } from "../../src/util/random.ts";

await initBackend("wasm");

const DIM = 12;
const K = 5;

function features(rng: Random, n: number, checkpoint: number, prefix: string) {
  return Array.from({ length: n }, (_, i): CheckpointFeature => ({
    id: `${prefix}${i}`,
    checkpoint,
    feature: Float32Array.from({ length: DIM }, () => rng.normal()),
  }));
}

/** The lists a full re-mine of `items` (in that order) gives, by id. */
function fullRemine(items: readonly CheckpointFeature[], k: number) {
  const flat = new Float32Array(items.length * DIM);
  items.forEach((item, i) => flat.set(item.feature, i * DIM));
  const length = Math.min(k, items.length);
  const mined = mineNeighbours(flat, items.length, DIM, length);
  return new Map(items.map((item, i) => [item.id, {
    ids: Array.from(mined.indices.subarray(i * length, (i + 1) * length), (j) => items[j].id),
    similarities: mined.similarities.subarray(i * length, (i + 1) * length),
  }]));
}

function assertSameLists(
  actual: ReadonlyMap<string, NeighbourList>,
  expected: ReturnType<typeof fullRemine>,
  checkpoint: number,
) {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [id, list] of actual) {
    const want = expected.get(id)!;
    assert.equal(list.checkpoint, checkpoint);
    assert.deepEqual(list.ids, want.ids, `list of ${id}`);
    assert.equal(list.ids[0], id, "itself first");
    list.similarities.forEach((s, r) => assert.ok(Math.abs(s - want.similarities[r]) < 1e-5));
  }
}

Deno.test("CheckpointNeighbours - published lists, applied in order, equal a full re-mine", () => {
  const before = tf.memory().numTensors;
  const rng = new Random(7);
  const items = features(rng, 90, 0, "a");
  // Matmul on every batch, so the backend path is the one checked.
  const miner = new CheckpointNeighbours(K, { matMulMinWork: 0, chunkRows: 16 });
  const latest = new Map<string, NeighbourList>();
  const sizes = [1, 2, 3, 17, 40, 27];
  let at = 0;
  for (const size of sizes) {
    const batch = items.slice(at, at + size);
    const previous = new Map(latest);
    const step = miner.add(batch);
    at += size;
    assert.deepEqual(step.started, at === size ? [0] : []);
    assert.equal(step.ignored + step.repeated + step.refused.length, 0);
    const added = step.lists.filter((l) => l.change === "added").map((l) => l.id);
    assert.deepEqual(added, batch.map((item) => item.id), "each new image's list, in order");
    for (const list of step.lists) latest.set(list.id, list);
    // Updates are exactly the older lists that changed, and each list is the full re-mine's.
    const remined = fullRemine(items.slice(0, at), K);
    for (const [id, list] of previous) {
      const changed = list.ids.join() !== remined.get(id)!.ids.join();
      const updated = step.lists.some((l) => l.id === id && l.change === "updated");
      assert.equal(updated, changed, `update of ${id} after ${at} images`);
    }
    assertSameLists(latest, remined, 0);
    for (const [id, list] of latest) assert.deepEqual(miner.listOf(id)?.ids, list.ids);
  }
  assert.equal(miner.size, items.length);
  assert.ok([...latest.values()].every((l) => l.ids.length === K));
  miner.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("CheckpointNeighbours - a newer checkpoint starts a fresh index; older features are ignored after it", () => {
  const before = tf.memory().numTensors;
  const rng = new Random(11);
  const old = features(rng, 30, 2, "o");
  const fresh = features(rng, 20, 3, "n");
  const miner = new CheckpointNeighbours(K);
  assert.equal(miner.checkpoint, -1);
  const first = miner.add(old.slice(0, 25));
  assert.deepEqual(first.started, [2]);
  // One batch: the rest of checkpoint 2, then 3, with a checkpoint-2 feature late among them.
  const late = { ...old[25], id: "late" };
  const step = miner.add([...old.slice(25), fresh[0], fresh[1], late, ...fresh.slice(2, 3)]);
  assert.deepEqual(step.started, [3]);
  assert.equal(step.ignored, 1);
  assert.equal(miner.checkpoint, 3);
  // Lists of checkpoint 2 from before the switch went out first, with their checkpoint.
  const oldLists = step.lists.filter((l) => l.checkpoint === 2);
  assert.deepEqual(
    oldLists.filter((l) => l.change === "added").map((l) => l.id),
    old.slice(25).map((f) => f.id),
  );
  const newLists = step.lists.filter((l) => l.checkpoint === 3);
  assert.ok(step.lists.indexOf(newLists[0]) > step.lists.indexOf(oldLists.at(-1)!));
  // Fewer images than K: every list holds all of them.
  assert.ok(newLists.every((l) => l.ids.every((id) => id.startsWith("n"))));
  const latest = new Map(newLists.map((l) => [l.id, l]));
  assertSameLists(latest, fullRemine(fresh.slice(0, 3), K), 3);
  assert.ok([...latest.values()].every((l) => l.ids.length === 3));

  assert.equal(miner.add(old.slice(0, 5)).ignored, 5, "checkpoint 2 stays ignored");
  for (const list of miner.add(fresh.slice(3)).lists) latest.set(list.id, list);
  assertSameLists(latest, fullRemine(fresh, K), 3);
  assert.equal(miner.listOf(old[0].id), undefined);
  assert.equal(miner.size, fresh.length);
  miner.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("CheckpointNeighbours - repeated, broken and mis-sized features are set aside, the index goes on", () => {
  const rng = new Random(3);
  const items = features(rng, 8, 0, "x");
  const miner = new CheckpointNeighbours(K);
  miner.add(items.slice(0, 4));
  const broken = { id: "nan", checkpoint: 9, feature: new Float32Array(DIM).fill(NaN) };
  const short = { id: "short", checkpoint: 0, feature: new Float32Array(DIM - 1) };
  const step = miner.add([items[1], broken, short, items[4], items[4], ...items.slice(5)]);
  assert.equal(step.repeated, 2);
  assert.deepEqual(step.refused.map((r) => r.id), ["nan", "short"]);
  assert.match(step.refused[0].reason, /features must be finite, current value at 0 is NaN/);
  assert.match(step.refused[1].reason, /have 12 values, current length is 11/);
  assert.deepEqual(step.started, [], "a broken feature of a newer checkpoint drops nothing");
  assert.equal(miner.checkpoint, 0);
  assert.equal(miner.size, 8);
  assert.throws(() => new CheckpointNeighbours(0), /k must be a positive integer/);
  miner.dispose();
});
