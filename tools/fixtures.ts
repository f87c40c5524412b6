/**
 * Writes the test fixtures, deterministically:
 *
 * - `fixtures/shapes/`: the labelled synthetic set (6 classes x 50, 32x32, about 2/3 PNG and 1/3
 *   JPEG at quality 90, shuffled names `img_0001.png`...) and `labels.csv` (`file,label`);
 * - `fixtures/bad/`: files that must be refused (empty, text, truncated, corrupt, a PNG that
 *   declares 20000x20000, TIFF, BMP, WebP, SVG, random bytes, ...);
 * - `fixtures/odd/`: unusual but valid images (16-bit, palette, gray + alpha, 1-bit, interlaced,
 *   CMYK and grayscale JPEG, animated GIF, 1x1, 1x300, a JPEG named .png).
 *
 * Run with `deno task fixtures` (read and write access to `fixtures/` only). Only these three
 * folders are touched; stale files in them are removed.
 */
import { SHAPE_CLASSES, synthesizeShapes } from "./synthetic.ts";
import { encodeGif } from "./encode_gif.ts";
import { encodeJpeg } from "./encode_jpeg.ts";
import { chunk, encodePng, zlibDeflate } from "../src/image/encode_png.ts";
import { Random } from "../src/util/random.ts";

export const FIXTURE_SEED = 2020;

/** The folders this task owns, relative to `fixtures/`. */
export const FIXTURE_FOLDERS = ["shapes", "bad", "odd"] as const;

/** An unusual but valid image and the RGB a decoder should produce (alpha over white). */
export interface OddFixture {
  file: string;
  bytes: Uint8Array;
  width: number;
  height: number;
  expected: Uint8Array;
  /** Largest mean absolute error a correct decoder may have (lossy formats, 16 to 8 bits). */
  tolerance: number;
}

/** A file that must be refused, and a word the reason must contain. */
export interface BadFixture {
  file: string;
  bytes: Uint8Array;
  reasonIncludes: string;
}

/** Everything the task writes: path relative to `fixtures/` to bytes. */
export async function buildFixtures(seed = FIXTURE_SEED): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const [name, bytes] of await shapeFixtures(seed)) files.set(`shapes/${name}`, bytes);
  for (const bad of await badFixtures(seed)) files.set(`bad/${bad.file}`, bad.bytes);
  for (const odd of await oddFixtures()) files.set(`odd/${odd.file}`, odd.bytes);
  return files;
}

/** The labelled set: image files and `labels.csv`. */
export async function shapeFixtures(seed = FIXTURE_SEED): Promise<Map<string, Uint8Array>> {
  const set = synthesizeShapes({ seed, perClass: 50, size: 32, noise: 10 });
  const formats = new Random(seed + 1);
  const files = new Map<string, Uint8Array>();
  const lines = ["file,label"];
  for (let i = 0; i < set.images.length; i++) {
    const jpeg = formats.next() < 1 / 3;
    const name = `img_${String(i + 1).padStart(4, "0")}.${jpeg ? "jpg" : "png"}`;
    const samples = set.images[i];
    files.set(
      name,
      jpeg
        ? encodeJpeg({ width: set.size, height: set.size, channels: 3, samples, quality: 90 })
        : await encodePng({ width: set.size, height: set.size, colorType: "rgb", samples }),
    );
    lines.push(`${name},${SHAPE_CLASSES[set.labels[i]]}`);
  }
  files.set("labels.csv", new TextEncoder().encode(lines.join("\n") + "\n"));
  return files;
}

/** A smooth test pattern (gradients and a disc), so lossy codecs stay close to it. */
function pattern(width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inDisc = Math.hypot(x - width / 2, y - height / 2) < Math.min(width, height) / 4;
      const o = (y * width + x) * 3;
      rgb[o] = Math.round((255 * x) / Math.max(1, width - 1));
      rgb[o + 1] = Math.round((255 * y) / Math.max(1, height - 1));
      rgb[o + 2] = inDisc ? 230 : 40;
    }
  }
  return rgb;
}

function grayOf(rgb: Uint8Array): Uint8Array {
  return Uint8Array.from(
    { length: rgb.length / 3 },
    (_, i) => Math.round(0.299 * rgb[i * 3] + 0.587 * rgb[i * 3 + 1] + 0.114 * rgb[i * 3 + 2]),
  );
}

