import assert from "node:assert/strict";
import { sseComment, sseFrame, SseHub } from "../../src/board/sse.ts";

/** Read from an event stream until `done(text)` holds. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  done: (text: string) => boolean,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  while (!done(text)) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

Deno.test("sseFrame() names the event, gives each data line its own field and ends with a blank line", () => {
  assert.equal(sseFrame("snapshot", '{"a":1}'), 'event: snapshot\ndata: {"a":1}\n\n');
  assert.equal(
    sseFrame("note", "one\ntwo\r\nthree\rfour"),
    "event: note\ndata: one\ndata: two\ndata: three\ndata: four\n\n",
  );
  assert.equal(sseFrame("empty", ""), "event: empty\ndata: \n\n");
});

Deno.test("sseFrame() refuses an event name that would break the frame", () => {
  assert.throws(() => sseFrame("a\nevent: b", "x"), RangeError);
  assert.throws(() => sseFrame("a\rb", "x"), /Cannot frame server-sent event/);
  assert.throws(() => sseFrame("", "x"), RangeError);
});

Deno.test("sseComment() is one comment line whatever the text holds", () => {
  assert.equal(sseComment("keep-alive"), ": keep-alive\n\n");
  assert.equal(sseComment("a\n\nb"), ": a b\n\n");
});

Deno.test("SseHub - a stream starts with the retry delay and its first frames, then gets broadcasts", async () => {
  const hub = new SseHub({ retryMs: 1500, heartbeatMs: 60_000 });
  try {
    const response = hub.connect([sseFrame("snapshot", "first")]);
    assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(response.headers.get("cache-control"), "no-store");
    const reader = response.body!.getReader();
    const start = await readUntil(reader, (t) => t.includes("data: first"));
    assert.equal(start, "retry: 1500\n\nevent: snapshot\ndata: first\n\n");
    assert.equal(hub.size, 1);
    hub.broadcast(sseFrame("snapshot", "second"));
    assert.equal(
      await readUntil(reader, (t) => t.includes("second")),
      "event: snapshot\ndata: second\n\n",
    );
    await reader.cancel();
    assert.equal(hub.size, 0, "a cancelled stream leaves the hub");
  } finally {
    hub.close();
  }
});

Deno.test("SseHub - sends keep-alive comments, and close() ends every stream", async () => {
  const hub = new SseHub({ heartbeatMs: 20 });
  const reader = hub.connect([]).body!.getReader();
  await readUntil(reader, (t) => t.includes(": keep-alive\n\n"));
  hub.close();
  await readUntil(reader, () => false);
  assert.equal((await reader.read()).done, true);
  hub.close();
});
