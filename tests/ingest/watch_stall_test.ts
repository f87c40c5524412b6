import assert from "node:assert/strict";
import { watchDirectory } from "../../src/ingest/watch_directory.ts";
import { delay, fixtures, mkfifo, Recorder, withTempDir } from "./_helpers.ts";

// Deno's watcher opens the path an event names, and an open of a FIFO blocks until a writer
// comes: an event on a FIFO stalls it. A FIFO new to a walk restarts it; this one is there from
// the start, so only the files the watcher never reported can tell the walk that it is stalled.
Deno.test("watchDirectory() restarts a watcher stalled on a FIFO that was there from the start", async () => {
  await withTempDir("watch_stall", async (dir) => {
    await mkfifo(`${dir}/pipe.fifo`);
    const walks: number[] = [];
    const recorder = new Recorder(
      watchDirectory(dir, {
        stableMs: 100,
        rescanIntervalMs: 3000,
        onWalk: ({ missed }) => walks.push(missed),
      }),
    );
    try {
      await delay(300);
      const png = await Deno.readFile(`${fixtures}shapes/img_0001.png`);
      // An event on the FIFO: the watcher stalls on it, and a.png's events are lost.
      await Deno.utime(`${dir}/pipe.fifo`, new Date(), new Date());
      await delay(200);
      await Deno.writeFile(`${dir}/a.png`, png);
      // Found by a walk, which also sees that the watcher said nothing about it.
      await recorder.until((files) => files.some((f) => f.relative === "a.png"), 8000);
      assert.ok(walks.length >= 1 && walks[0] === 1, `walks: ${walks}`);
      // The restarted watcher reports the next file at once, long before the next walk.
      const written = Date.now();
      await Deno.writeFile(`${dir}/b.png`, png);
      await recorder.until((files) => files.some((f) => f.relative === "b.png"), 2000);
      assert.ok(Date.now() - written < 1500, `b.png took ${Date.now() - written} ms`);
    } finally {
      recorder.stop();
    }
  });
});
