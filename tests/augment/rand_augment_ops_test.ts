import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import {
  autocontrast,
  type BatchOp,
  brightness,
  colour,
  contrast,
  equalize,
  identity,
  IDENTITY_TRANSFORM,
  posterize,
  rotate,
  sharpness,
  shearX,
  shearY,
  solarize,
  translateX,
  translateY,
  warpImages,
} from "../../src/augment/rand_augment_ops.ts";
import { Random } from "../../src/util/random.ts";
import { assertNoLeak, imageValues, levelImages, seededImages } from "./_helpers.ts";
import { assertAllClose } from "../_assert.ts";

await initBackend("wasm");

/** A 4x4 image whose pixel (y, x, c) is level 16 (4y + x) + 5c: every pixel is distinct. */
function rampImage(): tf.Tensor4D {
  const levels: number[] = [];
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 4; x++) {
      for (let c = 0; c < 3; c++) levels.push(16 * (4 * y + x) + 5 * c);
    }
  }
  return levelImages(levels, 1, 4, 4);
}

function at(values: ArrayLike<number>, width: number, y: number, x: number, c: number) {
  return values[(y * width + x) * 3 + c];
}

/** out(y, x, c) for a 4x4 image from a function of the input's values. */
function expected4x4(fn: (y: number, x: number, c: number) => number): number[] {
  const out: number[] = [];
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 4; x++) {
      for (let c = 0; c < 3; c++) out.push(fn(y, x, c));
    }
  }
  return out;
}

/** PIL's `ImageOps.equalize` lookup table for one channel of 8-bit levels. */
function pilEqualizeLut(levels: number[]): number[] {
  const h = new Array<number>(256).fill(0);
  for (const v of levels) h[v]++;
  const histo = h.filter((count) => count > 0);
  const identityLut = Array.from({ length: 256 }, (_, i) => i);
  if (histo.length <= 1) return identityLut;
  const step = Math.floor((histo.reduce((a, b) => a + b, 0) - histo[histo.length - 1]) / 255);
  if (step === 0) return identityLut;
  let n = Math.floor(step / 2);
  const lut: number[] = [];
  for (let i = 0; i < 256; i++) {
    lut.push(Math.min(255, Math.floor(n / step)));
    n += h[i];
  }
  return lut;
}

Deno.test("identity() returns the images unchanged", () => {
  const images = seededImages(2, 4, 4);
  const out = identity(images, [0, 0]);
  assert.deepEqual(out.dataSync(), images.dataSync());
  tf.dispose([images, out]);
});

Deno.test("solarize() inverts the levels at or above the threshold only", () => {
  const images = levelImages([0, 127, 128, 200, 255, 10], 2, 1, 1);
  const out = solarize(images, [128, 0]);
  assertAllClose(out.dataSync(), [0, 127 / 255, 1 - 128 / 255, 1 - 200 / 255, 0, 1 - 10 / 255]);
  const fractional = solarize(images, [127.5, 256]);
  assertAllClose(fractional.dataSync(), [0, 127 / 255, 1 - 128 / 255, 200 / 255, 1, 10 / 255]);
  tf.dispose([images, out, fractional]);
});

Deno.test("posterize() keeps the top bits of each level", () => {
  const levels = [255, 17, 130, 99, 8, 64];
  const images = levelImages(levels, 2, 1, 1);
  const out = posterize(images, [4, 7.9]);
  const expected = [
    ...levels.slice(0, 3).map((v) => v & 0xf0),
    ...levels.slice(3).map((v) => v & 0xfe),
  ];
  assertAllClose(out.dataSync(), expected.map((v) => v / 255));
  tf.dispose([images, out]);
});

Deno.test("autocontrast() stretches each channel to [0, 1] and leaves flat channels", () => {
  const levels: number[] = [];
  for (let i = 0; i < 4; i++) levels.push(50 + 25 * i, 77, 30 * i);
  const images = levelImages(levels, 1, 2, 2);
  const out = autocontrast(images, [0]);
  const expected: number[] = [];
  for (let i = 0; i < 4; i++) expected.push((25 * i) / 75, 77 / 255, i / 3);
  assertAllClose(out.dataSync(), expected);
  tf.dispose([images, out]);
});

