/**
 * The behaviour every `Bus` must have, as functions over a fresh bus for pipeline "t"; the
 * memory and NATS test files register them, so both implementations are held to one contract.
 */
import assert from "node:assert/strict";
import { firstValueFrom, type Observable, take, timeout, toArray } from "rxjs";
import { type Bus, BusError, type BusMessage, json, publishJson } from "../../src/transport/bus.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { decodeTensor, encodeTensor } from "../../src/transport/tensor_codec.ts";

export const PIPELINE = "t";
const S = subjects(PIPELINE);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The first `n` messages, failing after `ms`. */
export function collect(source: Observable<BusMessage>, n: number, ms = 5000) {
  return firstValueFrom(source.pipe(take(n), toArray(), timeout(ms)));
}

/** Resolve once `predicate` holds, polling; fail with `what` after `ms`. */
export async function eventually(predicate: () => boolean, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const text = (msg: BusMessage) => decoder.decode(msg.payload);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export type Case = (bus: Bus) => Promise<void>;

export const contract: Record<string, Case> = {
  "delivers live messages with headers, and JSON through the helpers": async (bus) => {
    await bus.publish(S.assignments, encoder.encode("before"));
    const got = collect(bus.subscribe(S.assignments), 2);
    await bus.publish(S.assignments, encoder.encode("x"), { headers: { "scan-version": "3" } });
    await publishJson(bus, S.assignments, { id: "a", cluster: 2, confidence: 0.5 }, "a@1");
    const [first, second] = await got;
    assert.equal(text(first), "x", "a live subscriber sees only what comes after it");
    assert.equal(first.subject, S.assignments);
    assert.equal(first.headers["scan-version"], "3");
    assert.deepEqual(json(second), { id: "a", cluster: 2, confidence: 0.5 });
    assert.equal(second.headers["content-type"], "application/json");
    assert.throws(() => json(first), /Cannot parse message on scan\.t\.assignments as JSON/);
  },

  "replays stored messages to a late subscriber with deliverAll, then goes on live": async (
    bus,
  ) => {
    for (const id of ["1", "2", "3"]) await bus.publish(S.clusters, encoder.encode(id));
    const got = collect(bus.subscribe(S.clusters, { deliverAll: true }), 4);
    await sleep(100);
    await bus.publish(S.clusters, encoder.encode("4"));
    assert.deepEqual((await got).map(text), ["1", "2", "3", "4"]);
    const again = await collect(bus.subscribe(S.clusters, { deliverAll: true }), 4);
    assert.deepEqual(again.map(text), ["1", "2", "3", "4"], "every late subscriber replays");
  },

  "stores a message published twice with one msgId once": async (bus) => {
    await bus.publish(S.labels, encoder.encode("a"), { msgId: "img-1" });
    await bus.publish(S.labels, encoder.encode("a again"), { msgId: "img-1" });
    await bus.publish(S.labels, encoder.encode("b"), { msgId: "img-2" });
    const got = await collect(bus.subscribe(S.labels, { deliverAll: true }), 2);
    assert.deepEqual(got.map(text), ["a", "b"]);
  },

  "gives each message of a queue to exactly one of its subscribers": async (bus) => {
    const a: string[] = [];
    const b: string[] = [];
    const subA = bus.subscribe(S.images, { queue: "embedders", deliverAll: true })
      .subscribe((m) => a.push(text(m)));
    const subB = bus.subscribe(S.images, { queue: "embedders", deliverAll: true })
      .subscribe((m) => b.push(text(m)));
    try {
      const sent = Array.from({ length: 30 }, (_, i) => `img-${i}`);
      for (const id of sent) await bus.publish(S.images, encoder.encode(id), { msgId: id });
      await eventually(() => a.length + b.length >= sent.length, "30 queued messages");
      await sleep(200);
      assert.equal(a.length + b.length, sent.length, "no message goes to both members");
      assert.deepEqual([...a, ...b].sort(), [...sent].sort());
    } finally {
      subA.unsubscribe();
      subB.unsubscribe();
    }
  },

  "stops delivering to a queue member once it unsubscribes": async (bus) => {
    const a: string[] = [];
    const b: string[] = [];
    const subA = bus.subscribe(S.embeddings, { queue: "w", deliverAll: true })
      .subscribe((m) => a.push(text(m)));
    const subB = bus.subscribe(S.embeddings, { queue: "w", deliverAll: true })
      .subscribe((m) => b.push(text(m)));
    try {
      await bus.publish(S.embeddings, encoder.encode("warm-up"));
      await eventually(() => a.length + b.length === 1, "the warm-up message");
      subA.unsubscribe();
      await sleep(100);
      const before = a.length;
      for (let i = 0; i < 10; i++) await bus.publish(S.embeddings, encoder.encode(`e${i}`));
      await eventually(() => b.filter((x) => x.startsWith("e")).length === 10, "10 to member B");
      assert.equal(a.length, before, "an unsubscribed member receives nothing more");
    } finally {
      subA.unsubscribe();
      subB.unsubscribe();
    }
  },

  "resumes a durable subscriber where it left off": async (bus) => {
    await bus.publish(S.errors, encoder.encode("e1"));
    await bus.publish(S.errors, encoder.encode("e2"));
    const first = await collect(
      bus.subscribe(S.errors, { durable: "auditor", deliverAll: true }),
      2,
    );
    assert.deepEqual(first.map(text), ["e1", "e2"]);
    await sleep(100);
    await bus.publish(S.errors, encoder.encode("e3"));
    await bus.publish(S.errors, encoder.encode("e4"));
    const second = await collect(bus.subscribe(S.errors, { durable: "auditor" }), 2);
    assert.deepEqual(second.map(text), ["e3", "e4"], "messages seen before are not redelivered");
  },

  "carries a tensor as raw bytes with shape and dtype headers": async (bus) => {
    const data = Float32Array.from({ length: 2 * 4 * 4 * 3 }, (_, i) => i / 7 - 3);
    const { payload, headers } = encodeTensor({ data, shape: [2, 4, 4, 3] });
    const got = collect(bus.subscribe(S.neighbours), 1);
    await bus.publish(S.neighbours, payload, { headers });
    const [msg] = await got;
    const out = decodeTensor(msg.payload, msg.headers);
    assert.deepEqual(out.shape, [2, 4, 4, 3]);
    assert.deepEqual(out.data, data);
  },

  "answers requests, reports responder failures, missing responders and timeouts": async (
    bus,
  ) => {
    const responder = bus.reply(S.classify, async (msg) => {
      const image = text(msg);
      if (image === "slow") await sleep(1000);
      if (image === "broken") throw new Error("Cannot classify: image is empty");
      return { payload: encoder.encode(`cluster of ${image}`), headers: { "scan-cluster": "4" } };
    });
    try {
      const reply = await bus.request(S.classify, encoder.encode("img"), { timeoutMs: 2000 });
      assert.equal(text(reply), "cluster of img");
      assert.equal(reply.headers["scan-cluster"], "4");
      await assert.rejects(
        bus.request(S.classify, encoder.encode("broken"), { timeoutMs: 2000 }),
        (e) => e instanceof BusError && e.code === "remote" && /image is empty/.test(e.message),
      );
      await assert.rejects(
        bus.request(S.classify, encoder.encode("slow"), { timeoutMs: 100 }),
        (e) => e instanceof BusError && e.code === "timeout",
      );
      await sleep(1000);
    } finally {
      responder.unsubscribe();
    }
    await sleep(50);
    await assert.rejects(
      bus.request(S.classify, encoder.encode("img"), { timeoutMs: 1000 }),
      (e) => e instanceof BusError && e.code === "no-responders",
    );
  },

  "refuses durable and deliverAll subscriptions on a subject that is not kept": async (bus) => {
    await assert.rejects(
      collect(bus.subscribe(S.classify, { deliverAll: true }), 1),
      (e) => e instanceof RangeError && /not keep|not kept/.test(e.message),
    );
    await assert.rejects(collect(bus.subscribe(S.classify, { durable: "d" }), 1), RangeError);
    await assert.rejects(
      collect(bus.subscribe(S.images, { durable: "a", queue: "b" }), 1),
      TypeError,
    );
  },

  "completes subscriptions and refuses work once closed": async (bus) => {
    const live = firstValueFrom(bus.subscribe(S.assignments).pipe(toArray()));
    const replay = firstValueFrom(
      bus.subscribe(S.assignments, { deliverAll: true }).pipe(toArray()),
    );
    await bus.publish(S.assignments, encoder.encode("only"));
    await sleep(200);
    await bus.close();
    assert.deepEqual((await live).map(text), ["only"]);
    assert.deepEqual((await replay).map(text), ["only"]);
    await assert.rejects(
      bus.publish(S.assignments, encoder.encode("late")),
      (e) => e instanceof BusError && e.code === "closed",
    );
    await bus.close();
  },
};
