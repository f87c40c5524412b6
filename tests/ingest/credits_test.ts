import assert from "node:assert/strict";
import { Credits } from "../../src/ingest/credits.ts";
import { ingest, type IngestedImage, isIngestRefusal } from "../../src/ingest/ingest.ts";
import { delay, fixtures, Recorder, SANITIZE, withTempDir } from "./_helpers.ts";

Deno.test("Credits - acquire waits while all are held, first come first served, and counts its peak", async () => {
  const credits = new Credits(2);
  await credits.acquire();
  await credits.acquire();
  const order: string[] = [];
  const a = credits.acquire().then(() => order.push("a"));
  const b = credits.acquire().then(() => order.push("b"));
  await delay(10);
  assert.deepEqual(order, [], "no credit is free");
  assert.equal(credits.waiting, 2);
  credits.release();
  await a;
  await delay(0);
  assert.deepEqual(order, ["a"]);
  credits.release(2);
  await b;
  assert.deepEqual(order, ["a", "b"]);
  assert.equal(credits.held, 1);
  assert.equal(credits.peak, 2);
  assert.throws(
    () => credits.release(2),
    /Cannot release credits: count must be an integer in \[0, 1\]/,
  );
  assert.throws(() => new Credits(0), RangeError);
});

Deno.test({
  name:
    "ingest() with credits stops reading files while the consumer holds them all, and goes on as they are released",
  ...SANITIZE,
}, async () => {
  await withTempDir("ingest_credits", async (dir) => {
    const names: string[] = [];
    for await (const entry of Deno.readDir(`${fixtures}shapes`)) {
      if (entry.name.endsWith(".png")) names.push(entry.name);
    }
    const files = names.sort().slice(0, 12);
    for (const name of files) await Deno.copyFile(`${fixtures}shapes/${name}`, `${dir}/${name}`);
    // A copy: the duplicate must give its credit back itself, or the ingest would stall.
    await Deno.copyFile(`${dir}/${files[0]}`, `${dir}/${files[0]}.copy.png`);
    const credits = new Credits(3);
    const recorder = new Recorder(
      ingest(dir, { size: 16, stableMs: 50, rescanIntervalMs: 0, credits, perWorker: 4 }),
    );
    try {
      await recorder.until((values) => values.length >= 3);
      // A consumer that holds what it got: nothing more is read however long it takes.
      await delay(500);
      assert.equal(recorder.values.length, 3);
      assert.equal(credits.held, 3);
      credits.release(2);
      await recorder.until((values) => values.length >= 5);
      await delay(300);
      assert.equal(recorder.values.length, 5);
      // Releasing as values come drains the rest: every distinct image once, none lost.
      while (recorder.values.length < files.length) {
        credits.release(credits.held);
        await delay(20);
      }
      const images = recorder.values.filter((v): v is IngestedImage => !isIngestRefusal(v));
      assert.deepEqual(images.map((v) => v.path).sort(), files);
      assert.equal(credits.peak, 3);
    } finally {
      recorder.stop();
    }
  });
});
