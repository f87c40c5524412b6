/**
 * Read one image file, read-only, and decode it. Anything wrong with the file (missing,
 * unreadable, a directory or FIFO, too big, not an image, undecodable) comes back as a
 * `Refusal` with a reason, so a stream of files goes on past it. The source file is opened for
 * reading only: never moved, changed or deleted.
 */
import { decodeImage } from "./decode.ts";
import { sha256Hex } from "./hash.ts";
import { type ImageLimits, resolveLimits } from "./limits.ts";

/** A decoded image and where it came from. */
export interface LoadedImage {
  path: string;
  /** SHA-256 of the file bytes, hex: the same content has the same id wherever it lives. */
  id: string;
  width: number;
  height: number;
  /** width * height * 3 bytes, row-major RGB. */
  rgb: Uint8Array;
}

/** A file that was not loaded, and why. */
export interface Refusal {
  path: string;
  reason: string;
}

/** True for a refusal, false for a loaded image. */
export function isRefusal(result: LoadedImage | Refusal): result is Refusal {
  return !("rgb" in result);
}

/**
 * Load and decode the image at `path` within `limits`.
 *
 * @throws {RangeError} only for invalid limits.
 */
export async function loadImageFile(
  path: string,
  limits: Partial<ImageLimits> = {},
): Promise<LoadedImage | Refusal> {
  const resolved = resolveLimits(limits);
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(path);
    const kind = fileKind(info);
    if (kind) return { path, reason: `not a regular file: it is ${kind}` };
    if (info.size > resolved.maxBytes) {
      return { path, reason: tooBig(info.size, resolved.maxBytes) };
    }
    const read = await readAtMost(path, resolved.maxBytes);
    if (read === "grew") return { path, reason: tooBig(resolved.maxBytes + 1, resolved.maxBytes) };
    if (read === "not a file") {
      return { path, reason: "not a regular file (it changed while opening)" };
    }
    bytes = read;
  } catch (error) {
    return { path, reason: describeFsError(error) };
  }
  const decoded = await decodeImage(bytes, resolved);
  if (!decoded.ok) return { path, reason: decoded.reason };
  const id = await sha256Hex(bytes);
  return { path, id, width: decoded.width, height: decoded.height, rgb: decoded.rgb };
}

/**
 * Read the whole file, but never more than `maxBytes` + 1 bytes: the file may have grown
 * since `stat`.
 */
async function readAtMost(
  path: string,
  maxBytes: number,
): Promise<Uint8Array | "grew" | "not a file"> {
  using file = await Deno.open(path, { read: true });
  // The path may have been swapped between stat and open: check what was actually opened.
  const info = await file.stat();
  if (!info.isFile) return "not a file";
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(Math.min(Math.max(info.size, 1), maxBytes) + 1);
  while (true) {
    const n = await file.read(buffer.subarray(0, Math.min(buffer.length, maxBytes + 1 - total)));
    if (n === null || n === 0) break;
    chunks.push(buffer.slice(0, n));
    total += n;
    if (total > maxBytes) return "grew";
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

function fileKind(info: Deno.FileInfo): string | null {
  if (info.isFile) return null;
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a named pipe (FIFO)";
  if (info.isSocket) return "a socket";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  return "of an unknown kind";
}

function tooBig(size: number, maxBytes: number): string {
  return `file too large: ${size} bytes, over the limit of ${maxBytes} (maxBytes)`;
}

function describeFsError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) {
    return "file not found (it may have been moved or deleted)";
  }
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied by the system";
  if (error instanceof Deno.errors.NotCapable) {
    return "not readable by this process (Deno permission --allow-read is missing for it)";
  }
  if (error instanceof Deno.errors.IsADirectory) return "not a regular file: it is a directory";
  if (error instanceof Error) return `cannot read file: ${error.message}`;
  return `cannot read file: ${String(error)}`;
}
