/**
 * Finding 2 of issue 13: the JPEG size check read `FF 00` as a marker with a length and skipped
 * that many bytes, while the decoder resyncs at the next `FF` inside them and decodes a frame the
 * check never saw. The check must read the file as the decoder does: a file whose checked header
 * said 8x8 but decoded as 3000x3000 must be refused from its header, without decoding.
 */
import assert from "node:assert/strict";
import { decodeImage } from "../../src/image/decode.ts";
import { encodeJpeg } from "../../tools/encode_jpeg.ts";
import { readHeader } from "../../src/image/header.ts";
import { lyingJpeg } from "../../tools/_hostile_files.ts";

Deno.test("readHeader() reads a JPEG as the decoder does: FF 00 is no marker, it resyncs at the next FF", () => {
  const bytes = lyingJpeg(3000);
  assert.ok(bytes.length < 1024, `a tiny fixture (${bytes.length} bytes)`);
  const header = readHeader(bytes);
  assert.ok(header.ok, JSON.stringify(header));
  assert.deepEqual([header.width, header.height], [3000, 3000]);
});

Deno.test("decodeImage() refuses from its header a JPEG whose decoy header says 8x8 but whose frame is 3000x3000", async () => {
  const started = performance.now();
  const result = await decodeImage(lyingJpeg(3000), { maxPixels: 1_000_000 });
  assert.ok(!result.ok);
  assert.match(result.reason, /header declares 3000x3000 \(9000000 pixels\), over the limit/);
  assert.ok(performance.now() - started < 1000, "refused without decoding");
});

Deno.test("readHeader() still skips non-FF bytes and fill bytes between JPEG segments, as the decoder does", () => {
  const real = encodeJpeg({
    width: 8,
    height: 8,
    channels: 3,
    samples: new Uint8Array(8 * 8 * 3).fill(200),
  });
  // Garbage and fill bytes after the first segment: libjpeg and the decoder accept them.
  const next = 4 + ((real[4] << 8) | real[5]);
  const bytes = new Uint8Array([
    ...real.subarray(0, next),
    0x12,
    0x34,
    0xff,
    0xff,
    ...real.subarray(next),
  ]);
  const header = readHeader(bytes);
  assert.ok(header.ok, JSON.stringify(header));
  assert.deepEqual([header.width, header.height], [8, 8]);
});
