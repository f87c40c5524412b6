import assert from "node:assert/strict";
import { firstValueFrom, from, toArray } from "rxjs";
import { initBackend } from "../../src/backend/backend.ts";
import { decodeInWorkers, DecodePool, isDecoded } from "../../src/ingest/decode_pool.ts";
import { isRefusal, loadImageFile } from "../../src/image/load.ts";
import { toPixels } from "../../src/image/to_input.ts";
import { delay, fixtures, mkfifo, SANITIZE, withTempDir } from "./_helpers.ts";

await initBackend("cpu");

Deno.test({
  name:
    "decodeInWorkers() decodes in workers to the same pixels as the main thread, and refuses bad files",
  ...SANITIZE,
}, async () => {
  await withTempDir("pool", async (dir) => {
    await mkfifo(`${dir}/pipe.png`);
    const good = [`${fixtures}shapes/img_0001.png`, `${fixtures}shapes/img_0002.jpg`];
    const bad = [
      `${fixtures}bad/corrupt.png`,
      `${fixtures}bad/bomb_20000x20000.png`,
      `${dir}/missing.png`,
      `${dir}/pipe.png`,
      dir,
    ];
    const results = await firstValueFrom(
      from([...good, ...bad]).pipe(decodeInWorkers({ size: 16, workers: 2 }), toArray()),
    );
    assert.deepEqual(results.map((r) => r.path), [...good, ...bad]);
    for (const path of good) {
      const result = results.find((r) => r.path === path);
      assert.ok(result && isDecoded(result), path);
      const loaded = await loadImageFile(path);
      assert.ok(!isRefusal(loaded));
      assert.equal(result.id, loaded.id);
      assert.equal(result.width, loaded.width);
      assert.equal(result.height, loaded.height);
      assert.deepEqual(result.pixels, toPixels(loaded.rgb, loaded.width, loaded.height, 16));
    }
    const reasons = new Map(
      results.filter((r) => !isDecoded(r)).map((r) => [r.path, (r as { reason: string }).reason]),
    );
    assert.match(reasons.get(bad[0])!, /decode PNG/);
    assert.match(reasons.get(bad[1])!, /20000x20000/);
    assert.match(reasons.get(bad[2])!, /not found/);
    assert.match(reasons.get(bad[3])!, /named pipe/);
    assert.match(reasons.get(bad[4])!, /directory/);
  });
});

Deno.test(
  { name: "DecodePool keeps at most workers * perWorker files in flight", ...SANITIZE },
  async () => {
    const pool = new DecodePool({ size: 8, workers: 1, perWorker: 2 });
    try {
      const paths = Array.from(
        { length: 6 },
        (_, i) => `${fixtures}shapes/img_000${i + 1}.${i === 1 ? "jpg" : "png"}`,
      );
      const pending = paths.map((path) => pool.decode(path));
      assert.equal(pool.capacity, 2);
      assert.equal(pool.inFlight, 2);
      assert.equal(pool.waiting, 4);
      let peak = 0;
      const watch = setInterval(() => (peak = Math.max(peak, pool.inFlight)), 1);
      const results = await Promise.all(pending);
      clearInterval(watch);
      assert.ok(peak <= 2, `peak ${peak}`);
      assert.equal(pool.inFlight + pool.waiting, 0);
      assert.deepEqual(results.map((r) => r.path), paths);
    } finally {
      pool.close();
    }
  },
);

Deno.test({
  name: "decodeInWorkers() stops its workers on unsubscribe, settling what was in flight",
  ...SANITIZE,
}, async () => {
  const paths = Array.from({ length: 12 }, () => `${fixtures}shapes/img_0001.png`);
  const seen: unknown[] = [];
  const subscription = from(paths).pipe(decodeInWorkers({ size: 8 })).subscribe((r) => {
    seen.push(r);
  });
  while (seen.length === 0) await delay(10);
  subscription.unsubscribe();
  const count = seen.length;
  await delay(100);
  assert.equal(seen.length, count);
  assert.ok(count < paths.length);
  const pool = new DecodePool({ size: 8 });
  pool.close();
  assert.match((await pool.decode("x.png") as { reason: string }).reason, /stopped/);
  assert.throws(() => new DecodePool({ size: 0 }), /size must be a positive integer/);
});