function replicate(gray: Uint8Array): Uint8Array {
  return Uint8Array.from({ length: gray.length * 3 }, (_, i) => gray[Math.floor(i / 3)]);
}

function overWhite(value: number, alpha: number): number {
  return Math.round((value * alpha + 255 * (255 - alpha)) / 255);
}

/** Unusual but valid images, each with the pixels a decoder should give. */
export async function oddFixtures(): Promise<OddFixture[]> {
  const w = 24;
  const h = 16;
  const rgb = pattern(w, h);
  const gray = grayOf(rgb);
  const n = w * h;
  const odd: OddFixture[] = [];
  const add = (
    file: string,
    bytes: Uint8Array,
    expected: Uint8Array,
    tolerance = 0,
    size = [w, h],
  ) => odd.push({ file, bytes, width: size[0], height: size[1], expected, tolerance });

  add(
    "rgb16.png",
    await encodePng({
      width: w,
      height: h,
      colorType: "rgb",
      bitDepth: 16,
      samples: Uint16Array.from(rgb, (v) => v * 257),
    }),
    rgb,
  );
  add(
    "gray16.png",
    await encodePng({
      width: w,
      height: h,
      colorType: "gray",
      bitDepth: 16,
      samples: Uint16Array.from(gray, (v) => v * 257 + 128),
    }),
    replicate(gray),
    1,
  );

  const alpha = Uint8Array.from({ length: n }, (_, i) => (i % w) * 10);
  const grayAlpha = new Uint8Array(n * 2);
  for (let i = 0; i < n; i++) grayAlpha.set([gray[i], alpha[i]], i * 2);
  add(
    "gray_alpha.png",
    await encodePng({ width: w, height: h, colorType: "grayAlpha", samples: grayAlpha }),
    replicate(Uint8Array.from(gray, (g, i) => overWhite(g, alpha[i]))),
  );

  const rgba16 = new Uint16Array(n * 4);
  const rgbaExpected = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    rgba16.set([...rgb.subarray(i * 3, i * 3 + 3), alpha[i]].map((v) => v * 257), i * 4);
    for (let c = 0; c < 3; c++) rgbaExpected[i * 3 + c] = overWhite(rgb[i * 3 + c], alpha[i]);
  }
  add(
    "rgba16.png",
    await encodePng({ width: w, height: h, colorType: "rgba", bitDepth: 16, samples: rgba16 }),
    rgbaExpected,
    1,
  );

  const palette = new Uint8Array([255, 0, 0, 0, 160, 0, 20, 40, 220, 250, 250, 250]);
  const paletteAlpha = new Uint8Array([255, 255, 255, 0]);
  const indices = Uint8Array.from({ length: n }, (_, i) => ((i % w) >> 2) % 4);
  const paletteRgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      paletteRgb[i * 3 + c] = overWhite(palette[indices[i] * 3 + c], paletteAlpha[indices[i]]);
    }
  }
  add(
    "palette.png",
    await encodePng({
      width: w,
      height: h,
      colorType: "palette",
      samples: indices,
      palette,
      paletteAlpha,
    }),
    paletteRgb,
  );
  add(
    "palette_4bit.png",
    await encodePng({
      width: w,
      height: h,
      colorType: "palette",
      bitDepth: 4,
      samples: indices,
      palette,
      paletteAlpha,
    }),
    paletteRgb,
  );

  const bits = Uint8Array.from(
    { length: n },
    (_, i) => ((i % w) + Math.floor(i / w)) % 3 === 0 ? 1 : 0,
  );
  add(
    "gray_1bit.png",
    await encodePng({ width: w, height: h, colorType: "gray", bitDepth: 1, samples: bits }),
    replicate(Uint8Array.from(bits, (b) => b * 255)),
  );
  add(
    "interlaced.png",
    await encodePng({ width: w, height: h, colorType: "rgb", samples: rgb, interlace: true }),
    rgb,
  );

  // Photoshop's convention: stored values are 255 minus the ink.
  const cmyk = new Uint8Array(n * 4);
  const cmykRgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const ink = [rgb[i * 3] * 0.6, rgb[i * 3 + 1] * 0.6, rgb[i * 3 + 2] * 0.6, 40].map(Math.round);
    cmyk.set(ink.map((v) => 255 - v), i * 4);
    for (let c = 0; c < 3; c++) {
      cmykRgb[i * 3 + c] = Math.round(((255 - ink[c]) * (255 - ink[3])) / 255);
    }
  }
  add(
    "cmyk.jpg",
    encodeJpeg({ width: w, height: h, channels: 4, samples: cmyk, quality: 95 }),
    cmykRgb,
    4,
  );
  add(
    "gray.jpg",
    encodeJpeg({ width: w, height: h, channels: 1, samples: gray, quality: 95 }),
    replicate(gray),
    3,
  );
  add(
    "rgb.jpg",
    encodeJpeg({ width: w, height: h, channels: 3, samples: rgb, quality: 95 }),
    rgb,
    4,
  );

  const gifPalette = new Uint8Array([0, 0, 0, 255, 255, 255, 200, 30, 30, 30, 30, 200]);
  const first = Uint8Array.from({ length: n }, (_, i) => ((i % w) >> 3) % 4);
  const second = new Uint8Array(n).fill(2);
  const gifRgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    gifRgb.set(gifPalette.subarray(first[i] * 3, first[i] * 3 + 3), i * 3);
  }
  add(
    "animated.gif",
    encodeGif({
      width: w,
      height: h,
      palette: gifPalette,
      frames: [{ width: w, height: h, indices: first }, { width: w, height: h, indices: second }],
    }),
    gifRgb,
  );

  const pixel = new Uint8Array([12, 200, 99]);
  add(
    "one_pixel.png",
    await encodePng({ width: 1, height: 1, colorType: "rgb", samples: pixel }),
    pixel,
    0,
    [1, 1],
  );
  const thin = pattern(1, 300);
  add(
    "thin_1x300.png",
    await encodePng({ width: 1, height: 300, colorType: "rgb", samples: thin }),
    thin,
    0,
    [1, 300],
  );
  const wide = pattern(300, 1);
  add(
    "wide_300x1.jpg",
    encodeJpeg({ width: 300, height: 1, channels: 3, samples: wide, quality: 95 }),
    wide,
    6,
    [300, 1],
  );
  add(
    "jpeg_named.png",
    encodeJpeg({ width: w, height: h, channels: 3, samples: rgb, quality: 95 }),
    rgb,
    4,
  );
  return odd;
}

