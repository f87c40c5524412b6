/**
 * Finding 7 of issue 13: the board had no bound on its event streams: 200 idle connections grew
 * its memory from 75 to 480 MB after about 300 pushes. Connections are bounded (one more is
 * answered 503), and so is what waits for one reader: a reader that does not read is dropped.
 */
import assert from "node:assert/strict";
import { startBoard } from "../../src/board/board_server.ts";
import { SseHub } from "../../src/board/sse.ts";
import { MemoryBus } from "../../src/transport/memory_bus.ts";

Deno.test("SseHub - the connection after maxConnections is refused with 503 and Retry-After", async () => {
  const hub = new SseHub({ maxConnections: 3 });
  try {
    const open = [hub.connect([]), hub.connect([]), hub.connect([])];
    for (const response of open) assert.equal(response.status, 200);
    const refused = hub.connect([]);
    assert.equal(refused.status, 503);
    assert.ok(refused.headers.get("retry-after"));
    await refused.body?.cancel();
    assert.equal(hub.size, 3);
    // A closed one frees its place.
    await open[0].body!.cancel();
    const again = hub.connect([]);
    assert.equal(again.status, 200);
    for (const response of [...open.slice(1), again]) await response.body!.cancel();
  } finally {
    hub.close();
  }
});

Deno.test("SseHub - a reader that never reads is dropped once maxBufferedBytes wait for it; one that reads stays", async () => {
  const hub = new SseHub({ maxBufferedBytes: 64 * 1024 });
  try {
    const idle = hub.connect([]);
    const reading = hub.connect([]);
    const reader = reading.body!.getReader();
    let received = 0;
    // The reading browser keeps up: a pump that reads as frames come.
    const pump = (async () => {
      while (true) {
        const next = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (next.done) return;
        received += next.value!.length;
      }
    })();
    const frame = `event: snapshot\ndata: ${"x".repeat(16 * 1024)}\n\n`;
    for (let i = 0; i < 300; i++) {
      hub.broadcast(frame);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    assert.equal(hub.size, 1, "the idle reader was dropped");
    assert.ok(received > 300 * 16 * 1024, `the reading browser got every frame (${received})`);
    // What the dropped stream holds is bounded, and it ends.
    const idleReader = idle.body!.getReader();
    let held = 0;
    while (true) {
      const next = await idleReader.read().catch(() => ({ done: true, value: undefined }));
      if (next.done) break;
      held += next.value!.length;
    }
    assert.ok(held <= 64 * 1024 + frame.length + 100, `held ${held} bytes`);
    await reader.cancel();
    await pump;
  } finally {
    hub.close();
  }
});

Deno.test("startBoard - over HTTP, the event stream after maxConnections gets 503", async () => {
  const bus = MemoryBus.forPipeline("t");
  const board = startBoard({ bus, name: "t", port: 0, maxConnections: 2 });
  const controllers: AbortController[] = [];
  try {
    const open = async () => {
      const controller = new AbortController();
      controllers.push(controller);
      return await fetch(`${board.url}events`, { signal: controller.signal });
    };
    const first = await open();
    const second = await open();
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    const third = await open();
    assert.equal(third.status, 503);
    await third.body?.cancel();
  } finally {
    for (const controller of controllers) controller.abort();
    await board.close();
    await bus.close();
  }
});

Deno.test("SseHub - over a real socket, a client that never reads is dropped, and memory stays bounded", async () => {
  const hub = new SseHub({ maxBufferedBytes: 256 * 1024 });
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => hub.connect([]),
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    await conn.write(new TextEncoder().encode("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    while (hub.size < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    const frame = `event: snapshot\ndata: ${"x".repeat(64 * 1024)}\n\n`;
    const before = Deno.memoryUsage().rss;
    // 64 MiB pushed at a client that reads nothing: far beyond what the socket buffers take.
    for (let i = 0; i < 1024 && hub.size > 0; i++) {
      hub.broadcast(frame);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    assert.equal(hub.size, 0, "the client that never reads was dropped");
    assert.equal(hub.dropped, 1);
    const grown = Deno.memoryUsage().rss - before;
    assert.ok(grown < 48 * 1024 * 1024, `RSS grew ${grown} bytes`);
  } finally {
    conn.close();
    hub.close();
    await server.shutdown();
  }
});
