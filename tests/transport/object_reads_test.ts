import assert from "node:assert/strict";
import type { ObjectResult, ObjectStore } from "@nats-io/obj";
import { listObjects, readObject } from "../../src/transport/object_reads.ts";
import { DeadlineError, withDeadline } from "../../src/util/deadline.ts";
import { natsTest } from "../_nats.ts";
import { connect } from "@nats-io/transport-node";
import { Objm } from "@nats-io/obj";

const never = <T>() => new Promise<T>(() => {});

Deno.test("withDeadline() passes a result on and fails a wait past its limit", async () => {
  assert.equal(await withDeadline(Promise.resolve(3), 1000, "three"), 3);
  await assert.rejects(withDeadline(Promise.reject(new Error("no")), 1000, "x"), /^Error: no$/);
  await assert.rejects(
    withDeadline(never(), 20, "waiting"),
    (e) => e instanceof DeadlineError && /waiting did not finish within 20 ms/.test(e.message),
  );
});

/** A store whose object sends `sent` chunks, then nothing more: the stall seen in CI. */
function stallingStore(sent: Uint8Array[]) {
  let cancelled = false;
  const store: Pick<ObjectStore, "get" | "list"> = {
    list: () => never(),
    get: () =>
      Promise.resolve({
        data: new ReadableStream<Uint8Array>({
          start(controller) {
            for (const chunk of sent) controller.enqueue(chunk);
          },
          cancel() {
            cancelled = true;
          },
        }),
        error: never(),
      } as unknown as ObjectResult),
  };
  return { store, cancelled: () => cancelled };
}

Deno.test("readObject() and listObjects() fail a stalled read and stop its consumer", async () => {
  const { store, cancelled } = stallingStore([new Uint8Array([1, 2])]);
  await assert.rejects(readObject(store, "0/a.bin", 30), /reading object 0\/a.bin did not finish/);
  assert.ok(cancelled(), "the stream behind the read was cancelled");
  await assert.rejects(listObjects(store, 30), /listing the object store did not finish/);
});

natsTest("readObject() and listObjects() read a real object store", async ({ server }) => {
  const nc = await connect({ servers: server.url });
  try {
    const store = await new Objm(nc).create("reads");
    const big = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
    await store.putBlob({ name: "1/big.bin" }, big);
    await store.putBlob({ name: "1/empty.bin" }, new Uint8Array(0));
    await store.putBlob({ name: "gone" }, new Uint8Array([1]));
    await store.delete("gone");
    assert.deepEqual((await listObjects(store)).map((i) => i.name).sort(), [
      "1/big.bin",
      "1/empty.bin",
    ]);
    assert.deepEqual(await readObject(store, "1/big.bin"), big);
    assert.deepEqual(await readObject(store, "1/empty.bin"), new Uint8Array(0));
    assert.equal(await readObject(store, "missing"), null);
    assert.equal(await readObject(store, "gone"), null);
  } finally {
    await nc.close();
  }
});
