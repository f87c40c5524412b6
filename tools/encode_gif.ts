/**
 * A small GIF89a encoder (global palette, LZW, one or more frames). `imagescript`'s GIF encoder
 * is a native addon (`--allow-ffi`); this one lets fixtures and tests write animated GIFs and
 * GIFs whose first frame does not cover the logical screen.
 */

/** One frame: palette indices for a rectangle of the logical screen. */
export interface GifFrame {
  x?: number;
  y?: number;
  width: number;
  height: number;
  /** Row-major palette indices, width * height of them. */
  indices: Uint8Array;
  /** Display time in hundredths of a second (default 10). */
  delay?: number;
  /** A palette index drawn as transparent. */
  transparentIndex?: number;
}

/** What to encode. */
export interface GifImage {
  width: number;
  height: number;
  /** RGB triples, 2 to 256 entries. */
  palette: Uint8Array;
  frames: GifFrame[];
}

/**
 * Encode frames as GIF bytes (with a NETSCAPE2.0 loop block when there is more than one frame).
 *
 * @throws {RangeError} when dimensions, palette or frames do not fit.
 */
export function encodeGif(image: GifImage): Uint8Array {
  const { width, height, palette, frames } = image;
  if (!(width >= 1 && height >= 1 && width <= 65535 && height <= 65535)) {
    throw new RangeError(
      `Cannot encode GIF: width and height must be in [1, 65535], current value is ${width}x${height}`,
    );
  }
  const entries = palette.length / 3;
  if (!Number.isInteger(entries) || entries < 2 || entries > 256) {
    throw new RangeError(
      `Cannot encode GIF: palette must hold 2 to 256 RGB triples, current length is ${palette.length}`,
    );
  }
  if (frames.length === 0) throw new RangeError("Cannot encode GIF: at least one frame is needed");
  let tableBits = 1;
  while (1 << tableBits < entries) tableBits++;

  const out: number[] = [...ascii("GIF89a")];
  out.push(...u16(width), ...u16(height), 0xf0 | (tableBits - 1), 0, 0);
  const table = new Uint8Array(3 << tableBits);
  table.set(palette);
  out.push(...table);
  if (frames.length > 1) out.push(0x21, 0xff, 0x0b, ...ascii("NETSCAPE2.0"), 3, 1, 0, 0, 0);
  for (const frame of frames) {
    if (frame.indices.length !== frame.width * frame.height) {
      throw new RangeError(
        `Cannot encode GIF: a ${frame.width}x${frame.height} frame needs ${
          frame.width * frame.height
        } indices, current value is ${frame.indices.length}`,
      );
    }
    const transparent = frame.transparentIndex !== undefined;
    out.push(0x21, 0xf9, 4, (1 << 2) | (transparent ? 1 : 0), ...u16(frame.delay ?? 10));
    out.push(transparent ? frame.transparentIndex! : 0, 0);
    out.push(0x2c, ...u16(frame.x ?? 0), ...u16(frame.y ?? 0));
    out.push(...u16(frame.width), ...u16(frame.height), 0);
    const minCodeSize = Math.max(2, tableBits);
    out.push(minCodeSize);
    const data = lzw(frame.indices, minCodeSize);
    for (let i = 0; i < data.length; i += 255) {
      const block = data.subarray(i, i + 255);
      out.push(block.length, ...block);
    }
    out.push(0);
  }
  out.push(0x3b);
  return new Uint8Array(out);
}

/** Variable-width LZW as GIF uses it (codes packed LSB first, 12-bit maximum). */
function lzw(indices: Uint8Array, minCodeSize: number): Uint8Array {
  const clear = 1 << minCodeSize;
  const end = clear + 1;
  const out: number[] = [];
  let buffer = 0;
  let count = 0;
  let codeSize = minCodeSize + 1;
  const emit = (code: number) => {
    buffer |= code << count;
    count += codeSize;
    while (count >= 8) {
      out.push(buffer & 0xff);
      buffer >>>= 8;
      count -= 8;
    }
  };
  let table = new Map<number, number>();
  let next = end + 1;
  emit(clear);
  let current = indices[0];
  for (let i = 1; i < indices.length; i++) {
    const key = (current << 8) | indices[i];
    const found = table.get(key);
    if (found !== undefined) {
      current = found;
      continue;
    }
    emit(current);
    if (next === 4096) {
      emit(clear);
      table = new Map();
      next = end + 1;
      codeSize = minCodeSize + 1;
    } else {
      if (next >= 1 << codeSize) codeSize++;
      table.set(key, next++);
    }
    current = indices[i];
  }
  emit(current);
  emit(end);
  if (count > 0) out.push(buffer & 0xff);
  return new Uint8Array(out);
}

function u16(value: number): number[] {
  return [value & 0xff, value >> 8];
}

function ascii(text: string): number[] {
  return [...text].map((ch) => ch.charCodeAt(0));
}
