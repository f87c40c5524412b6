import assert from "node:assert/strict";
import type { BusMessage } from "../../src/transport/bus.ts";
import {
  decodeEmbeddingMessage,
  decodeImageMessage,
  decodeNeighbourListMessage,
  encodeEmbeddingMessage,
  encodeImageMessage,
  encodeNeighbourListMessage,
} from "../../src/transport/stage_messages.ts";

const message = (encoded: { payload: Uint8Array; headers: Record<string, string> }) =>
  ({ subject: "scan.t.x", ...encoded }) as BusMessage;

Deno.test("image messages round-trip id, path (with spaces and non-ASCII) and pixels", () => {
  const pixels = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => (i * 37) % 256);
  const image = { id: "ab12", path: "dir/a file é.png", pixels, size: 4 };
  const decoded = decodeImageMessage(message(encodeImageMessage(image)));
  assert.deepEqual(decoded, image);
});

Deno.test("embedding messages round-trip both feature parts, checkpoint and worker", () => {
  const embedding = {
    id: "ab12",
    path: "x.png",
    checkpoint: 7,
    worker: "embed-a",
    backbone: Float32Array.from([1.5, -2, 3.25]),
    projected: Float32Array.from([0.6, 0.8]),
  };
  assert.deepEqual(decodeEmbeddingMessage(message(encodeEmbeddingMessage(embedding))), embedding);
});

Deno.test("malformed stage messages are refused with the reason", () => {
  const pixels = new Uint8Array(4 * 4 * 3);
  const good = encodeImageMessage({ id: "a", path: "p", pixels, size: 4 });
  const headers: Record<string, string> = { ...good.headers };
  delete headers["scan-id"];
  const noId = { ...good, headers };
  assert.throws(() => decodeImageMessage(message(noId)), /scan-id must be present/);
  const features = encodeEmbeddingMessage({
    id: "a",
    path: "p",
    checkpoint: 0,
    worker: "w",
    backbone: new Float32Array(3),
    projected: new Float32Array(2),
  });
  assert.throws(
    () => decodeImageMessage(message(features)),
    /uint8 \[S, S, 3\] pixels, current value is float32 \[5\]/,
  );
  const badDim = { ...features, headers: { ...features.headers, "scan-backbone-dim": "5" } };
  assert.throws(() => decodeEmbeddingMessage(message(badDim)), /F = 5/);
});

Deno.test("neighbour-list messages round-trip ids, similarities, checkpoint and change", () => {
  const list = {
    id: "ab12",
    checkpoint: 3,
    ids: ["ab12", "cd34", "ef56"],
    similarities: Float32Array.from([1, 0.75, -0.125]),
    change: "updated" as const,
  };
  const encoded = encodeNeighbourListMessage(list);
  assert.deepEqual(decodeNeighbourListMessage(message(encoded)), list);
  const withHeaders = (headers: Record<string, string>) =>
    message({ ...encoded, headers: { ...encoded.headers, ...headers } });
  for (
    const headers of <Record<string, string>[]> [
      { "scan-neighbours": '["cd34", "ab12", "ef56"]' },
      { "scan-neighbours": '["ab12", "cd34"]' },
      { "scan-neighbours": "not json" },
      { "scan-change": "moved" },
      { "scan-checkpoint": "-1" },
    ]
  ) {
    assert.throws(
      () => decodeNeighbourListMessage(withHeaders(headers)),
      /Cannot decode neighbour-list message/,
      JSON.stringify(headers),
    );
  }
});
