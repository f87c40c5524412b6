import assert from "node:assert/strict";
import { BusError, type BusMessage } from "../../src/transport/bus.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { freePort, startNatsServer } from "../../src/transport/nats_server.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { natsTest } from "../_nats.ts";
import { collect, contract, eventually, PIPELINE } from "./_bus_contract.ts";

for (const [name, run] of Object.entries(contract)) {
  natsTest(`NatsBus - ${name}`, async ({ server }) => {
    const bus = await NatsBus.connect({ servers: server.url, name: PIPELINE });
    try {
      await run(bus);
    } finally {
      await bus.close();
    }
  });
}

const S = subjects(PIPELINE);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (m: BusMessage) => decoder.decode(m.payload);

natsTest("NatsBus - a second bus on the same pipeline shares the stream", async ({ server }) => {
  const a = await NatsBus.connect({ servers: server.url, name: PIPELINE, maxAgeMs: 3_600_000 });
  const b = await NatsBus.connect({ servers: server.url, name: PIPELINE, maxAgeMs: 7_200_000 });
  try {
    assert.equal(a.stream, "SCAN_t");
    await a.publish(S.assignments, encoder.encode("from a"), { msgId: "1" });
    await b.publish(S.assignments, encoder.encode("from b, same id"), { msgId: "1" });
    await b.publish(S.assignments, encoder.encode("from b"), { msgId: "2" });
    const got = await collect(b.subscribe(S.assignments, { deliverAll: true }), 2);
    assert.deepEqual(got.map(text), ["from a", "from b"]);
  } finally {
    await a.close();
    await b.close();
  }
});

natsTest(
  "NatsBus - messages published across a server restart are each stored and delivered once",
  async ({ binary }) => {
    const storeDir = await Deno.makeTempDir({ prefix: "scanstream-nats-restart-" });
    const port = freePort();
    let server = await startNatsServer({ binary, storeDir, port });
    const bus = await NatsBus.connect({
      servers: server.url,
      name: PIPELINE,
      reconnectTimeWaitMs: 100,
    });
    const live: string[] = [];
    const follower = bus.subscribe(S.images, { durable: "follower", deliverAll: true })
      .subscribe((m) => live.push(text(m)));
    try {
      const sent = Array.from({ length: 40 }, (_, i) => `img-${i}`);
      const publishing = (async () => {
        for (const id of sent) {
          await bus.publish(S.images, encoder.encode(id), { msgId: id });
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      })();
      await eventually(() => live.length >= 10, "10 messages before the restart");
      await server.stop();
      const receivedBeforeRestart = live.length;
      const stoppedAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      server = await startNatsServer({ binary, storeDir, port });
      await publishing;
      const downMs = Date.now() - stoppedAt;
      assert.ok(downMs >= 2000, `the server was down ${downMs} ms`);
      assert.ok(receivedBeforeRestart < sent.length - 10, "publishing went on through the outage");

      const stored = await collect(bus.subscribe(S.images, { deliverAll: true }), sent.length);
      assert.deepEqual(stored.map(text), sent, "the stream holds each message once, in order");
      await eventually(
        () => new Set(live).size === sent.length,
        "the follower to catch up",
        10_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual([...new Set(live)].sort(), [...sent].sort());
      assert.equal(live.length, sent.length, "the durable follower sees each message once");
    } finally {
      follower.unsubscribe();
      await bus.close();
      await server.stop();
      await Deno.remove(storeDir, { recursive: true });
    }
  },
);

natsTest(
  "NatsBus - a publish fails with buffer-full beyond maxPendingPublishes",
  async ({ server }) => {
    const bus = await NatsBus.connect({
      servers: server.url,
      name: PIPELINE,
      maxPendingPublishes: 2,
      publishRetryMs: 500,
      reconnectTimeWaitMs: 100,
    });
    try {
      await server.stop();
      const waiting = [0, 1].map((i) => bus.publish(S.images, encoder.encode(`w${i}`)));
      await assert.rejects(
        bus.publish(S.images, encoder.encode("third")),
        (e) => e instanceof BusError && e.code === "buffer-full",
      );
      for (const p of waiting) {
        await assert.rejects(p, (e) => e instanceof BusError && e.code === "timeout");
      }
    } finally {
      await bus.close();
    }
  },
);

natsTest("NatsBus.connect() waits for a server that is not up yet", async ({ binary }) => {
  const port = freePort();
  const connecting = NatsBus.connect({
    servers: `nats://127.0.0.1:${port}`,
    name: PIPELINE,
    reconnectTimeWaitMs: 100,
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const server = await startNatsServer({ binary, port });
  try {
    const bus = await connecting;
    try {
      await bus.publish(S.errors, encoder.encode("after start"));
      const [msg] = await collect(bus.subscribe(S.errors, { deliverAll: true }), 1);
      assert.equal(text(msg), "after start");
    } finally {
      await bus.close();
    }
  } finally {
    await server.stop();
  }
});

Deno.test("NatsBus.connect() refuses limits that contradict each other before connecting", async () => {
  const servers = "nats://127.0.0.1:1";
  await assert.rejects(
    NatsBus.connect({ servers, name: "t", maxAgeMs: 60_000, duplicateWindowMs: 120_000 }),
    /duplicateWindowMs must not exceed maxAgeMs/,
  );
  await assert.rejects(
    NatsBus.connect({ servers, name: "t", duplicateWindowMs: 1000, publishRetryMs: 5000 }),
    /publishRetryMs must not exceed duplicateWindowMs/,
  );
  await assert.rejects(NatsBus.connect({ servers, name: "a.b" }), RangeError);
  await assert.rejects(NatsBus.connect({ servers, name: "t", maxBytes: -1 }), RangeError);
});