Deno.test("equalize() matches PIL's lookup table and flattens the histogram", () => {
  const rng = new Random(3);
  // PIL only equalizes channels with at least 256 pixels besides the top level's.
  const size = 32;
  const levels = Array.from({ length: size * size * 3 }, () => 100 + rng.int(40));
  const images = levelImages(levels, 1, size, size);
  const out = equalize(images, [0]);
  const values = out.dataSync();
  for (let c = 0; c < 3; c++) {
    const channel = levels.filter((_, i) => i % 3 === c);
    const lut = pilEqualizeLut(channel);
    const expected = channel.map((v) => lut[v] / 255);
    const actual = Array.from(values).filter((_, i) => i % 3 === c);
    assertAllClose(actual, expected);
    assert.ok(Math.min(...actual) < 0.05 && Math.max(...actual) > 0.9, "levels are spread out");
    // Flat: equal-width bins of output levels hold about equal counts (PIL's integer step
    // saturates the top quarter here, so only the bins below it are compared).
    const counts = [0, 0.25, 0.5].map((lo) =>
      actual.filter((v) => v >= lo && v < lo + 0.25).length
    );
    assert.ok(Math.max(...counts) < 1.25 * Math.min(...counts), `bin counts ${counts}`);
  }
  tf.dispose([images, out]);
});

Deno.test("equalize() leaves a single-level channel as it is", () => {
  const images = levelImages([7, 7, 7, 7, 200, 9, 7, 7, 7, 7, 200, 9], 1, 2, 2);
  const out = equalize(images, [0]);
  assertAllClose(out.dataSync().filter((_, i) => i % 3 === 0), [7, 7, 7, 7].map((v) => v / 255));
  tf.dispose([images, out]);
});

Deno.test("colour() at 0 is PIL's grayscale and at 1 the image", () => {
  const images = seededImages(2, 3, 3, 4);
  const out = colour(images, [0, 1]);
  const input = imageValues(images, 0);
  const gray = imageValues(out, 0);
  for (let p = 0; p < 9; p++) {
    const luma = 0.299 * input[3 * p] + 0.587 * input[3 * p + 1] + 0.114 * input[3 * p + 2];
    assertAllClose(gray.slice(3 * p, 3 * p + 3), [luma, luma, luma]);
  }
  assert.deepEqual(imageValues(out, 1), imageValues(images, 1));
  tf.dispose([images, out]);
});

Deno.test("contrast() at 0 is the mean gray level everywhere", () => {
  const images = seededImages(1, 3, 3, 5);
  const out = contrast(images, [0]);
  const input = images.dataSync();
  let mean = 0;
  for (let p = 0; p < 9; p++) {
    mean += (0.299 * input[3 * p] + 0.587 * input[3 * p + 1] + 0.114 * input[3 * p + 2]) / 9;
  }
  assertAllClose(out.dataSync(), new Array(27).fill(mean));
  tf.dispose([images, out]);
});

Deno.test("brightness() scales towards black", () => {
  const images = seededImages(1, 2, 2, 6);
  const out = brightness(images, [0.25]);
  assertAllClose(out.dataSync(), Array.from(images.dataSync(), (v) => v * 0.25));
  tf.dispose([images, out]);
});

Deno.test("sharpness() at 0 is PIL's SMOOTH filter inside and the image on the border", () => {
  const images = rampImage();
  const out = sharpness(images, [0]);
  const input = images.dataSync();
  const expected = expected4x4((y, x, c) => {
    if (y === 0 || x === 0 || y === 3 || x === 3) return at(input, 4, y, x, c);
    let sum = 4 * at(input, 4, y, x, c);
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) sum += at(input, 4, y + dy, x + dx, c);
    }
    return sum / 13;
  });
  assertAllClose(out.dataSync(), expected);
  tf.dispose([images, out]);
});

