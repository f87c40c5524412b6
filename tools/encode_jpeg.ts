/**
 * A small baseline JPEG encoder (ITU T.81: sequential DCT, Huffman tables of Annex K, no chroma
 * subsampling), for the test fixtures only. Kept hand-written rather than an npm encoder because:
 *
 * - it writes grayscale (1 channel) and Adobe CMYK (4 channels) files, which the decoder must be
 *   tested on and which `jpeg-js` (the pure-JS npm encoder) never writes; `imagescript`'s encoder
 *   is a native addon (it needs `--allow-ffi`, which the fixture task does not have) and also
 *   writes RGB only;
 * - for RGB, `jpeg-js` 0.4.4 gives other bytes for the same image (another DCT and colour
 *   conversion), so switching would rewrite the committed fixtures and move every seeded accuracy
 *   measured on them.
 *
 * Output is a pure function of the input: fixtures stay byte-identical.
 */

/** What to encode. */
export interface JpegImage {
  width: number;
  height: number;
  /**
   * 1: grayscale; 3: RGB, stored as YCbCr (JFIF); 4: CMYK in the Adobe convention that
   * Photoshop writes (each value is 255 minus the ink, so 255 is no ink), with an APP14 marker.
   */
  channels: 1 | 3 | 4;
  /** Row-major samples, `channels` per pixel. */
  samples: Uint8Array;
  /** 1 to 100, IJG scale (default 90). */
  quality?: number;
}

// deno-fmt-ignore
const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10,
  17, 24, 32, 25, 18, 11, 4, 5,
  12, 19, 26, 33, 40, 48, 41, 34,
  27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36,
  29, 22, 15, 23, 30, 37, 44, 51,
  58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63,
];

// deno-fmt-ignore
const LUMA_QUANT = [
  16, 11, 10, 16, 24, 40, 51, 61,
  12, 12, 14, 19, 26, 58, 60, 55,
  14, 13, 16, 24, 40, 57, 69, 56,
  14, 17, 22, 29, 51, 87, 80, 62,
  18, 22, 37, 56, 68, 109, 103, 77,
  24, 35, 55, 64, 81, 104, 113, 92,
  49, 64, 78, 87, 103, 121, 120, 101,
  72, 92, 95, 98, 112, 100, 103, 99,
];

// deno-fmt-ignore
const CHROMA_QUANT = [
  17, 18, 24, 47, 99, 99, 99, 99,
  18, 21, 26, 66, 99, 99, 99, 99,
  24, 26, 56, 99, 99, 99, 99, 99,
  47, 66, 99, 99, 99, 99, 99, 99,
  ...new Array(32).fill(99),
];

interface HuffmanSpec {
  bits: number[];
  values: number[];
}

const DC_LUMA: HuffmanSpec = {
  bits: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
  values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
};

const DC_CHROMA: HuffmanSpec = {
  bits: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
  values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
};

const AC_LUMA: HuffmanSpec = {
  bits: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
  // deno-fmt-ignore
  values: [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
    0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
    0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
    0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
    0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
    0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
    0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
    0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
    0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    0xf9, 0xfa,
  ],
};

const AC_CHROMA: HuffmanSpec = {
  bits: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
  // deno-fmt-ignore
  values: [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
    0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
    0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
    0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
    0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
    0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
    0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
    0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
    0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    0xf9, 0xfa,
  ],
};

/** code and length per symbol, built as in Annex C. */
interface HuffmanTable {
  codes: Uint16Array;
  lengths: Uint8Array;
}

function buildTable(spec: HuffmanSpec): HuffmanTable {
  const codes = new Uint16Array(256);
  const lengths = new Uint8Array(256);
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    for (let i = 0; i < spec.bits[length - 1]; i++) {
      codes[spec.values[k]] = code;
      lengths[spec.values[k]] = length;
      code++;
      k++;
    }
    code <<= 1;
  }
  return { codes, lengths };
}

/** cos((2x + 1) u pi / 16) * C(u) / 2, so a 1-D DCT is a dot product with a row. */
const DCT_BASIS = (() => {
  const basis = new Float64Array(64);
  for (let u = 0; u < 8; u++) {
    const scale = u === 0 ? Math.SQRT1_2 / 2 : 0.5;
    for (let x = 0; x < 8; x++) {
      basis[u * 8 + x] = scale * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
    }
  }
  return basis;
})();

