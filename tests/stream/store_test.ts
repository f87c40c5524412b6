import assert from "node:assert/strict";
import { join } from "node:path";
import { gatherBatch } from "../../src/data/dataset.ts";
import { ImageStore, STORE_FILES } from "../../src/stream/store.ts";
import { Random } from "../../src/util/random.ts";

const SIZE = 4;
const STRIDE = SIZE * SIZE * 3;

/** A distinct image per seed: every byte derived from it. */
function image(seed: number, label?: string) {
  return {
    id: `id${seed}`,
    path: `in/${seed}.png`,
    pixels: Uint8Array.from({ length: STRIDE }, (_, b) => (seed * 31 + b * 7) & 255),
    receivedAt: 1_700_000_000_000 + seed,
    label,
  };
}

function assertHolds(store: ImageStore, seeds: number[]): void {
  const view = store.view();
  assert.equal(view.n, seeds.length);
  assert.deepEqual(view.ids, seeds.map((s) => `id${s}`));
  assert.deepEqual(view.paths, seeds.map((s) => `in/${s}.png`));
  seeds.forEach((s, i) => {
    assert.deepEqual(view.pixels.subarray(i * STRIDE, (i + 1) * STRIDE), image(s).pixels);
    assert.equal(store.receivedAt(i), image(s).receivedAt);
    assert.equal(store.indexOf(`id${s}`), i);
  });
}

Deno.test("ImageStore.add() stores images, refuses duplicates and checks sizes", () => {
  const store = new ImageStore(SIZE);
  for (let s = 0; s < 100; s++) assert.deepEqual(store.add(image(s)), { index: s, added: true });
  assert.deepEqual(store.add({ ...image(7), path: "again.png" }), { index: 7, added: false });
  assert.equal(store.n, 100);
  assert.equal(store.view().paths[7], "in/7.png");
  assertHolds(store, Array.from({ length: 100 }, (_, s) => s));
  assert.ok(store.has("id99") && !store.has("id100"));
  assert.throws(() => store.add({ ...image(200), pixels: new Uint8Array(5) }), /4 x 4 x 3 = 48/);
  assert.throws(() => store.add({ ...image(201), id: "" }), TypeError);
  assert.throws(() => new ImageStore(0), /positive integer/);
  assert.equal(store.n, 100);
});

Deno.test("ImageStore.view() is a Dataset snapshot with labels when any image has one", () => {
  const store = new ImageStore(SIZE);
  store.add(image(0));
  store.add(image(1));
  const before = store.view();
  assert.equal(before.labels, undefined);
  store.add(image(2, "shirt"));
  store.add(image(3, "bag"));
  for (let s = 4; s < 200; s++) store.add(image(s)); // grows the buffer under the snapshot
  assert.equal(before.n, 2);
  assert.deepEqual(before.ids, ["id0", "id1"]);
  assert.deepEqual(gatherBatch(before, [1]).data, image(1).pixels);
  const after = store.view();
  assert.deepEqual(after.classNames, ["bag", "shirt"]);
  assert.deepEqual([...after.labels!.subarray(0, 5)], [-1, -1, 1, 0, -1]);
  assert.deepEqual(gatherBatch(after, [199, 2]).data.subarray(STRIDE), image(2).pixels);
});

Deno.test("ImageStore.sample() draws distinct indices uniformly", () => {
  const store = new ImageStore(SIZE);
  for (let s = 0; s < 50; s++) store.add(image(s));
  const rng = new Random(9);
  const counts = new Array(50).fill(0);
  for (let round = 0; round < 2000; round++) {
    for (const count of [5, 40]) {
      const drawn = store.sample(count, rng);
      assert.equal(new Set(drawn).size, count);
      assert.ok(drawn.every((i) => Number.isInteger(i) && i >= 0 && i < 50));
      if (count === 5) drawn.forEach((i) => counts[i]++);
    }
  }
  // Each index is drawn 2000 * 5 / 50 = 200 times on average; sd is about 13.
  assert.ok(counts.every((c) => c > 140 && c < 260), `counts ${counts}`);
  const firsts = new Array(50).fill(0);
  for (let round = 0; round < 5000; round++) firsts[store.sample(3, rng)[0]]++;
  assert.ok(firsts.every((c) => c > 50 && c < 160), "the order is random too");
  assert.deepEqual(store.sample(80, rng).sort((a, b) => a - b), [...Array(50).keys()]);
  assert.deepEqual(new ImageStore(SIZE).sample(3, rng), []);
  assert.throws(() => store.sample(-1, rng), /non-negative integer/);
});

