import assert from "node:assert/strict";
import { Outbox } from "../../src/transport/outbox.ts";

/** A publish that completes when the test says so. */
function gate() {
  let open!: () => void;
  let fail!: (error: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { publish: () => done, open, fail };
}

Deno.test("Outbox - send returns once started, waits while limit publishes are in flight, and flush waits for all", async () => {
  const outbox = new Outbox(2);
  const gates = [gate(), gate(), gate()];
  const confirmed: number[] = [];
  await outbox.send(gates[0].publish, () => confirmed.push(0));
  await outbox.send(gates[1].publish, () => confirmed.push(1));
  assert.equal(outbox.pending, 2);
  let third = false;
  const sending = outbox.send(gates[2].publish, () => confirmed.push(2)).then(() => (third = true));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(third, false, "the outbox is full: the sender waits");
  gates[1].open();
  await sending;
  assert.deepEqual(confirmed, [1]);
  assert.equal(outbox.pending, 2);
  let flushed = false;
  const flushing = outbox.flush().then(() => (flushed = true));
  gates[2].open();
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(flushed, false, "flush waits for the first publish");
  gates[0].open();
  await flushing;
  assert.deepEqual(confirmed.sort(), [0, 1, 2]);
  assert.equal(outbox.peak, 2);
  assert.throws(() => new Outbox(0), RangeError);
});

Deno.test("Outbox - a failed publish rejects failed, wakes waiting senders with its error, and is not confirmed", async () => {
  const outbox = new Outbox(1);
  const first = gate();
  const confirmed: string[] = [];
  await outbox.send(first.publish, () => confirmed.push("first"));
  const waiting = outbox.send(() => Promise.resolve(), () => confirmed.push("second"));
  first.fail(new Error("server away"));
  await assert.rejects(outbox.failed, /server away/);
  await assert.rejects(waiting, /server away/);
  await assert.rejects(outbox.send(() => Promise.resolve()), /server away/);
  await assert.rejects(outbox.flush(), /server away/);
  assert.deepEqual(confirmed, []);
});

Deno.test("Outbox - a publish that can never succeed (header with a newline) is dropped and reported, not fatal", async () => {
  const dropped: unknown[] = [];
  const outbox = new Outbox(1, { onDropped: (error) => dropped.push(error) });
  const invalid = Object.assign(new Error("'header' values cannot contain \\r or \\n"), {
    name: "InvalidArgumentError",
  });
  const confirmed: string[] = [];
  await outbox.send(() => Promise.reject(invalid), () => confirmed.push("bad"));
  await outbox.send(() => Promise.resolve(), () => confirmed.push("good"));
  await outbox.flush();
  assert.deepEqual(confirmed, ["good"], "the dropped publish is not confirmed");
  assert.deepEqual(dropped, [invalid]);
  assert.equal(outbox.dropped, 1);
  const settled = await Promise.race([
    outbox.failed.then(() => "resolved", () => "rejected"),
    new Promise((resolve) => setTimeout(() => resolve("pending"), 20)),
  ]);
  assert.equal(settled, "pending", "the outbox has not failed");
});