/**
 * Encode samples as a baseline JPEG.
 *
 * @throws {RangeError} when dimensions, channels, sample count or quality are out of range.
 */
export function encodeJpeg(image: JpegImage): Uint8Array {
  const { width, height, channels, samples } = image;
  const quality = image.quality ?? 90;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(
      `Cannot encode JPEG: width and height must be positive integers, current value is ${width}x${height}`,
    );
  }
  if (width > 65535 || height > 65535) {
    throw new RangeError(
      `Cannot encode JPEG: width and height must be at most 65535, current value is ${width}x${height}`,
    );
  }
  if (![1, 3, 4].includes(channels)) {
    throw new RangeError(
      `Cannot encode JPEG: channels must be 1, 3 or 4, current value is ${channels}`,
    );
  }
  if (samples.length !== width * height * channels) {
    throw new RangeError(
      `Cannot encode JPEG: expected ${
        width * height * channels
      } samples, current value is ${samples.length}`,
    );
  }
  if (!(quality >= 1 && quality <= 100)) {
    throw new RangeError(
      `Cannot encode JPEG: quality must be in [1, 100], current value is ${quality}`,
    );
  }

  const planes = toPlanes(image);
  const chroma = channels === 3;
  const quant = [scaleQuant(LUMA_QUANT, quality), scaleQuant(CHROMA_QUANT, quality)];
  const tables = [
    { dc: buildTable(DC_LUMA), ac: buildTable(AC_LUMA) },
    { dc: buildTable(DC_CHROMA), ac: buildTable(AC_CHROMA) },
  ];
  const tableOf = (component: number) => (chroma && component > 0 ? 1 : 0);

  const out: number[] = [0xff, 0xd8];
  if (channels === 4) {
    segment(out, 0xee, [...ascii("Adobe"), 0, 100, 0, 0, 0, 0, 0]);
  } else {
    segment(out, 0xe0, [...ascii("JFIF"), 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  }
  for (let t = 0; t < (chroma ? 2 : 1); t++) {
    segment(out, 0xdb, [t, ...ZIGZAG.map((i) => quant[t][i])]);
  }
  const frame = [8, height >> 8, height & 0xff, width >> 8, width & 0xff, channels];
  for (let c = 0; c < channels; c++) frame.push(c + 1, 0x11, tableOf(c));
  segment(out, 0xc0, frame);
  const specs = [[DC_LUMA, AC_LUMA], [DC_CHROMA, AC_CHROMA]];
  for (let t = 0; t < (chroma ? 2 : 1); t++) {
    segment(out, 0xc4, [t, ...specs[t][0].bits, ...specs[t][0].values]);
    segment(out, 0xc4, [0x10 | t, ...specs[t][1].bits, ...specs[t][1].values]);
  }
  const scan: number[] = [channels];
  for (let c = 0; c < channels; c++) scan.push(c + 1, (tableOf(c) << 4) | tableOf(c));
  scan.push(0, 63, 0);
  segment(out, 0xda, scan);

  const writer = new BitWriter(out);
  const previousDc = new Array(channels).fill(0);
  const block = new Float64Array(64);
  for (let by = 0; by < height; by += 8) {
    for (let bx = 0; bx < width; bx += 8) {
      for (let c = 0; c < channels; c++) {
        for (let y = 0; y < 8; y++) {
          const sy = Math.min(by + y, height - 1);
          for (let x = 0; x < 8; x++) {
            block[y * 8 + x] = planes[c][sy * width + Math.min(bx + x, width - 1)] - 128;
          }
        }
        const t = tableOf(c);
        previousDc[c] = encodeBlock(writer, forwardDct(block), quant[t], tables[t], previousDc[c]);
      }
    }
  }
  writer.flush();
  out.push(0xff, 0xd9);
  return new Uint8Array(out);
}

function toPlanes({ width, height, channels, samples }: JpegImage): Float64Array[] {
  const n = width * height;
  const planes = Array.from({ length: channels }, () => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    if (channels === 3) {
      const r = samples[i * 3];
      const g = samples[i * 3 + 1];
      const b = samples[i * 3 + 2];
      planes[0][i] = 0.299 * r + 0.587 * g + 0.114 * b;
      planes[1][i] = -0.168736 * r - 0.331264 * g + 0.5 * b + 128;
      planes[2][i] = 0.5 * r - 0.418688 * g - 0.081312 * b + 128;
    } else {
      for (let c = 0; c < channels; c++) planes[c][i] = samples[i * channels + c];
    }
  }
  return planes;
}

function scaleQuant(base: number[], quality: number): number[] {
  const scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
  return base.map((q) => Math.min(255, Math.max(1, Math.floor((q * scale + 50) / 100))));
}

function forwardDct(block: Float64Array): Float64Array {
  const rows = new Float64Array(64);
  for (let y = 0; y < 8; y++) {
    for (let u = 0; u < 8; u++) {
      let sum = 0;
      for (let x = 0; x < 8; x++) sum += DCT_BASIS[u * 8 + x] * block[y * 8 + x];
      rows[y * 8 + u] = sum;
    }
  }
  const out = new Float64Array(64);
  for (let u = 0; u < 8; u++) {
    for (let v = 0; v < 8; v++) {
      let sum = 0;
      for (let y = 0; y < 8; y++) sum += DCT_BASIS[v * 8 + y] * rows[y * 8 + u];
      out[v * 8 + u] = sum;
    }
  }
  return out;
}

/** Huffman-code one quantised block; returns its DC value for the next block's difference. */
function encodeBlock(
  writer: BitWriter,
  coefficients: Float64Array,
  quant: number[],
  table: { dc: HuffmanTable; ac: HuffmanTable },
  previousDc: number,
): number {
  const q = ZIGZAG.map((i) => Math.round(coefficients[i] / quant[i]));
  const diff = q[0] - previousDc;
  const dcSize = magnitudeSize(diff);
  writer.write(table.dc.codes[dcSize], table.dc.lengths[dcSize]);
  if (dcSize > 0) writer.write(magnitudeBits(diff, dcSize), dcSize);
  let zeros = 0;
  for (let k = 1; k < 64; k++) {
    if (q[k] === 0) {
      zeros++;
      continue;
    }
    while (zeros > 15) {
      writer.write(table.ac.codes[0xf0], table.ac.lengths[0xf0]);
      zeros -= 16;
    }
    const size = magnitudeSize(q[k]);
    const symbol = (zeros << 4) | size;
    writer.write(table.ac.codes[symbol], table.ac.lengths[symbol]);
    writer.write(magnitudeBits(q[k], size), size);
    zeros = 0;
  }
  if (zeros > 0) writer.write(table.ac.codes[0], table.ac.lengths[0]);
  return q[0];
}

function magnitudeSize(value: number): number {
  let magnitude = Math.abs(value);
  let size = 0;
  while (magnitude > 0) {
    size++;
    magnitude >>= 1;
  }
  return size;
}

function magnitudeBits(value: number, size: number): number {
  return value >= 0 ? value : (value - 1) & ((1 << size) - 1);
}

/** MSB-first bit packing with the 0xFF byte stuffing of entropy-coded data. */
class BitWriter {
  #out: number[];
  #buffer = 0;
  #count = 0;

  constructor(out: number[]) {
    this.#out = out;
  }

  write(bits: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.#buffer = (this.#buffer << 1) | ((bits >> i) & 1);
      this.#count++;
      if (this.#count === 8) this.#emit();
    }
  }

  /** Pad the last byte with 1 bits, as T.81 F.1.2.3 asks. */
  flush(): void {
    while (this.#count !== 0) this.write(1, 1);
  }

  #emit(): void {
    this.#out.push(this.#buffer);
    if (this.#buffer === 0xff) this.#out.push(0);
    this.#buffer = 0;
    this.#count = 0;
  }
}

function segment(out: number[], marker: number, payload: number[]): void {
  const length = payload.length + 2;
  out.push(0xff, marker, length >> 8, length & 0xff, ...payload);
}

function ascii(text: string): number[] {
  return [...text].map((ch) => ch.charCodeAt(0));
}