Deno.test("ImageStore.save() and load() round-trip, appending only new images", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = new ImageStore(SIZE);
    for (let s = 0; s < 10; s++) store.add(image(s, s % 2 ? "odd" : undefined));
    await store.save(dir);
    for (let s = 10; s < 15; s++) store.add(image(s));
    await store.save(dir);
    assert.equal((await Deno.stat(join(dir, STORE_FILES.pixels))).size, 15 * STRIDE);
    const loaded = await ImageStore.load(dir, SIZE);
    assertHolds(loaded, Array.from({ length: 15 }, (_, s) => s));
    assert.deepEqual(loaded.view().labels, store.view().labels);
    loaded.add(image(15));
    await loaded.save(dir);
    assertHolds(await ImageStore.load(dir, SIZE), Array.from({ length: 16 }, (_, s) => s));
    await assert.rejects(ImageStore.load(dir, SIZE + 1), /size 4, expected 5/);
    const empty = await ImageStore.load(join(dir, "nothing-here"), SIZE);
    assert.equal(empty.n, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ImageStore.load() after a crash keeps the consistent prefix", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = new ImageStore(SIZE);
    for (let s = 0; s < 6; s++) store.add(image(s));
    await store.save(dir);
    const pixels = join(dir, STORE_FILES.pixels);
    // A crash mid-append: two and a half images written, the index not yet replaced.
    const extra = new Uint8Array(2.5 * STRIDE).fill(99);
    await Deno.writeFile(pixels, extra, { append: true });
    const loaded = await ImageStore.load(dir, SIZE);
    assertHolds(loaded, [0, 1, 2, 3, 4, 5]);
    assert.equal((await Deno.stat(pixels)).size, 6 * STRIDE, "trailing bytes truncated");
    // The loaded store appends after the prefix, and a later load sees it all.
    loaded.add(image(6));
    await Deno.writeFile(pixels, extra, { append: true });
    await loaded.save(dir);
    assertHolds(await ImageStore.load(dir, SIZE), [0, 1, 2, 3, 4, 5, 6]);
    // A crash before the first index was written: pixels but no index, so nothing is kept.
    await Deno.remove(join(dir, STORE_FILES.index));
    await Deno.writeFile(join(dir, `${STORE_FILES.index}.tmp-dead`), new Uint8Array([123]));
    const none = await ImageStore.load(dir, SIZE);
    assert.equal(none.n, 0);
    assert.equal((await Deno.stat(pixels)).size, 0);
    // An index that promises more than the pixel file holds keeps the images it can.
    await store.save(join(dir, "other"));
    await Deno.truncate(join(dir, "other", STORE_FILES.pixels), 4 * STRIDE + 3);
    assertHolds(await ImageStore.load(join(dir, "other"), SIZE), [0, 1, 2, 3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ImageStore.save() to a directory of another store replaces it whole", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = new ImageStore(SIZE);
    for (let s = 0; s < 8; s++) first.add(image(s));
    await first.save(dir);
    const second = new ImageStore(SIZE);
    for (let s = 20; s < 23; s++) second.add(image(s));
    await Promise.all([second.save(dir), second.save(dir)]);
    assertHolds(await ImageStore.load(dir, SIZE), [20, 21, 22]);
    assert.equal((await Deno.stat(join(dir, STORE_FILES.pixels))).size, 3 * STRIDE);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