/** Files that must be refused, each with a word its refusal reason must contain. */
export async function badFixtures(seed = FIXTURE_SEED): Promise<BadFixture[]> {
  const rng = new Random(seed + 2);
  const size = 32;
  const rgb = pattern(size, size);
  const png = await encodePng({ width: size, height: size, colorType: "rgb", samples: rgb });
  const jpeg = encodeJpeg({ width: size, height: size, channels: 3, samples: rgb, quality: 90 });
  const text = (s: string) => new TextEncoder().encode(s);

  const corrupt = png.slice();
  for (let i = 45; i < 60; i++) corrupt[i] ^= 0x5a;

  // A real decompression bomb: 20000x20000 1-bit gray, all zero, deflates to about 50 KB and
  // would decode to 1.6 GB of RGBA.
  const bomb = await pngBomb(20000);

  const hugeJpeg = jpeg.slice();
  const sof = findMarker(hugeJpeg, 0xc0);
  hugeJpeg.set([0xea, 0x60, 0xea, 0x60], sof + 5);

  return [
    { file: "zero_bytes.png", bytes: new Uint8Array(0), reasonIncludes: "empty" },
    {
      file: "text.png",
      bytes: text("This is a text file with a .png name.\nIt is not an image.\n"),
      reasonIncludes: "text",
    },
    { file: "truncated.png", bytes: png.slice(0, png.length >> 1), reasonIncludes: "decode PNG" },
    { file: "truncated_header.png", bytes: png.slice(0, 20), reasonIncludes: "truncated" },
    { file: "truncated.jpg", bytes: jpeg.slice(0, sof - 4), reasonIncludes: "truncated" },
    { file: "corrupt.png", bytes: corrupt, reasonIncludes: "decode PNG" },
    { file: "bomb_20000x20000.png", bytes: bomb, reasonIncludes: "20000x20000" },
    { file: "huge_60000x60000.jpg", bytes: hugeJpeg, reasonIncludes: "60000x60000" },
    { file: "image.tiff", bytes: tiff(), reasonIncludes: "TIFF" },
    { file: "tiff_named.png", bytes: tiff(), reasonIncludes: "TIFF" },
    { file: "image.bmp", bytes: bmp(), reasonIncludes: "BMP" },
    {
      file: "image.webp",
      bytes: new Uint8Array([
        ...text("RIFF"),
        26,
        0,
        0,
        0,
        ...text("WEBPVP8L"),
        ...new Array(14).fill(0),
      ]),
      reasonIncludes: "WebP",
    },
    {
      file: "image.svg",
      bytes: text(
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>\n',
      ),
      reasonIncludes: "SVG",
    },
    {
      file: "random.png",
      bytes: Uint8Array.from({ length: 2048 }, () => rng.int(256)),
      reasonIncludes: "not an image",
    },
    {
      file: "no_frames.gif",
      bytes: new Uint8Array([...text("GIF89a"), 8, 0, 8, 0, 0, 0, 0, 0x3b]),
      reasonIncludes: "no frames",
    },
  ];
}

