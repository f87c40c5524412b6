import assert from "node:assert/strict";
import { decodeImage } from "../../src/image/decode.ts";
import { encodeGif } from "../../tools/encode_gif.ts";
import { encodeJpeg } from "../../tools/encode_jpeg.ts";
import { encodePng } from "../../src/image/encode_png.ts";
import { badFixtures, oddFixtures } from "../../tools/fixtures.ts";

const fixture = (path: string) => new URL(`../../fixtures/${path}`, import.meta.url);

function meanAbsoluteError(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

Deno.test("decodeImage() decodes every odd-but-valid fixture to the expected pixels", async () => {
  for (const odd of await oddFixtures()) {
    for (
      const [origin, bytes] of [["built", odd.bytes], [
        "committed",
        await Deno.readFile(fixture(`odd/${odd.file}`)),
      ]] as const
    ) {
      const result = await decodeImage(bytes);
      assert.ok(result.ok, `${origin} ${odd.file}: ${!result.ok && result.reason}`);
      assert.equal(result.width, odd.width, odd.file);
      assert.equal(result.height, odd.height, odd.file);
      assert.equal(result.rgb.length, odd.width * odd.height * 3);
      const error = meanAbsoluteError(result.rgb, odd.expected);
      assert.ok(
        error <= odd.tolerance,
        `${origin} ${odd.file}: mean error ${error} > ${odd.tolerance}`,
      );
    }
  }
});

Deno.test("decodeImage() refuses every bad fixture with a clear reason", async () => {
  for (const bad of await badFixtures()) {
    const result = await decodeImage(await Deno.readFile(fixture(`bad/${bad.file}`)));
    assert.equal(result.ok, false, bad.file);
    assert.ok(
      !result.ok && result.reason.includes(bad.reasonIncludes),
      `${bad.file}: ${!result.ok && result.reason}`,
    );
  }
});

Deno.test("decodeImage() refuses a 20000x20000 PNG from its header, fast and without allocating", async () => {
  const bomb = await Deno.readFile(fixture("bad/bomb_20000x20000.png"));
  assert.ok(bomb.length < 100_000);
  const rssBefore = Deno.memoryUsage().rss;
  const start = performance.now();
  const result = await decodeImage(bomb);
  const elapsed = performance.now() - start;
  const grown = Deno.memoryUsage().rss - rssBefore;
  assert.ok(!result.ok && result.reason.includes("over the limit of 40000000 (maxPixels)"));
  assert.ok(elapsed < 100, `took ${elapsed} ms`);
  // Decoding would need 1.6 GB for the RGBA buffer alone.
  assert.ok(grown < 64 * 1024 * 1024, `resident memory grew by ${grown} bytes`);
});

Deno.test("decodeImage() applies maxPixels and maxBytes", async () => {
  const png = await encodePng({
    width: 10,
    height: 10,
    colorType: "gray",
    samples: new Uint8Array(100),
  });
  assert.ok((await decodeImage(png, { maxPixels: 100 })).ok);
  const pixels = await decodeImage(png, { maxPixels: 99 });
  assert.ok(!pixels.ok && pixels.reason.includes("10x10 (100 pixels), over the limit of 99"));
  assert.ok((await decodeImage(png, { maxBytes: png.length })).ok);
  const bytes = await decodeImage(png, { maxBytes: png.length - 1 });
  assert.ok(!bytes.ok && bytes.reason.includes(`${png.length} bytes, over the limit`));
  await assert.rejects(() => decodeImage(png, { maxBytes: 0 }), RangeError);
});

Deno.test("decodeImage() refuses a GIF whose first frame is over the pixel limit", async () => {
  const gif = encodeGif({
    width: 4,
    height: 4,
    palette: new Uint8Array(6),
    frames: [{ width: 100, height: 100, indices: new Uint8Array(10000) }],
  });
  const result = await decodeImage(gif, { maxPixels: 5000 });
  assert.ok(!result.ok && result.reason.includes("10000 pixels"));
});

Deno.test("decodeImage() places a partial GIF frame on its screen over white", async () => {
  const palette = new Uint8Array([0, 0, 0, 255, 0, 0]);
  const gif = encodeGif({
    width: 4,
    height: 3,
    palette,
    frames: [{ x: 3, y: 1, width: 2, height: 2, indices: new Uint8Array([1, 1, 1, 1]) }],
  });
  const result = await decodeImage(gif);
  assert.ok(result.ok);
  const pixel = (x: number, y: number) =>
    Array.from(result.rgb.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3));
  assert.deepEqual(pixel(0, 0), [255, 255, 255]);
  assert.deepEqual(pixel(3, 1), [255, 0, 0]);
  assert.deepEqual(pixel(3, 2), [255, 0, 0]);
  assert.deepEqual(pixel(2, 2), [255, 255, 255]);
});

Deno.test("decodeImage() refuses corrupt data after a valid header, and goes on decoding", async () => {
  const jpeg = encodeJpeg({
    width: 16,
    height: 16,
    channels: 3,
    samples: new Uint8Array(768).fill(90),
  });
  const garbage = jpeg.slice();
  for (let i = garbage.length - 40; i < garbage.length - 2; i++) garbage[i] = 0xff;
  const png = await encodePng({
    width: 3,
    height: 3,
    colorType: "rgb",
    samples: new Uint8Array(27),
  });
  const bad = png.slice();
  bad[png.length - 20] ^= 0xff;
  for (const bytes of [bad, garbage]) {
    const result = await decodeImage(bytes);
    if (!result.ok) assert.match(result.reason, /^cannot decode (PNG|JPEG): /);
  }
  const after = await decodeImage(png);
  assert.ok(after.ok && after.rgb.every((v) => v === 0));
});
