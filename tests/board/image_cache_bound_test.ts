/** The standalone board's image cache is bounded (finding 13). */
import assert from "node:assert/strict";
import { ImageCache } from "../../src/board/image_cache.ts";
import { encodeTensor } from "../../src/transport/tensor_codec.ts";

Deno.test("ImageCache keeps the newest `limit` images", () => {
  const cache = new ImageCache(3);
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const id = i.toString(16).padStart(64, "0");
    ids.push(id);
    const { payload, headers } = encodeTensor({ data: new Uint8Array(12), shape: [2, 2, 3] });
    cache.add({
      subject: "scan.t.images",
      payload,
      headers: { ...headers, "scan-id": id, "scan-path": `${i}.png` },
    });
  }
  assert.equal(cache.size, 3);
  assert.equal(cache.image(ids[0]), undefined);
  assert.ok(cache.image(ids[9]) !== undefined);
});