/** A valid PNG of side x side 1-bit black pixels, written from its (all-zero) scanlines. */
async function pngBomb(side: number): Promise<Uint8Array> {
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, side);
  view.setUint32(4, side);
  header[8] = 1;
  const scanlines = new Uint8Array(side * (1 + Math.ceil(side / 8)));
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", await zlibDeflate(scanlines)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  parts.reduce((offset, part) => (out.set(part, offset), offset + part.length), 0);
  return out;
}

function findMarker(jpeg: Uint8Array, marker: number): number {
  for (let i = 2; i < jpeg.length - 1; i++) {
    if (jpeg[i] === 0xff && jpeg[i + 1] === marker) return i;
  }
  throw new Error(`JPEG marker 0xff${marker.toString(16)} not found`);
}

/** A valid 8x8 uncompressed RGB TIFF, little-endian. */
function tiff(): Uint8Array {
  const width = 8;
  const height = 8;
  const entries: [number, number, number, number][] = [
    [256, 3, 1, width],
    [257, 3, 1, height],
    [258, 3, 3, 0], // bits per sample: offset filled below
    [259, 3, 1, 1],
    [262, 3, 1, 2],
    [273, 4, 1, 0], // strip offset: filled below
    [277, 3, 1, 3],
    [278, 3, 1, height],
    [279, 4, 1, width * height * 3],
  ];
  const ifdSize = 2 + entries.length * 12 + 4;
  const bitsOffset = 8 + ifdSize;
  const dataOffset = bitsOffset + 6;
  entries[2][3] = bitsOffset;
  entries[5][3] = dataOffset;
  const out = new Uint8Array(dataOffset + width * height * 3);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49, 0x2a, 0x00]);
  view.setUint32(4, 8, true);
  view.setUint16(8, entries.length, true);
  entries.forEach(([tag, type, count, value], i) => {
    const o = 10 + i * 12;
    view.setUint16(o, tag, true);
    view.setUint16(o + 2, type, true);
    view.setUint32(o + 4, count, true);
    if (type === 3 && count === 1) view.setUint16(o + 8, value, true);
    else view.setUint32(o + 8, value, true);
  });
  for (let i = 0; i < 3; i++) view.setUint16(bitsOffset + i * 2, 8, true);
  out.fill(128, dataOffset);
  return out;
}

/** A valid 4x4 24-bit BMP. */
function bmp(): Uint8Array {
  const rowBytes = 12;
  const out = new Uint8Array(54 + rowBytes * 4);
  const view = new DataView(out.buffer);
  out.set([0x42, 0x4d]);
  view.setUint32(2, out.length, true);
  view.setUint32(10, 54, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, 4, true);
  view.setInt32(22, 4, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, 24, true);
  out.fill(200, 54);
  return out;
}

async function writeFixtures(): Promise<void> {
  const root = new URL("../fixtures/", import.meta.url);
  const files = await buildFixtures();
  for (const folder of FIXTURE_FOLDERS) {
    const dir = new URL(`${folder}/`, root);
    await Deno.mkdir(dir, { recursive: true });
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && !files.has(`${folder}/${entry.name}`)) {
        await Deno.remove(new URL(entry.name, dir));
      }
    }
  }
  let total = 0;
  for (const [path, bytes] of files) {
    await Deno.writeFile(new URL(path, root), bytes);
    total += bytes.length;
  }
  console.log(`Wrote ${files.size} fixture files (${total} bytes) under fixtures/`);
}

if (import.meta.main) await writeFixtures();
