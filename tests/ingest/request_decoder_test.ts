/**
 * Finding 2 of issue 13, the classify service's side: request bytes are decoded in a worker
 * under a time limit and a concurrency bound, never on the service's main thread.
 */
import assert from "node:assert/strict";
import { encodeJpeg } from "../../tools/encode_jpeg.ts";
import { RequestDecoder } from "../../src/ingest/request_decoder.ts";
import { fixtures, SANITIZE } from "./_helpers.ts";

Deno.test({
  name: "RequestDecoder - decodes request bytes to the model's size in a worker",
  ...SANITIZE,
}, async () => {
  const decoder = new RequestDecoder({ size: 16 });
  try {
    const image = await decoder.decode(await Deno.readFile(`${fixtures}shapes/img_0001.png`));
    assert.equal(image.pixels.length, 16 * 16 * 3);
    await assert.rejects(decoder.decode(new TextEncoder().encode("hello")), /not an image/);
  } finally {
    decoder.close();
  }
});

Deno.test({
  name: "RequestDecoder - a decode over the time limit is refused while the main thread stays free",
  ...SANITIZE,
}, async () => {
  // 2000x2000 of noise: hundreds of ms to decode, far over a 20 ms limit.
  const side = 2000;
  const samples = new Uint8Array(side * side * 3);
  for (let i = 0; i < samples.length; i++) samples[i] = (i * 2654435761) >>> 24;
  const bytes = encodeJpeg({ width: side, height: side, channels: 3, samples, quality: 100 });
  const decoder = new RequestDecoder({ size: 16, timeoutMs: 20 });
  try {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = performance.now();
    await assert.rejects(decoder.decode(bytes), /longer than 0.02 s/);
    clearInterval(timer);
    assert.ok(performance.now() - started < 2000);
    assert.ok(ticks >= 1, "the main thread ran timers meanwhile");
  } finally {
    decoder.close();
  }
});

Deno.test({
  name: "RequestDecoder - requests beyond capacity plus the waiting line are refused as busy",
  ...SANITIZE,
}, async () => {
  const bytes = await Deno.readFile(`${fixtures}shapes/img_0001.png`);
  const decoder = new RequestDecoder({ size: 16, workers: 1, perWorker: 1, maxWaiting: 2 });
  try {
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => decoder.decode(bytes)),
    );
    const busy = results.filter((r) => r.status === "rejected");
    assert.equal(busy.length, 2, "1 decoding + 2 waiting, 2 refused");
    for (const r of busy) assert.match(String((r as PromiseRejectedResult).reason), /busy/);
    assert.equal(decoder.pending, 0);
  } finally {
    decoder.close();
  }
});
