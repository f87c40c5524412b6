/**
 * Fault: the NATS server stops for 10 s in the middle of a stream and comes back on the same
 * port with the same JetStream store. The stream must keep storing and assigning meanwhile (its
 * publishes wait in the outbox and retry in the bus), and once the server is back the pipeline's
 * stream must hold every image's assignment exactly once (message ids make retries count once;
 * the duplicate window, 2 minutes, covers the outage and the bus's 60 s of retries).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { firstValueFrom, type Observable, take, timeout, toArray } from "rxjs";
import { startStream } from "../../pipelines/stream.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { type AssignmentEvent, assignmentEvent, decodeEvent } from "../../src/stream/events.ts";
import type { BusMessage } from "../../src/transport/bus.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { freePort, startNatsServer } from "../../src/transport/nats_server.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { natsTest } from "../_nats.ts";
import { smallStreamSettings } from "./_small_stream.ts";

await initBackend("wasm");

const SHAPES = new URL("../../fixtures/shapes", import.meta.url).pathname;
const NAME = "outage";
const OUTAGE_MS = 10_000;

const { config, rounds } = smallStreamSettings();

async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The first `count` messages of a replaying subscription, then any extra within `quietMs`. */
async function stored(messages: Observable<BusMessage>, count: number, quietMs = 1500) {
  const got: BusMessage[] = [];
  const subscription = messages.subscribe((m) => got.push(m));
  try {
    await waitFor(`${count} stored messages (have ${got.length})`, () => got.length >= count);
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    return got;
  } finally {
    subscription.unsubscribe();
  }
}

natsTest(
  "stream on NATS - a 10 s server outage mid-stream: ingestion goes on, and afterwards every image's assignment is stored exactly once",
  async ({ binary }) => {
    const root = await Deno.makeTempDir({ prefix: "scanstream_outage_" });
    const watch = join(root, "inbox");
    await Deno.mkdir(watch);
    const storeDir = join(root, "nats");
    const port = freePort();
    let server = await startNatsServer({ binary, storeDir, port });
    const names = [...Deno.readDirSync(SHAPES)].map((e) => e.name).filter((n) => n.endsWith(".png"))
      .sort().slice(0, 60);
    const copy = async (from: number, to: number) => {
      for (const name of names.slice(from, to)) {
        await Deno.copyFile(join(SHAPES, name), join(watch, name));
      }
    };
    const bus = await NatsBus.connect({
      servers: server.url,
      name: NAME,
      reconnectTimeWaitMs: 250,
      duplicateWindowMs: 120_000,
      publishRetryMs: 60_000,
    });
    const s = subjects(NAME);
    try {
      await copy(0, 30);
      const stream = await startStream({
        watch,
        bus,
        name: NAME,
        config,
        rounds,
        stateDir: join(root, "state"),
        ingest: { stableMs: 50, rescanIntervalMs: 500 },
        batchWaitMs: 50,
      });
      try {
        await waitFor("the first clustering", () => stream.trainer.version >= 1);
        await server.stop();
        const downAt = Date.now();
        // Files land while the server is away: they are stored and assigned, and their events
        // wait in the outbox.
        await copy(30, 50);
        await waitFor(
          "the images dropped during the outage to be stored",
          () => stream.trainer.store.n === 50,
          OUTAGE_MS - 2000,
        );
        await waitFor("assignments waiting for the bus", () => stream.outbox.pending > 0, 2000);
        const pendingDuringOutage = stream.outbox.pending;
        assert.ok(Date.now() - downAt < OUTAGE_MS, "all of that happened during the outage");
        await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS - (Date.now() - downAt)));
        server = await startNatsServer({ binary, storeDir, port });
        await copy(50, 60);
        await waitFor("60 images stored", () => stream.trainer.store.n === 60);
        const summary = await stream.stop();
        assert.equal(summary.images, 60);
        assert.equal(summary.assigned, 60, "each assignment publish succeeded once");
        assert.ok(pendingDuringOutage > 0);
      } finally {
        await stream.stop().catch(() => {});
      }

      // What a consumer sees after recovery: the pipeline's JetStream stream, replayed.
      const assignments = (await stored(bus.subscribe(s.assignments, { deliverAll: true }), 60))
        .map((m) => decodeEvent(m.payload, assignmentEvent) as AssignmentEvent);
      assert.equal(assignments.length, 60, "no assignment stored twice");
      assert.deepEqual(assignments.map((a) => a.path).sort(), names, "each image once");
      assert.equal(new Set(assignments.map((a) => a.id)).size, 60);
      const images = await stored(bus.subscribe(s.images, { deliverAll: true }), 60, 500);
      assert.equal(images.length, 60, "each image event once");
      // A durable consumer created now starts from the first stored message too.
      const durable = await firstValueFrom(
        bus.subscribe(s.assignments, { durable: "after_outage", deliverAll: true }).pipe(
          take(60),
          toArray(),
          timeout(10_000),
        ),
      );
      assert.equal(new Set(durable.map((m) => m.headers["Nats-Msg-Id"])).size, 60);
    } finally {
      await bus.close();
      await server.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
);
