import assert from "node:assert/strict";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { streamName, subjects } from "../../src/transport/subjects.ts";
import {
  pullBatches,
  type WorkItem,
  type WorkQueueOptions,
} from "../../src/transport/work_queue.ts";
import { natsTest } from "../_nats.ts";

const PIPELINE = "wq";
const S = subjects(PIPELINE);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function queue(overrides: Partial<WorkQueueOptions> = {}): WorkQueueOptions {
  return {
    stream: streamName(PIPELINE),
    subject: S.images,
    durable: "embed",
    ackWaitMs: 1000,
    batch: 4,
    expiresMs: 1000,
    ...overrides,
  };
}

/** Pull until `count` items came or `ms` passed; returns them unacknowledged. */
async function take(bus: NatsBus, count: number, ms: number): Promise<WorkItem[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  const got: WorkItem[] = [];
  for await (const items of pullBatches(bus.connection, queue(), abort.signal)) {
    got.push(...items);
    if (got.length >= count) break;
  }
  clearTimeout(timer);
  return got;
}

const text = (item: WorkItem) => decoder.decode(item.message.payload);

natsTest(
  "pullBatches() - members share the work, each message once while acked",
  async ({ server }) => {
    const a = await NatsBus.connect({ servers: server.url, name: PIPELINE });
    const b = await NatsBus.connect({ servers: server.url, name: PIPELINE });
    try {
      for (let i = 0; i < 8; i++) {
        await a.publish(S.images, encoder.encode(`m${i}`), { msgId: `m${i}` });
      }
      const [first, second] = await Promise.all([take(a, 4, 3000), take(b, 4, 3000)]);
      for (const item of [...first, ...second]) item.ack();
      const all = [...first, ...second].map(text).sort();
      assert.deepEqual(all, Array.from({ length: 8 }, (_, i) => `m${i}`));
      assert.ok(first.length > 0 && second.length > 0, `${first.length} / ${second.length}`);
      assert.deepEqual(await take(a, 1, 1500), [], "acknowledged work is not delivered again");
    } finally {
      await a.close();
      await b.close();
    }
  },
);

natsTest(
  "pullBatches() - a member that dies holding a batch: another gets it after the ack wait",
  async ({ server }) => {
    const dying = await NatsBus.connect({ servers: server.url, name: PIPELINE });
    const survivor = await NatsBus.connect({ servers: server.url, name: PIPELINE });
    try {
      for (let i = 0; i < 3; i++) {
        await survivor.publish(S.images, encoder.encode(`m${i}`), { msgId: `m${i}` });
      }
      const held = await take(dying, 3, 3000);
      assert.equal(held.length, 3);
      assert.ok(held.every((item) => item.deliveries === 1));
      await dying.close(); // Never acknowledged: as a process killed mid-batch.
      const started = Date.now();
      const again = await take(survivor, 3, 5000);
      assert.deepEqual(again.map(text).sort(), ["m0", "m1", "m2"]);
      assert.ok(again.every((item) => item.deliveries === 2));
      assert.ok(Date.now() - started >= 500, "redelivered only once the ack wait ran out");
      for (const item of again) item.ack();
    } finally {
      await dying.close();
      await survivor.close();
    }
  },
);

natsTest("pullBatches() - a terminated message is never delivered again", async ({ server }) => {
  const bus = await NatsBus.connect({ servers: server.url, name: PIPELINE });
  try {
    await bus.publish(S.images, encoder.encode("bad"), { msgId: "bad" });
    const [item] = await take(bus, 1, 3000);
    item.term();
    assert.deepEqual(await take(bus, 1, 2000), []);
  } finally {
    await bus.close();
  }
});

natsTest(
  "pullBatches() - a pull whose heartbeats came late (a stalled server) ends empty, and the next one delivers",
  async ({ server }) => {
    const bus = await NatsBus.connect({ servers: server.url, name: PIPELINE });
    const abort = new AbortController();
    try {
      const batches = pullBatches(bus.connection, queue(), abort.signal);
      assert.deepEqual((await batches.next()).value, [], "an idle pull expires empty");
      // The next pull starts; the server stops answering for longer than two heartbeats (2 x
      // 500 ms at expires 1000 ms), as a machine under load can stall it.
      const pending = batches.next();
      Deno.kill(server.pid, "SIGSTOP");
      await new Promise((resolve) => setTimeout(resolve, 1800));
      Deno.kill(server.pid, "SIGCONT");
      const stalled = await pending;
      assert.equal(stalled.done, false, "the stall did not end the batches");
      await bus.publish(S.images, encoder.encode("after"), { msgId: "after" });
      const got: WorkItem[] = [];
      for (let i = 0; i < 5 && got.length === 0; i++) {
        got.push(...((await batches.next()).value ?? []));
      }
      assert.deepEqual(got.map(text), ["after"]);
      for (const item of got) item.ack();
      abort.abort();
      await batches.return(undefined);
    } finally {
      Deno.kill(server.pid, "SIGCONT");
      await bus.close();
    }
  },
);
