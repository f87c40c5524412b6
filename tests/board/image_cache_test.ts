import assert from "node:assert/strict";
import { ImageCache } from "../../src/board/image_cache.ts";
import { encodeTensor } from "../../src/transport/tensor_codec.ts";
import { imageId } from "./_helpers.ts";

function imageMessage(
  id: string,
  data: Uint8Array | Float32Array,
  shape: number[],
  path = "a b.png",
) {
  const { payload, headers } = encodeTensor({ data, shape });
  return {
    subject: "scan.t.images",
    payload,
    headers: { ...headers, "scan-id": id, "scan-path": encodeURIComponent(path) },
  };
}

Deno.test("ImageCache - keeps the pixels and path of an image message, by id", () => {
  const cache = new ImageCache();
  const pixels = Uint8Array.from({ length: 2 * 2 * 3 }, (_, i) => i * 10);
  cache.add(imageMessage(imageId(1), pixels, [2, 2, 3], "dir/a b.png"));
  const image = cache.image(imageId(1))!;
  assert.equal(image.path, "dir/a b.png");
  assert.equal(image.size, 2);
  assert.deepEqual(image.pixels, pixels);
  assert.equal(cache.image(imageId(2)), undefined);
  assert.equal(cache.neighbours(imageId(1)), undefined);
  assert.equal(cache.hasNeighbours, false);
});

Deno.test("ImageCache - refuses a message without a valid id or with other pixels than uint8 [S, S, 3]", () => {
  const cache = new ImageCache();
  const pixels = new Uint8Array(12);
  assert.throws(() => cache.add(imageMessage("../x", pixels, [2, 2, 3])), /scan-id must be/);
  assert.throws(() => cache.add(imageMessage(imageId(1), pixels, [1, 4, 3])), /uint8 \[S, S, 3\]/);
  assert.throws(
    () => cache.add(imageMessage(imageId(1), new Float32Array(12), [2, 2, 3])),
    /uint8/,
  );
  assert.equal(cache.size, 0);
});
