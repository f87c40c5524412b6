import assert from "node:assert/strict";
import { crc32, encodePng } from "../../src/image/encode_png.ts";

Deno.test("crc32() matches the check value of CRC-32/ISO-HDLC", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

Deno.test("encodePng() rejects samples that do not match the size", async () => {
  await assert.rejects(
    () => encodePng({ width: 2, height: 2, colorType: "rgb", samples: new Uint8Array(11) }),
    RangeError,
  );
  await assert.rejects(
    () =>
      encodePng({
        width: 2,
        height: 2,
        colorType: "rgb",
        bitDepth: 4,
        samples: new Uint8Array(12),
      }),
    /bit depth for rgb must be one of 8, 16/,
  );
});
