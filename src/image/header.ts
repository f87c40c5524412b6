/**
 * Format sniffing and header parsing, without decoding: the format comes from the magic bytes
 * (never the file name), and the dimensions from the PNG IHDR chunk, the JPEG frame header
 * (SOFn) or the GIF logical screen and first image descriptor. This is what lets the pixel limit
 * be enforced before a decoder allocates anything.
 */

/** The formats the decoder accepts. */
export type ImageFormat = "png" | "jpeg" | "gif";

/** What a header declares. */
export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  /**
   * The largest pixel buffer decoding will allocate: width * height, or for a GIF the larger of
   * the logical screen and its first frame (a frame may be bigger than the screen).
   */
  pixels: number;
}

export type HeaderResult = ({ ok: true } & ImageHeader) | { ok: false; reason: string };

export type SniffResult = { ok: true; format: ImageFormat } | { ok: false; reason: string };

const ACCEPTED = "only PNG, JPEG and GIF are decoded";

/** Signatures of formats that are images (or look like them) but are not decoded here. */
const REFUSED_SIGNATURES: { name: string; matches: (b: Uint8Array) => boolean }[] = [
  { name: "TIFF", matches: (b) => startsWith(b, [0x49, 0x49, 0x2a, 0x00]) },
  { name: "TIFF", matches: (b) => startsWith(b, [0x4d, 0x4d, 0x00, 0x2a]) },
  { name: "BigTIFF", matches: (b) => startsWith(b, [0x49, 0x49, 0x2b, 0x00]) },
  { name: "BigTIFF", matches: (b) => startsWith(b, [0x4d, 0x4d, 0x00, 0x2b]) },
  { name: "WebP", matches: (b) => startsWith(b, ascii("RIFF")) && startsWith(b, ascii("WEBP"), 8) },
  {
    name: "BMP",
    matches: (b) =>
      startsWith(b, ascii("BM")) && b.length >= 18 &&
      [12, 40, 52, 56, 64, 108, 124].includes(viewOf(b).getUint32(14, true)),
  },
  { name: "ICO", matches: (b) => startsWith(b, [0, 0, 1, 0]) && b.length >= 6 },
  { name: "AVIF", matches: (b) => startsWith(b, ascii("ftypavi"), 4) },
  { name: "HEIF", matches: (b) => /^ftyp(hei|hev|mif1|msf1)/.test(latin1(b, 4, 12)) },
  { name: "JPEG 2000", matches: (b) => startsWith(b, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20]) },
  { name: "JPEG 2000", matches: (b) => startsWith(b, [0xff, 0x4f, 0xff, 0x51]) },
  { name: "JPEG XL", matches: (b) => startsWith(b, [0xff, 0x0a]) },
  { name: "JPEG XL", matches: (b) => startsWith(b, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20]) },
  { name: "Photoshop (PSD)", matches: (b) => startsWith(b, ascii("8BPS")) },
  { name: "QOI", matches: (b) => startsWith(b, ascii("qoif")) },
  { name: "PDF", matches: (b) => startsWith(b, ascii("%PDF")) },
  { name: "gzip", matches: (b) => startsWith(b, [0x1f, 0x8b]) },
  { name: "ZIP", matches: (b) => startsWith(b, [0x50, 0x4b, 0x03, 0x04]) },
];

/** Identify the format from the first bytes; a refusal names what the file is instead. */
export function sniffFormat(bytes: Uint8Array): SniffResult {
  if (bytes.length === 0) return { ok: false, reason: "empty file (0 bytes)" };
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) {
    return { ok: true, format: "png" };
  }
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { ok: true, format: "jpeg" };
  if (startsWith(bytes, ascii("GIF87a")) || startsWith(bytes, ascii("GIF89a"))) {
    return { ok: true, format: "gif" };
  }
  for (const { name, matches } of REFUSED_SIGNATURES) {
    if (matches(bytes)) return { ok: false, reason: `unsupported format ${name}: ${ACCEPTED}` };
  }
  if (looksLikeSvg(bytes)) return { ok: false, reason: `unsupported format SVG: ${ACCEPTED}` };
  if (looksLikeText(bytes)) return { ok: false, reason: `not an image: the file holds text` };
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, "0"));
  return {
    ok: false,
    reason: `not an image: unrecognised signature ${head.join(" ")} (${ACCEPTED})`,
  };
}

/** Sniff the format and read the declared dimensions. Never throws on bad bytes. */
export function readHeader(bytes: Uint8Array): HeaderResult {
  const sniffed = sniffFormat(bytes);
  if (!sniffed.ok) return sniffed;
  switch (sniffed.format) {
    case "png":
      return readPngHeader(bytes);
    case "jpeg":
      return readJpegHeader(bytes);
    case "gif":
      return readGifHeader(bytes);
  }
}

/** Allowed bit depths per PNG colour type (ISO 15948, table 11.1). */
const PNG_BIT_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

function readPngHeader(bytes: Uint8Array): HeaderResult {
  if (bytes.length < 33) {
    return { ok: false, reason: "truncated PNG: the file ends inside the IHDR header" };
  }
  const view = viewOf(bytes);
  const type = latin1(bytes, 12, 16);
  if (type !== "IHDR" || view.getUint32(8) !== 13) {
    return { ok: false, reason: `invalid PNG: the first chunk must be a 13-byte IHDR` };
  }
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const bitDepth = bytes[24];
  const colorType = bytes[25];
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) {
    return { ok: false, reason: `invalid PNG: declared size ${width}x${height}` };
  }
  if (!PNG_BIT_DEPTHS[colorType]?.includes(bitDepth)) {
    return {
      ok: false,
      reason: `invalid PNG: bit depth ${bitDepth} with colour type ${colorType} is not allowed`,
    };
  }
  if (bytes[26] !== 0 || bytes[27] !== 0 || bytes[28] > 1) {
    return { ok: false, reason: "invalid PNG: unknown compression, filter or interlace method" };
  }
  return { ok: true, format: "png", width, height, pixels: width * height };
}

