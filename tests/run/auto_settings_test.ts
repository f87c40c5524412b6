import assert from "node:assert/strict";
import { join } from "node:path";
import { augmentationOf, makeConfigFrom } from "../../src/config.ts";
import { type ImageStats, imageStats, profileDataset } from "../../src/data/profile.ts";
import { encodePng } from "../../src/image/encode_png.ts";
import { autoSettings } from "../../src/run/auto_settings.ts";

const gray = (side: number, border = 0.05): ImageStats => ({
  width: side,
  height: side,
  colourFraction: 0,
  borderLuminance: border,
});

Deno.test("autoSettings() sizes the input from the native side: 8x8, 28x28 and 500x400", () => {
  const at = (width: number, height: number, images = 2000) =>
    autoSettings({ images, sample: [{ ...gray(0), width, height }] }, 10).config.inputSize;
  assert.equal(at(8, 8), 16, "8x8 upscaled 2x, to the smallest side");
  assert.equal(at(5, 5), 10, "never more than 2x");
  assert.equal(at(28, 28), 28, "28x28 kept");
  assert.equal(at(500, 400), 32, "500x400 down to the paper's 32");
  assert.equal(at(28, 28, 60_000), 16, "60k images: within the pixels an epoch");
  // Valid configs all (the backbone needs at least 8 px).
  for (const side of [3, 8, 28, 500]) {
    const { config } = autoSettings({ images: 500, sample: [gray(side)] });
    assert.equal(makeConfigFrom(config).inputSize, config.inputSize);
  }
});

Deno.test("autoSettings() keeps colour augmentations for colour data only", () => {
  const colour = autoSettings({ images: 500, sample: [{ ...gray(32), colourFraction: 0.4 }] });
  const plain = autoSettings({ images: 500, sample: [gray(32), gray(32)] });
  assert.equal(colour.config.colourAugment, true);
  assert.equal(plain.config.colourAugment, false);
  assert.match(plain.reasons.colourAugment, /0\.0% of sampled pixels/);
  assert.deepEqual(
    augmentationOf(plain.config),
    {
      cropScale: [0.35, 1],
      invertProbability: 0,
      saturation: 0,
      hue: 0,
      grayscaleProbability: 0,
      brightness: 0.8,
      contrast: 0.8,
    },
  );
  assert.deepEqual(Object.keys(augmentationOf(colour.config)), ["cropScale", "invertProbability"]);
});

Deno.test("autoSettings() inverts only where both polarities of background occur", () => {
  const mixed = [gray(32, 0.1), gray(32, 0.9), gray(32, 0.1), gray(32, 0.9), gray(32, 0.5)];
  assert.equal(autoSettings({ images: 500, sample: mixed }).config.invertProbability, 0.5);
  const dark = [...Array(5).fill(gray(32, 0.1)), gray(32, 0.9)];
  assert.equal(autoSettings({ images: 500, sample: dark }).config.invertProbability, 0);
});

Deno.test("autoSettings() mines on backbone and pixels for gray single-polarity data only", () => {
  const on = (sample: ImageStats[]) => autoSettings({ images: 500, sample });
  const plain = on([gray(28), gray(28)]);
  assert.equal(plain.config.mineOn, "backbone-pixels");
  assert.match(plain.reasons.mineOn, /gray images of one polarity/);
  const colour = on([{ ...gray(32), colourFraction: 0.4 }]);
  assert.equal(colour.config.mineOn, "projection");
  assert.match(colour.reasons.mineOn, /colour images/);
  const polarities = on([gray(28, 0.1), gray(28, 0.9)]);
  assert.equal(polarities.config.mineOn, "projection");
  assert.match(polarities.reasons.mineOn, /both polarities/);
});

Deno.test("autoSettings() sizes K and batches by the images, the crop by the side", () => {
  const small = autoSettings({ images: 300, sample: [gray(8)] }, 6).config;
  assert.deepEqual([small.neighbours, small.pretext.batchSize, small.scan.batchSize], [5, 32, 64]);
  assert.deepEqual(small.cropScale, [0.5, 1]);
  const large = autoSettings({ images: 60_000, sample: [gray(96)] }, 10).config;
  assert.deepEqual([large.neighbours, large.pretext.batchSize, large.scan.batchSize], [
    20,
    256,
    256,
  ]);
  const mid = autoSettings({ images: 3000, sample: [gray(28)] }, 10).config;
  assert.deepEqual([mid.neighbours, mid.pretext.batchSize], [15, 256]);
  assert.deepEqual(mid.cropScale, [0.35, 1]);
  // Never more than the images: K below n, batches at most n.
  const tiny = autoSettings({ images: 20, sample: [gray(8)] }, 2).config;
  assert.ok(tiny.neighbours < 20 && tiny.pretext.batchSize <= 20 && tiny.scan.batchSize <= 20);
  assert.equal(autoSettings({ images: 300, sample: [gray(8)] }).config.clusters, 10);
});

Deno.test("autoSettings() refuses a profile with no decoded image", () => {
  assert.throws(() => autoSettings({ images: 4, sample: [] }), /none of the sampled images/);
});

Deno.test("imageStats() measures colour and the border's brightness", () => {
  // 3x3: white border, one red centre pixel.
  const rgb = new Uint8Array(27).fill(255);
  rgb.set([255, 0, 0], 4 * 3);
  const stats = imageStats(rgb, 3, 3);
  assert.equal(stats.colourFraction, 1 / 9);
  assert.ok(Math.abs(stats.borderLuminance - 1) < 1e-9);
});

Deno.test("profileDataset() reads native sizes and colour from a synthetic folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "scanstream_profile_" });
  try {
    const png = (width: number, height: number, channels: 1 | 3, value: (i: number) => number) =>
      encodePng({
        width,
        height,
        colorType: channels === 1 ? "gray" : "rgb",
        samples: Uint8Array.from({ length: width * height * channels }, (_, i) => value(i)),
      });
    await Deno.mkdir(join(dir, "small"));
    for (let i = 0; i < 4; i++) {
      await Deno.writeFile(join(dir, "small", `g${i}.png`), await png(8, 8, 1, (p) => p * 3 + i));
    }
    await Deno.writeFile(join(dir, "big.png"), await png(500, 400, 3, (p) => (p % 3) * 100));
    await Deno.writeFile(join(dir, "broken.png"), new Uint8Array([1, 2, 3]));
    const profile = await profileDataset(dir);
    assert.equal(profile.images, 6);
    assert.equal(profile.sample.length, 5, "the broken file is not measured");
    assert.deepEqual(profile.sample.map((s) => [s.width, s.height]), [
      [500, 400],
      ...Array(4).fill([8, 8]),
    ]);
    assert.equal(profile.sample[0].colourFraction, 1);
    assert.equal(profile.sample[1].colourFraction, 0);
    const limited = await profileDataset(dir, { limit: 2, sample: 1 });
    assert.deepEqual([limited.images, limited.sample.length], [2, 1]);
    // Mostly 8x8: 16 px; one image in five has colour, so the data has colour.
    const { config } = autoSettings(profile, 2);
    assert.deepEqual([config.inputSize, config.colourAugment], [16, true]);
    const grayOnly = await profileDataset(join(dir, "small"));
    assert.equal(autoSettings(grayOnly, 2).config.colourAugment, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
