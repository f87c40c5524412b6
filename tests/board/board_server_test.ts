import assert from "node:assert/strict";
import { Subject } from "rxjs";
import { connectionStateOf, startBoard } from "../../src/board/board_server.ts";
import { streamImageSource } from "../../src/board/image_source.ts";
import { encodeEvent, refusalEvent } from "../../src/stream/events.ts";
import { ImageStore } from "../../src/stream/store.ts";
import { MemoryBus } from "../../src/transport/memory_bus.ts";
import type { ConnectionChange } from "../../src/transport/nats_bus.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { encodeTensor } from "../../src/transport/tensor_codec.ts";
import { assigned, imageId, update } from "./_helpers.ts";

const S = subjects("t");

async function snapshotOf(url: string) {
  return await (await fetch(`${url}api/snapshot`)).json();
}

async function until<T>(what: string, get: () => Promise<T>, done: (value: T) => boolean) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await get();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("startBoard - replays the bus, serves images from the images subject, pushes changes over SSE", async () => {
  const bus = MemoryBus.forPipeline("t");
  const connection = new Subject<ConnectionChange>();
  const pixels = new Uint8Array(2 * 2 * 3).fill(200);
  const { payload, headers } = encodeTensor({ data: pixels, shape: [2, 2, 3] });
  await bus.publish(S.images, payload, {
    headers: { ...headers, "scan-id": imageId(1), "scan-path": "a.png" },
  });
  await bus.publish(S.assignments, encodeEvent(assigned(1, 0)));
  const board = startBoard({ bus, name: "t", port: 0, connection, pushEveryMs: 10 });
  try {
    assert.match(board.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const first = await until(
      "the replayed assignment",
      () => snapshotOf(board.url),
      (s) => s.assigned === 1,
    );
    assert.equal(first.neighbours, false);
    const thumb = await fetch(`${board.url}thumbs/${imageId(1)}.png`);
    assert.equal(thumb.status, 200);
    await thumb.body?.cancel();
    const unknown = await fetch(`${board.url}thumbs/${imageId(2)}.png`);
    assert.equal(unknown.status, 404, "an id seen only in an assignment has no pixels to serve");
    await unknown.body?.cancel();

    const events = await fetch(`${board.url}events`);
    const reader = events.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const read = async (done: (t: string) => boolean) => {
      while (!done(text)) text += decoder.decode((await reader.read()).value, { stream: true });
    };
    await read((t) => t.includes("event: snapshot"));
    await bus.publish(
      S.clusters,
      encodeEvent(update(2, [0, 1], [{ id: imageId(1), from: 0, to: 1 }])),
    );
    await bus.publish(
      S.errors,
      encodeEvent(refusalEvent({ path: "bad.png", reason: "not an image" })),
    );
    await read((t) => t.includes("bad.png") && t.includes('"version":2'));
    connection.next({ type: "disconnect", server: "127.0.0.1:4222" });
    connection.next({ type: "reconnecting" });
    await read((t) => t.includes('"state":"disconnected"'));
    connection.next({ type: "reconnect", server: "127.0.0.1:4222" });
    await read((t) =>
      t.lastIndexOf('"state":"connected"') > t.lastIndexOf('"state":"disconnected"')
    );
    await reader.cancel();
    const last = await snapshotOf(board.url);
    assert.deepEqual(last.clusters.map((c: { size: number }) => c.size), [0, 1]);
    assert.equal(last.refusals[0].path, "bad.png");
  } finally {
    await board.close();
    await board.close();
    await bus.close();
  }
});

Deno.test("startBoard - a malformed event is skipped and the board goes on", async () => {
  const bus = MemoryBus.forPipeline("t");
  const lines: string[] = [];
  const board = startBoard({ bus, name: "t", port: 0, log: (l) => lines.push(l) });
  try {
    await bus.publish(S.assignments, new TextEncoder().encode('{"id": 3}'));
    await bus.publish(S.assignments, encodeEvent(assigned(1, 0)));
    const snapshot = await until(
      "the good assignment",
      () => snapshotOf(board.url),
      (s) => s.assigned === 1,
    );
    assert.equal(snapshot.connection.state, "in-process");
    assert.ok(
      lines.some((l) => /skipped a message on scan\.t\.assignments/.test(l)),
      lines.join("\n"),
    );
  } finally {
    await board.close();
    await bus.close();
  }
});

Deno.test("connectionStateOf() maps NATS status changes to what the page says", () => {
  assert.equal(connectionStateOf({ type: "disconnect" }), "disconnected");
  assert.equal(connectionStateOf({ type: "reconnecting" }), "reconnecting");
  assert.equal(connectionStateOf({ type: "reconnect" }), "connected");
  assert.equal(connectionStateOf({ type: "close" }), "disconnected");
  assert.equal(connectionStateOf({ type: "ping" }), undefined);
});

Deno.test("streamImageSource() reads the stream's store and neighbour lists, and nothing else", () => {
  const store = new ImageStore(2);
  store.add({ id: imageId(1), path: "a.png", pixels: new Uint8Array(12).fill(1) });
  store.add({ id: imageId(2), path: "b.png", pixels: new Uint8Array(12).fill(2) });
  const source = streamImageSource({
    store,
    neighboursOf: (id) => store.has(id) ? [{ id: imageId(1), similarity: 1 }] : undefined,
  });
  const image = source.image(imageId(2))!;
  assert.equal(image.path, "b.png");
  assert.deepEqual(image.pixels, new Uint8Array(12).fill(2));
  assert.equal(source.image(imageId(3)), undefined);
  assert.deepEqual(source.neighbours(imageId(2)), [{ id: imageId(1), similarity: 1 }]);
  assert.equal(source.hasNeighbours, true);
});