Deno.test("rotate() by 90 degrees turns the image counter-clockwise", () => {
  const images = rampImage();
  const out = rotate(images, [90]);
  const input = images.dataSync();
  assertAllClose(out.dataSync(), expected4x4((y, x, c) => at(input, 4, x, 3 - y, c)), 1e-4);
  tf.dispose([images, out]);
});

Deno.test("translateX() and translateY() shift by a fraction of the side, black outside", () => {
  const images = rampImage();
  const input = images.dataSync();
  const left = translateX(images, [0.25]);
  assertAllClose(left.dataSync(), expected4x4((y, x, c) => x < 3 ? at(input, 4, y, x + 1, c) : 0));
  const down = translateY(images, [-0.25]);
  assertAllClose(down.dataSync(), expected4x4((y, x, c) => y > 0 ? at(input, 4, y - 1, x, c) : 0));
  tf.dispose([images, left, down]);
});

Deno.test("shearX() and shearY() sample PIL's sheared pixel centres", () => {
  const images = rampImage();
  const input = images.dataSync();
  const sample = (y: number, x: number, c: number) => {
    const inside = (yy: number, xx: number) =>
      yy >= 0 && yy < 4 && xx >= 0 && xx < 4 ? at(input, 4, yy, xx, c) : 0;
    const x0 = Math.floor(x);
    const y0 = Math.floor(y);
    const fx = x - x0;
    const fy = y - y0;
    return (1 - fy) * ((1 - fx) * inside(y0, x0) + fx * inside(y0, x0 + 1)) +
      fy * ((1 - fx) * inside(y0 + 1, x0) + fx * inside(y0 + 1, x0 + 1));
  };
  // PIL: input centre = (x + 0.5) + m (y + 0.5), so in pixel indices x_in = x + m (y + 0.5).
  const sheared = shearX(images, [0.5]);
  assertAllClose(sheared.dataSync(), expected4x4((y, x, c) => sample(y, x + 0.5 * (y + 0.5), c)));
  const shearedY = shearY(images, [-0.3]);
  assertAllClose(shearedY.dataSync(), expected4x4((y, x, c) => sample(y - 0.3 * (x + 0.5), x, c)));
  tf.dispose([images, sheared, shearedY]);
});

Deno.test("warpImages() with the identity row returns the images exactly", () => {
  const images = seededImages(2, 5, 5, 7);
  const out = warpImages(images, Float32Array.from([...IDENTITY_TRANSFORM, ...IDENTITY_TRANSFORM]));
  assert.deepEqual(out.dataSync(), images.dataSync());
  tf.dispose([images, out]);
});

const OPS: [string, BatchOp, number][] = [
  ["autocontrast", autocontrast, 0],
  ["equalize", equalize, 0],
  ["solarize", solarize, 100],
  ["posterize", posterize, 4],
  ["colour", colour, 0.3],
  ["contrast", contrast, 0.3],
  ["brightness", brightness, 0.3],
  ["sharpness", sharpness, 0.3],
  ["rotate", rotate, 20],
  ["shearX", shearX, 0.1],
  ["shearY", shearY, -0.1],
  ["translateX", translateX, 0.1],
  ["translateY", translateY, -0.1],
];

Deno.test("every op leaves images with a NaN magnitude untouched and leaks nothing", () => {
  const images = seededImages(3, 8, 8, 8);
  for (const [name, op, magnitude] of OPS) {
    const out = op(images, [magnitude, NaN, magnitude]);
    assert.deepEqual(imageValues(out, 1), imageValues(images, 1), `${name} touched image 1`);
    assert.notDeepEqual(imageValues(out, 0), imageValues(images, 0), `${name} did nothing`);
    const values = out.dataSync();
    assert.ok(values.every((v) => v >= 0 && v <= 1), `${name} left [0, 1]`);
    out.dispose();
    assertNoLeak(() => op(images, [magnitude, NaN, magnitude]));
  }
  images.dispose();
});

Deno.test("ops reject a magnitude list of the wrong length", () => {
  const images = seededImages(2, 4, 4);
  assert.throws(() => solarize(images, [1]), RangeError);
  assert.throws(() => rotate(images, [1, 2, 3]), RangeError);
  images.dispose();
});
