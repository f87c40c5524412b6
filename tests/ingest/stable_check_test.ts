import assert from "node:assert/strict";
import type { TreeEntry } from "../../src/ingest/scan_tree.ts";
import { StableCheck } from "../../src/ingest/stable_check.ts";
import { delay, SANITIZE } from "./_helpers.ts";

/** A fake file system: path -> [size, mtimeMs]. */
function fakeStat(files: Map<string, [number, number]>) {
  return (relative: string): Promise<TreeEntry | null> => {
    const file = files.get(relative);
    if (!file) return Promise.resolve(null);
    const [size, mtimeMs] = file;
    return Promise.resolve({
      relative,
      kind: "file",
      image: true,
      size,
      mtimeMs,
      links: 1,
      signature: `${size}:${mtimeMs}`,
    });
  };
}

Deno.test(
  { name: "StableCheck emits a path once it has been quiet for quietMs", ...SANITIZE },
  async () => {
    const files = new Map<string, [number, number]>([["a.png", [10, Date.now()]]]);
    const stable: string[] = [];
    const check = new StableCheck(
      fakeStat(files),
      { quietMs: 200, writtenQuietMs: 10_000 },
      (e) => {
        stable.push(e.relative);
      },
    );
    try {
      check.touch("a.png", false);
      await delay(30);
      assert.deepEqual(stable, []);
      await delay(400);
      assert.deepEqual(stable, ["a.png"]);
      assert.equal(check.size, 0);
    } finally {
      check.close();
    }
  },
);

Deno.test({
  name: "StableCheck waits while the file keeps changing, and drops a file that vanished",
  ...SANITIZE,
}, async () => {
  const files = new Map<string, [number, number]>([
    ["growing.png", [1, Date.now()]],
    ["gone.png", [1, Date.now()]],
  ]);
  const stable: string[] = [];
  const check = new StableCheck(fakeStat(files), { quietMs: 200, writtenQuietMs: 10_000 }, (e) => {
    stable.push(e.relative);
  });
  try {
    check.touch("growing.png", false);
    check.touch("gone.png", false);
    files.delete("gone.png");
    for (let i = 2; i < 6; i++) {
      await delay(30);
      files.set("growing.png", [i, Date.now()]);
    }
    assert.deepEqual(stable, []);
    await delay(600);
    assert.deepEqual(stable, ["growing.png"]);
    assert.equal(check.size, 0);
  } finally {
    check.close();
  }
});

Deno.test({
  name: "StableCheck gives written files the longer quiet period, and close() clears timers",
  ...SANITIZE,
}, async () => {
  const files = new Map<string, [number, number]>([["w.png", [5, Date.now() - 1000]]]);
  const stable: string[] = [];
  const check = new StableCheck(fakeStat(files), { quietMs: 20, writtenQuietMs: 60_000 }, (e) => {
    stable.push(e.relative);
  });
  check.touch("w.png", false);
  check.touch("w.png", true);
  await delay(100);
  assert.deepEqual(stable, []);
  assert.equal(check.size, 1);
  check.close();
  assert.equal(check.size, 0);
  check.touch("w.png", false);
  assert.equal(check.size, 0);
  assert.throws(
    () => new StableCheck(fakeStat(files), { quietMs: -1, writtenQuietMs: 0 }, () => {}),
    /quietMs must be a finite number >= 0, current value is -1/,
  );
});
