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

/** The segment starting with marker `marker` (FF xx) in `bytes`: its offset. */
function findMarker(bytes: Uint8Array, marker: number): number {
  for (let i = 2; i + 1 < bytes.length; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] === marker) return i;
  }
  throw new Error(`no marker FF ${marker.toString(16)}`);
}

/**
 * A real 8x8 JPEG whose frame header is rewritten to declare `side` x `side`, hidden from a check
 * that reads `FF 00` as a segment: SOI, `FF 00` and a "length" that spans the whole real image
 * (which the decoder reads, resyncing at its first FF), then a decoy 8x8 frame header after the
 * end of the image, where that check lands.
 */
function crafted(side: number): Uint8Array {
  const real = encodeJpeg({
    width: 8,
    height: 8,
    channels: 3,
    samples: new Uint8Array(8 * 8 * 3).fill(128),
  });
  const sof = findMarker(real, 0xc0);
  real[sof + 5] = side >> 8;
  real[sof + 6] = side & 0xff;
  real[sof + 7] = side >> 8;
  real[sof + 8] = side & 0xff;
  const body = real.subarray(2);
  const decoy = [0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00];
  const length = body.length + 2;
  assert.ok((length >> 8) !== 0xff && (length & 0xff) !== 0xff, "the length bytes are no marker");
  return new Uint8Array([0xff, 0xd8, 0xff, 0x00, length >> 8, length & 0xff, ...body, ...decoy]);
}

Deno.test("readHeader() reads a JPEG as the decoder does: FF 00 is no marker, it resyncs at the next FF", () => {
  const bytes = crafted(3000);
  assert.ok(bytes.length < 1024, `a tiny fixture (${bytes.length} bytes)`);
  const header = readHeader(bytes);
  assert.ok(header.ok, JSON.stringify(header));
  assert.deepEqual([header.width, header.height], [3000, 3000]);
});

Deno.test("decodeImage() refuses from its header a JPEG whose decoy header says 8x8 but whose frame is 3000x3000", async () => {
  const started = performance.now();
  const result = await decodeImage(crafted(3000), { maxPixels: 1_000_000 });
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
