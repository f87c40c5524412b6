import assert from "node:assert/strict";
import { BusError } from "../../src/transport/bus.ts";
import { MemoryBus } from "../../src/transport/memory_bus.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { collect, contract, PIPELINE } from "./_bus_contract.ts";

for (const [name, run] of Object.entries(contract)) {
  Deno.test(`MemoryBus - ${name}`, async () => {
    const bus = MemoryBus.forPipeline(PIPELINE);
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

Deno.test("MemoryBus - replays only the last replayLimit messages and forgets their msgIds", async () => {
  const bus = MemoryBus.forPipeline(PIPELINE, { replayLimit: 3 });
  try {
    for (let i = 0; i < 5; i++) {
      await bus.publish(S.images, encoder.encode(`m${i}`), { msgId: `m${i}` });
    }
    await bus.publish(S.images, encoder.encode("m0 again"), { msgId: "m0" });
    const got = await collect(bus.subscribe(S.images, { deliverAll: true }), 3);
    assert.deepEqual(got.map((m) => decoder.decode(m.payload)), ["m3", "m4", "m0 again"]);
  } finally {
    await bus.close();
  }
});

Deno.test("MemoryBus - alternates queue members and copies payloads per delivery", async () => {
  const bus = MemoryBus.forPipeline(PIPELINE);
  const seen: string[] = [];
  const subs = ["a", "b"].map((who) =>
    bus.subscribe(S.images, { queue: "q" }).subscribe((m) => {
      seen.push(`${who}:${decoder.decode(m.payload)}`);
      m.payload.fill(0);
    })
  );
  const watcher = collect(bus.subscribe(S.images), 4);
  try {
    const payload = encoder.encode("p");
    for (let i = 0; i < 4; i++) await bus.publish(S.images, payload);
    payload.fill(0);
    const all = await watcher;
    assert.deepEqual(all.map((m) => decoder.decode(m.payload)), ["p", "p", "p", "p"]);
    assert.deepEqual(seen, ["a:p", "b:p", "a:p", "b:p"]);
  } finally {
    subs.forEach((s) => s.unsubscribe());
    await bus.close();
  }
});

Deno.test("MemoryBus - publish refuses wildcard subjects and a closed bus rejects requests", async () => {
  const bus = new MemoryBus();
  await assert.rejects(async () => await bus.publish("scan.t.*", new Uint8Array()), RangeError);
  await assert.rejects(async () => await bus.publish("scan..x", new Uint8Array()), RangeError);
  bus.reply("x", () => new Promise(() => {}));
  const pending = bus.request("x", new Uint8Array(), { timeoutMs: 10_000 });
  await bus.close();
  await assert.rejects(pending, (e) => e instanceof BusError && e.code === "closed");
  assert.throws(() => new MemoryBus({ replayLimit: 0 }), RangeError);
});
