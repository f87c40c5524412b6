/**
 * A small PNG encoder written against the specification (RFC 2083 / ISO 15948), with zlib from
 * `CompressionStream("deflate")`. It exists because importing `imagescript`'s own encoder loads a
 * native addon (`--allow-ffi`), and because fixtures need the variants that encoder never writes:
 * 16-bit, palette, gray with alpha, low bit depths and Adam7 interlacing.
 */

import { concatBytes } from "../util/concat.ts";

/** PNG colour types by name (the numbers are those of the IHDR chunk). */
export const PNG_COLOR_TYPES = {
  gray: 0,
  rgb: 2,
  palette: 3,
  grayAlpha: 4,
  rgba: 6,
} as const;

export type PngColorType = keyof typeof PNG_COLOR_TYPES;

/** What to encode. */
export interface PngImage {
  width: number;
  height: number;
  colorType: PngColorType;
  /** Bits per sample: 8 (default) or 16 for every type; 1, 2 or 4 for gray and palette. */
  bitDepth?: 1 | 2 | 4 | 8 | 16;
  /**
   * Samples in row-major order, `channels` per pixel (gray 1, grayAlpha 2, rgb 3, rgba 4,
   * palette 1 index). Values must fit the bit depth; 16-bit samples go in a `Uint16Array`.
   */
  samples: Uint8Array | Uint16Array;
  /** RGB triples, for `palette` (at most 2^bitDepth entries). */
  palette?: Uint8Array;
  /** Alpha per palette entry (tRNS), for `palette`. */
  paletteAlpha?: Uint8Array;
  /** Adam7 interlacing (default false). */
  interlace?: boolean;
}

const CHANNELS: Record<PngColorType, number> = {
  gray: 1,
  rgb: 3,
  palette: 1,
  grayAlpha: 2,
  rgba: 4,
};

const SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/**
 * Encode an image as PNG bytes.
 *
 * @throws {RangeError} when the dimensions, bit depth, samples or palette do not match.
 */
export async function encodePng(image: PngImage): Promise<Uint8Array> {
  const bitDepth = image.bitDepth ?? 8;
  validate(image, bitDepth);
  const raw = image.interlace ? adam7Scanlines(image, bitDepth) : scanlines(image, bitDepth);
  const chunks: Uint8Array[] = [SIGNATURE, chunk("IHDR", ihdr(image, bitDepth))];
  if (image.colorType === "palette") {
    chunks.push(chunk("PLTE", image.palette!));
    if (image.paletteAlpha) chunks.push(chunk("tRNS", image.paletteAlpha));
  }
  chunks.push(chunk("IDAT", await zlibDeflate(raw)), chunk("IEND", new Uint8Array(0)));
  return concatBytes(chunks);
}

function validate(image: PngImage, bitDepth: number): void {
  const { width, height, colorType, samples } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(
      `Cannot encode PNG: width and height must be positive integers, current value is ${width}x${height}`,
    );
  }
  const allowed = colorType === "gray" || colorType === "palette" ? [1, 2, 4, 8, 16] : [8, 16];
  if (colorType === "palette") allowed.pop();
  if (!allowed.includes(bitDepth)) {
    throw new RangeError(
      `Cannot encode PNG: bit depth for ${colorType} must be one of ${allowed.join(", ")}, ` +
        `current value is ${bitDepth}`,
    );
  }
  const expected = width * height * CHANNELS[colorType];
  if (samples.length !== expected) {
    throw new RangeError(
      `Cannot encode PNG: expected ${expected} samples for ${width}x${height} ${colorType}, ` +
        `current value is ${samples.length}`,
    );
  }
  if (colorType === "palette") {
    const entries = (image.palette?.length ?? 0) / 3;
    if (!Number.isInteger(entries) || entries < 1 || entries > 2 ** bitDepth) {
      throw new RangeError(
        `Cannot encode PNG: palette must hold 1 to ${2 ** bitDepth} RGB triples, ` +
          `current length is ${image.palette?.length ?? 0}`,
      );
    }
  }
}

function ihdr(image: PngImage, bitDepth: number): Uint8Array {
  const data = new Uint8Array(13);
  const view = new DataView(data.buffer);
  view.setUint32(0, image.width);
  view.setUint32(4, image.height);
  data[8] = bitDepth;
  data[9] = PNG_COLOR_TYPES[image.colorType];
  data[12] = image.interlace ? 1 : 0;
  return data;
}

/** Filtered scanlines of a sub-image: pixels (x0 + i*dx, y0 + j*dy). */
function subImageScanlines(
  image: PngImage,
  bitDepth: number,
  x0: number,
  y0: number,
  dx: number,
  dy: number,
): Uint8Array[] {
  const channels = CHANNELS[image.colorType];
  const cols = Math.ceil((image.width - x0) / dx);
  const rows = Math.ceil((image.height - y0) / dy);
  if (cols <= 0 || rows <= 0) return [];
  const bitsPerPixel = channels * bitDepth;
  const rowBytes = Math.ceil((cols * bitsPerPixel) / 8);
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const lines: Uint8Array[] = [];
  let previous = new Uint8Array(rowBytes);
  for (let j = 0; j < rows; j++) {
    const row = new Uint8Array(rowBytes);
    const y = y0 + j * dy;
    for (let i = 0; i < cols; i++) {
      const x = x0 + i * dx;
      for (let c = 0; c < channels; c++) {
        const value = image.samples[(y * image.width + x) * channels + c];
        const sampleIndex = i * channels + c;
        if (bitDepth === 16) {
          row[sampleIndex * 2] = value >> 8;
          row[sampleIndex * 2 + 1] = value & 0xff;
        } else if (bitDepth === 8) {
          row[sampleIndex] = value;
        } else {
          const bit = sampleIndex * bitDepth;
          row[bit >> 3] |= (value & ((1 << bitDepth) - 1)) << (8 - bitDepth - (bit & 7));
        }
      }
    }
    lines.push(filterRow(row, previous, bpp));
    previous = row;
  }
  return lines;
}

function scanlines(image: PngImage, bitDepth: number): Uint8Array {
  return concatBytes(subImageScanlines(image, bitDepth, 0, 0, 1, 1));
}

function adam7Scanlines(image: PngImage, bitDepth: number): Uint8Array {
  return concatBytes(
    ADAM7.flatMap(([x0, y0, dx, dy]) => subImageScanlines(image, bitDepth, x0, y0, dx, dy)),
  );
}

/** Pick the filter with the smallest sum of absolute residuals (the libpng heuristic). */
function filterRow(row: Uint8Array, previous: Uint8Array, bpp: number): Uint8Array {
  let best: Uint8Array | undefined;
  let bestScore = Infinity;
  for (let type = 0; type <= 4; type++) {
    const out = new Uint8Array(row.length + 1);
    out[0] = type;
    let score = 0;
    for (let i = 0; i < row.length; i++) {
      const a = i >= bpp ? row[i - bpp] : 0;
      const b = previous[i];
      const c = i >= bpp ? previous[i - bpp] : 0;
      const predictor = type === 0
        ? 0
        : type === 1
        ? a
        : type === 2
        ? b
        : type === 3
        ? (a + b) >> 1
        : paeth(a, b, c);
      const residual = (row[i] - predictor) & 0xff;
      out[i + 1] = residual;
      score += residual < 128 ? residual : 256 - residual;
    }
    if (score < bestScore) {
      bestScore = score;
      best = out;
    }
  }
  return best!;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** A chunk: length, type, data, CRC-32 over type and data. */
export function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO 3309), as PNG chunks use it. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** zlib-wrapped deflate (what IDAT holds). */
export async function zlibDeflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
