/**
 * Exactly once on the bus across a restart later than the duplicate window (issue 13, finding
 * 10): a stream that crashed before its first checkpoint publishes its images again on restart,
 * with the same message ids; JetStream alone (window 500 ms here) would store them twice, the
 * publish ledger skips what is already stored.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startStream } from "../../pipelines/stream.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { storedIds } from "../../src/transport/stored_ids.ts";
import { natsTest } from "../_nats.ts";
import { smallStreamSettings } from "./_small_stream.ts";

await initBackend("wasm");

const SHAPES = new URL("../../fixtures/shapes", import.meta.url).pathname;
const NAME = "restartonce";
// No clustering: images and refusals only, so the test is about what a restart republishes.
const { config, rounds } = smallStreamSettings(1000);

natsTest(
  "stream on NATS - a restart after longer than the duplicate window stores each image once",
  async ({ server }) => {
    const root = await Deno.makeTempDir({ prefix: "scanstream_restart_" });
    const watch = join(root, "inbox");
    await Deno.mkdir(watch);
    const names = [...Deno.readDirSync(SHAPES)].map((e) => e.name).filter((n) => n.endsWith(".png"))
      .sort().slice(0, 8);
    for (const name of names) await Deno.copyFile(join(SHAPES, name), join(watch, name));
    const bus = await NatsBus.connect({
      servers: server.url,
      name: NAME,
      duplicateWindowMs: 500,
      reconnectTimeWaitMs: 100,
    });
    const run = async (stateDir: string) => {
      const stream = await startStream({
        watch,
        bus,
        name: NAME,
        config,
        rounds,
        stateDir,
        ingest: { stableMs: 50, rescanIntervalMs: 500 },
        batchWaitMs: 50,
      });
      const deadline = Date.now() + 30_000;
      while (stream.trainer.store.n < names.length && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return await stream.stop();
    };
    try {
      assert.equal((await run(join(root, "first"))).images, names.length);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      // A crash before the first checkpoint leaves no state: the restart starts from nothing.
      assert.equal((await run(join(root, "crashed"))).images, names.length);
      const stored = await storedIds(bus.connection, bus.stream, 1);
      const images = [...stored.ids].filter((id) => id.startsWith("image:"));
      assert.equal(images.length, names.length);
      assert.equal(stored.lastSeq, names.length, "no message stored twice");
    } finally {
      await bus.close();
      await Deno.remove(root, { recursive: true });
    }
  },
);