/**
 * The first frame header (SOFn) of a JPEG, found the way the decoder (`jpeg-decoder`, inside
 * imagescript's wasm) finds it: between segments, bytes up to the next `FF` are skipped, fill
 * bytes (`FF FF`) are skipped, and `FF 00` is no marker (stuffing), so the search goes on after
 * it. Reading `FF 00` as a segment with a length, as this check once did, skipped bytes in which
 * the decoder resynchronised and found a frame header the check never saw: a file checked as
 * 8x8 decoded as 16000x16000. The decoder refuses a second frame header, so the first one it
 * meets is the only one it honours; a scan (SOS) or the end (EOI) before it is refused here too.
 */
function readJpegHeader(bytes: Uint8Array): HeaderResult {
  let pos = 2;
  while (true) {
    // Resynchronise as the decoder does: the next FF, then past fill bytes; FF 00 is skipped.
    while (pos < bytes.length && bytes[pos] !== 0xff) pos++;
    while (pos < bytes.length && bytes[pos] === 0xff) pos++;
    if (pos >= bytes.length) break;
    const marker = bytes[pos++];
    if (marker === 0x00) continue;
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue;
    if (marker === 0xd8) return { ok: false, reason: "invalid JPEG: a second start of image" };
    if (marker === 0xd9) {
      return { ok: false, reason: "invalid JPEG: the image ends before a frame header (SOF)" };
    }
    if (marker === 0xda) {
      return { ok: false, reason: "invalid JPEG: a scan (SOS) comes before any frame header" };
    }
    if (pos + 2 > bytes.length) break;
    const length = (bytes[pos] << 8) | bytes[pos + 1];
    if (length < 2) return { ok: false, reason: `invalid JPEG: segment length ${length}` };
    if (isStartOfFrame(marker)) {
      if (pos + 8 > bytes.length) break;
      if (marker >= 0xc9) {
        return { ok: false, reason: `unsupported JPEG: arithmetic coding (SOF${marker - 0xc0})` };
      }
      if (marker >= 0xc5) {
        return { ok: false, reason: `unsupported JPEG: hierarchical mode (SOF${marker - 0xc0})` };
      }
      const height = (bytes[pos + 3] << 8) | bytes[pos + 4];
      const width = (bytes[pos + 5] << 8) | bytes[pos + 6];
      if (height === 0) {
        return { ok: false, reason: "unsupported JPEG: height deferred to a DNL marker" };
      }
      if (width === 0) return { ok: false, reason: "invalid JPEG: declared width 0" };
      return { ok: true, format: "jpeg", width, height, pixels: width * height };
    }
    pos += length;
  }
  return { ok: false, reason: "truncated JPEG: the file ends before a frame header (SOF)" };
}

function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
    marker !== 0xcc;
}

function readGifHeader(bytes: Uint8Array): HeaderResult {
  if (bytes.length < 13) {
    return { ok: false, reason: "truncated GIF: the file ends inside the screen descriptor" };
  }
  const view = viewOf(bytes);
  const width = view.getUint16(6, true);
  const height = view.getUint16(8, true);
  if (width === 0 || height === 0) {
    return { ok: false, reason: `invalid GIF: declared screen size ${width}x${height}` };
  }
  let pos = 13;
  if (bytes[10] & 0x80) pos += 3 << ((bytes[10] & 0x07) + 1);
  while (pos < bytes.length) {
    const block = bytes[pos];
    if (block === 0x2c) {
      if (pos + 10 > bytes.length) break;
      const frameWidth = view.getUint16(pos + 5, true);
      const frameHeight = view.getUint16(pos + 7, true);
      const pixels = Math.max(width * height, frameWidth * frameHeight);
      return { ok: true, format: "gif", width, height, pixels };
    }
    if (block === 0x21) {
      pos += 2;
      while (pos < bytes.length && bytes[pos] !== 0) pos += bytes[pos] + 1;
      pos++;
      continue;
    }
    if (block === 0x3b) return { ok: false, reason: "invalid GIF: it has no frames" };
    return { ok: false, reason: `invalid GIF: unknown block 0x${block.toString(16)} at ${pos}` };
  }
  return { ok: false, reason: "truncated GIF: the file ends before the first frame" };
}

function looksLikeSvg(bytes: Uint8Array): boolean {
  const head = latin1(bytes, 0, Math.min(bytes.length, 1024)).replace(/^\ufeff|^\xef\xbb\xbf/, "");
  return /^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]/i.test(
    head,
  );
}

/** No NUL bytes and mostly printable characters in the first 512 bytes. */
function looksLikeText(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 512);
  let printable = 0;
  for (const b of head) {
    if (b === 0) return false;
    if (b >= 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) printable++;
  }
  return printable >= 0.95 * head.length;
}

function startsWith(bytes: Uint8Array, prefix: number[], offset = 0): boolean {
  if (bytes.length < offset + prefix.length) return false;
  return prefix.every((b, i) => bytes[offset + i] === b);
}

function ascii(text: string): number[] {
  return [...text].map((ch) => ch.charCodeAt(0));
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
