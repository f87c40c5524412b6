import assert from "node:assert/strict";
import { readHeader, sniffFormat } from "../../src/image/header.ts";
import { encodeGif } from "../../tools/encode_gif.ts";
import { encodeJpeg } from "../../tools/encode_jpeg.ts";
import { encodePng } from "../../src/image/encode_png.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("sniffFormat() goes by magic bytes and names refused formats", () => {
  assert.deepEqual(sniffFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])), {
    ok: true,
    format: "jpeg",
  });
  assert.deepEqual(sniffFormat(text("GIF87a......")), { ok: true, format: "gif" });
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(0), "empty"],
    [new Uint8Array([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0]), "TIFF"],
    [new Uint8Array([0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8]), "TIFF"],
    [text("RIFF\x1a\0\0\0WEBPVP8 "), "WebP"],
    [new Uint8Array([0x42, 0x4d, 0, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0]), "BMP"],
    [text("\ufeff  <svg xmlns='http://www.w3.org/2000/svg'/>"), "SVG"],
    [text("BM is not a bitmap, just text\n"), "text"],
    [new Uint8Array([0, 0, 0, 0x1c, ...text("ftypavif")]), "AVIF"],
    [new Uint8Array([0x00, 0x13, 0x80, 0x00, 0x01]), "unrecognised signature 00 13 80 00 01"],
  ];
  for (const [bytes, expected] of cases) {
    const result = sniffFormat(bytes);
    assert.equal(result.ok, false);
    assert.ok(
      !result.ok && result.reason.includes(expected),
      `${expected}: ${JSON.stringify(result)}`,
    );
  }
});

Deno.test("readHeader() reads PNG, JPEG and GIF dimensions", async () => {
  const png = await encodePng({
    width: 7,
    height: 3,
    colorType: "gray",
    samples: new Uint8Array(21),
  });
  assert.deepEqual(readHeader(png), { ok: true, format: "png", width: 7, height: 3, pixels: 21 });
  const jpeg = encodeJpeg({ width: 300, height: 2, channels: 1, samples: new Uint8Array(600) });
  assert.deepEqual(readHeader(jpeg), {
    ok: true,
    format: "jpeg",
    width: 300,
    height: 2,
    pixels: 600,
  });
  const gif = encodeGif({
    width: 5,
    height: 4,
    palette: new Uint8Array(6),
    frames: [{ width: 5, height: 4, indices: new Uint8Array(20) }],
  });
  assert.deepEqual(readHeader(gif), { ok: true, format: "gif", width: 5, height: 4, pixels: 20 });
});

Deno.test("readHeader() counts a GIF frame larger than its logical screen", () => {
  const gif = encodeGif({
    width: 2,
    height: 2,
    palette: new Uint8Array(6),
    frames: [{ width: 40, height: 30, indices: new Uint8Array(1200) }],
  });
  const header = readHeader(gif);
  assert.ok(header.ok);
  assert.equal(header.width, 2);
  assert.equal(header.pixels, 1200);
});

Deno.test("readHeader() skips APPn segments before the JPEG frame header", () => {
  const jpeg = encodeJpeg({ width: 9, height: 11, channels: 3, samples: new Uint8Array(297) });
  const exif = new Uint8Array([0xff, 0xe1, 0x00, 0x08, ...text("Exif"), 0, 0]);
  const withExif = new Uint8Array([...jpeg.subarray(0, 2), ...exif, ...jpeg.subarray(2)]);
  const header = readHeader(withExif);
  assert.ok(header.ok && header.width === 9 && header.height === 11);
});

Deno.test("readHeader() refuses malformed headers with a reason", async () => {
  const png = await encodePng({
    width: 2,
    height: 2,
    colorType: "rgb",
    samples: new Uint8Array(12),
  });
  const zeroWidth = png.slice();
  zeroWidth.fill(0, 16, 20);
  const badDepth = png.slice();
  badDepth[24] = 3;
  const jpegScanFirst = new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0, 2]);
  const arithmetic = new Uint8Array([0xff, 0xd8, 0xff, 0xc9, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0]);
  const cases: [Uint8Array, string][] = [
    [png.subarray(0, 30), "truncated PNG"],
    [zeroWidth, "declared size 0x2"],
    [badDepth, "bit depth 3"],
    [jpegScanFirst, "before any frame header"],
    [arithmetic, "arithmetic coding"],
    [new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), "ends before a frame header"],
    [text("GIF89a\x00\x00\x05\x00\x00\x00\x00;"), "screen size 0x5"],
    [text("GIF89a\x05\x00"), "truncated GIF"],
  ];
  for (const [bytes, expected] of cases) {
    const result = readHeader(bytes);
    assert.ok(
      !result.ok && result.reason.includes(expected),
      `${expected}: ${JSON.stringify(result)}`,
    );
  }
});
