/**
 * Decode PNG, JPEG and GIF bytes to 8-bit RGB, with `imagescript`'s wasm decoders.
 *
 * The limits are enforced from the header before any decoder runs. Every failure is a value
 * (`{ ok: false, reason }`), including wasm traps (`WebAssembly.RuntimeError`) and allocation
 * failures inside the decoders. The wasm modules are imported directly rather than through
 * `imagescript`'s main module, which loads a native encoder addon on import and so would need
 * `--allow-ffi`; these need read access to `node_modules` and env access to
 * `IMAGESCRIPT_WASM_SIMD`.
 *
 * Conversions: gray is replicated to three channels; 16-bit samples keep their high byte (the
 * PNG decoder strips them); palettes are expanded; alpha is composited over white, so that
 * transparent pixels (whose colour is arbitrary, often black) read as a plain background; CMYK
 * JPEGs become RGB by R = (1 - C)(1 - K); a GIF gives its first frame on its logical screen.
 */
import pngWasm from "imagescript/wasm/node/png.js";
import jpegWasm from "imagescript/wasm/node/jpeg.js";
import gifWasm from "imagescript/wasm/node/gif.js";
import { type ImageFormat, readHeader } from "./header.ts";
import { type ImageLimits, resolveLimits } from "./limits.ts";

export type DecodeResult =
  | { ok: true; width: number; height: number; rgb: Uint8Array }
  | { ok: false; reason: string };

interface PngDecoder {
  decode(bytes: Uint8Array): { width: number; height: number; framebuffer: Uint8Array };
}

interface JpegDecoder {
  decode(bytes: Uint8Array): { width: number; height: number; format: number; buffer: Uint8Array };
}

interface GifFrameBuffer {
  x: number;
  y: number;
  width: number;
  height: number;
  buffer: Uint8Array;
}

interface GifDecoder {
  Decoder: new (bytes: Uint8Array) => { width: number; height: number; frame(): GifFrameBuffer };
}

interface WasmLibrary<T> {
  init(): Promise<T>;
}

const png = pngWasm as WasmLibrary<PngDecoder>;
const jpeg = jpegWasm as WasmLibrary<JpegDecoder>;
const gif = gifWasm as WasmLibrary<GifDecoder>;

/** JPEG decoder pixel formats (see imagescript's `wasm/node/jpeg.js`). */
const JPEG_GRAY = 0;
const JPEG_RGB = 1;
const JPEG_CMYK = 2;

const FORMAT_NAMES: Record<ImageFormat, string> = { png: "PNG", jpeg: "JPEG", gif: "GIF" };

interface Rgba {
  width: number;
  height: number;
  rgba: Uint8Array;
}

/**
 * Decode image bytes to RGB (`rgb.length === width * height * 3`), refusing files over
 * `limits.maxBytes` and headers declaring more than `limits.maxPixels` before decoding.
 *
 * @throws {RangeError} only for invalid limits (a bug of the caller, not a bad image).
 */
export async function decodeImage(
  bytes: Uint8Array,
  limits: Partial<ImageLimits> = {},
): Promise<DecodeResult> {
  const { maxBytes, maxPixels } = resolveLimits(limits);
  if (bytes.length > maxBytes) {
    return {
      ok: false,
      reason: `file too large: ${bytes.length} bytes, over the limit of ${maxBytes} (maxBytes)`,
    };
  }
  const header = readHeader(bytes);
  if (!header.ok) return header;
  const name = FORMAT_NAMES[header.format];
  if (header.pixels > maxPixels) {
    return {
      ok: false,
      reason: `image too large: the ${name} header declares ${header.width}x${header.height} ` +
        `(${header.pixels} pixels), over the limit of ${maxPixels} (maxPixels)`,
    };
  }
  let decoded: Rgba;
  try {
    decoded = header.format === "png"
      ? await decodePng(bytes)
      : header.format === "jpeg"
      ? await decodeJpeg(bytes)
      : await decodeGif(bytes);
  } catch (error) {
    return { ok: false, reason: `cannot decode ${name}: ${describe(error)}` };
  }
  if (decoded.width !== header.width || decoded.height !== header.height) {
    return {
      ok: false,
      reason: `cannot decode ${name}: decoded ${decoded.width}x${decoded.height}, ` +
        `but the header declares ${header.width}x${header.height}`,
    };
  }
  return { ok: true, width: decoded.width, height: decoded.height, rgb: overWhite(decoded.rgba) };
}

async function decodePng(bytes: Uint8Array): Promise<Rgba> {
  const { width, height, framebuffer } = (await png.init()).decode(bytes);
  return { width, height, rgba: framebuffer };
}

async function decodeJpeg(bytes: Uint8Array): Promise<Rgba> {
  const { width, height, format, buffer } = (await jpeg.init()).decode(bytes);
  const n = width * height;
  const rgba = new Uint8Array(n * 4);
  const channels = format === JPEG_GRAY
    ? 1
    : format === JPEG_RGB
    ? 3
    : format === JPEG_CMYK
    ? 4
    : 0;
  if (channels === 0) throw new Error(`unknown decoder pixel format ${format}`);
  if (buffer.length < n * channels) throw new Error("the decoder returned too few samples");
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    if (channels === 1) {
      rgba[o] = rgba[o + 1] = rgba[o + 2] = buffer[i];
    } else if (channels === 3) {
      rgba[o] = buffer[i * 3];
      rgba[o + 1] = buffer[i * 3 + 1];
      rgba[o + 2] = buffer[i * 3 + 2];
    } else {
      // The decoder already undoes the Adobe inversion: these are ink amounts, 255 = full ink.
      const white = 255 - buffer[i * 4 + 3];
      for (let c = 0; c < 3; c++) {
        rgba[o + c] = Math.round(((255 - buffer[i * 4 + c]) * white) / 255);
      }
    }
    rgba[o + 3] = 255;
  }
  return { width, height, rgba };
}

async function decodeGif(bytes: Uint8Array): Promise<Rgba> {
  const decoder = new (await gif.init()).Decoder(bytes);
  const { width, height } = decoder;
  const frame = decoder.frame();
  if (!frame) throw new Error("it has no frames");
  // A transparent canvas; the first frame may cover only part of it, or overhang it.
  const rgba = new Uint8Array(width * height * 4);
  const source = frame.buffer;
  for (let y = 0; y < frame.height; y++) {
    const ty = frame.y + y;
    if (ty >= height) break;
    for (let x = 0; x < frame.width; x++) {
      const tx = frame.x + x;
      if (tx >= width) break;
      const s = (y * frame.width + x) * 4;
      if (source[s + 3] === 0) continue;
      rgba.set(source.subarray(s, s + 4), (ty * width + tx) * 4);
    }
  }
  return { width, height, rgba };
}

/** Composite RGBA over white, to RGB. */
function overWhite(rgba: Uint8Array): Uint8Array {
  const n = rgba.length >> 2;
  const rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const alpha = rgba[i * 4 + 3];
    for (let c = 0; c < 3; c++) {
      const value = rgba[i * 4 + c];
      rgb[i * 3 + c] = alpha === 255
        ? value
        : Math.round((value * alpha + 255 * (255 - alpha)) / 255);
    }
  }
  return rgb;
}

function describe(error: unknown): string {
  if (error instanceof WebAssembly.RuntimeError) return `the decoder trapped (${error.message})`;
  if (error instanceof Error) return error.message;
  return String(error);
}
