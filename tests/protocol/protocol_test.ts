/** The protocol's schemas: bounds, grammars and the messages of a refusal (issue 13). */
import assert from "node:assert/strict";
import { assignmentSchema, clusterUpdateSchema } from "../../src/protocol/events.ts";
import { storedNeighboursSchema } from "../../src/protocol/kv.ts";
import { announcementSchema, objectFile } from "../../src/protocol/models.ts";
import { parse, parseJson, ProtocolError } from "../../src/protocol/parse.ts";
import { refuseMessage } from "../../src/protocol/refuse.ts";
import { MemoryBus } from "../../src/transport/memory_bus.ts";
import {
  decodeEmbeddingMessage,
  decodeImageMessage,
  encodeEmbeddingMessage,
  encodeImageMessage,
} from "../../src/transport/stage_messages.ts";

const AT = "2026-01-01T00:00:00.000Z";

Deno.test("assignments: cluster ids are bounded by the pipeline's count, ids by their grammar", () => {
  const event = { id: "a1", path: "x.png", cluster: 3, confidence: 0.5, modelVersion: 1, at: AT };
  assert.deepEqual(parse(assignmentSchema(10), event, "assignment"), event);
  assert.throws(
    () => parse(assignmentSchema(10), { ...event, cluster: 2147483647 }, "assignment"),
    /cluster must be an integer in \[0, 10\), current value is 2147483647/,
  );
  assert.throws(
    () => parse(assignmentSchema(), { ...event, id: "a\nb" }, "assignment"),
    (error: Error) => error instanceof ProtocolError && !error.message.includes("\n"),
  );
  const update = {
    version: 1,
    at: AT,
    sizes: new Array(5).fill(0),
    moved: [],
    exemplars: new Array(5).fill([]),
    losses: {},
    images: 0,
  };
  assert.throws(
    () => parse(clusterUpdateSchema(4), update, "update"),
    /sizes must be an array of at most 4 items/,
  );
  assert.throws(
    () => parse(clusterUpdateSchema(), { ...update, version: undefined }, "update"),
    /version must be a number, current value is undefined/,
  );
  const { version: _, ...noVersion } = update;
  assert.throws(
    () => parse(clusterUpdateSchema(), noVersion, "update"),
    /version must be present, current value is undefined/,
  );
});

Deno.test("announcements: plausible checkpoints, a prefix that is the checkpoint number", () => {
  const ok = { checkpoint: 3, prefix: "3", modelVersion: 1, head: 0, permutation: [1, 0], at: AT };
  assert.deepEqual(parse(announcementSchema(), ok, "announcement"), ok);
  assert.throws(
    () => parse(announcementSchema(), { ...ok, checkpoint: 2 ** 53 - 1, prefix: "9" }, "a"),
    /checkpoint must be a checkpoint number/,
  );
  assert.throws(
    () => parse(announcementSchema(), { ...ok, prefix: "../3" }, "a"),
    /prefix must be a checkpoint number in decimal/,
  );
  assert.throws(
    () => parse(announcementSchema(), { ...ok, prefix: "4" }, "a"),
    /a prefix equal to the checkpoint number/,
  );
  assert.equal(objectFile("3/model.json", "3"), "model.json");
  assert.equal(objectFile("3/../x", "3"), undefined);
  assert.equal(objectFile("3/a/b", "3"), undefined);
  assert.equal(objectFile("33/a", "3"), undefined);
});

Deno.test("KV values: a neighbour list needs one similarity per id", () => {
  const list = { checkpoint: 1, ids: ["a", "b"], similarities: [1, 0.5] };
  assert.deepEqual(parseJson(storedNeighboursSchema(), JSON.stringify(list), "kv"), list);
  assert.throws(
    () => parse(storedNeighboursSchema(), { ...list, similarities: [1] }, "kv"),
    /one similarity per id/,
  );
});

Deno.test("stage messages: the expected side and widths, finite features", () => {
  const msg = (m: { payload: Uint8Array; headers: Record<string, string> }) => ({
    subject: "scan.p.embeddings",
    ...m,
  });
  const embedding = (width: number, fill = 0.5) =>
    msg(encodeEmbeddingMessage({
      id: "a",
      path: "a.png",
      checkpoint: 0,
      worker: "w",
      backbone: new Float32Array(8).fill(fill),
      projected: new Float32Array(width).fill(fill),
    }));
  const widths = { backbone: 8, projected: 128 };
  assert.equal(decodeEmbeddingMessage(embedding(128), widths).projected.length, 128);
  assert.throws(() => decodeEmbeddingMessage(embedding(5), widths), /D = 128/);
  assert.throws(() => decodeEmbeddingMessage(embedding(128, NaN), widths), /must be finite/);
  const image = msg(encodeImageMessage({
    id: "a",
    path: "a.png",
    size: 4,
    pixels: new Uint8Array(48),
  }));
  assert.equal(decodeImageMessage(image, { size: 4 }).size, 4);
  assert.throws(() => decodeImageMessage(image, { size: 32 }), /S = 32/);
  const forged = { ...image, headers: { ...image.headers, "scan-path": "%E0%A4%A" } };
  assert.throws(() => decodeImageMessage(forged), /scan-path must be valid URI encoding/);
});

Deno.test("refuseMessage: one escaped log line and one errors event; none for errors itself", async () => {
  const bus = MemoryBus.forPipeline("p");
  const events: string[] = [];
  const sub = bus.subscribe("scan.p.errors").subscribe((m) =>
    events.push(new TextDecoder().decode(m.payload))
  );
  const logs: string[] = [];
  const refuser = { bus, name: "p", log: (l: string) => logs.push(l), stage: "mine" };
  const message = { subject: "scan.p.embeddings", payload: new Uint8Array(0), headers: {} };
  await refuseMessage(refuser, message, new Error("bad\nline"));
  await refuseMessage(refuser, { ...message, subject: "scan.p.errors" }, new Error("loop?"));
  sub.unsubscribe();
  await bus.close();
  assert.equal(logs.length, 2);
  assert.ok(logs.every((l) => !l.includes("\n")));
  assert.match(logs[0], /bad\\nline/);
  assert.equal(events.length, 1);
  assert.match(JSON.parse(events[0]).reason, /^mine: bad\\nline$/);
  assert.equal(JSON.parse(events[0]).path, "scan.p.embeddings (message)");
});
