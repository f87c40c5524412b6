/**
 * Read one image file, read-only, and decode it. Anything wrong with the file (missing,
 * unreadable, a directory or FIFO, too big, not an image, undecodable) comes back as a
 * `Refusal` with a reason, so a stream of files goes on past it. The source file is opened for
 * reading only: never moved, changed or deleted. It is opened through `node:fs` because
 * `Deno.open` takes no open flags: `O_NONBLOCK` and `O_NOFOLLOW` are needed (see `LoadOptions`).
 */
import { constants, type Stats } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { decodeImage } from "./decode.ts";
import { sha256Hex } from "./hash.ts";
import { type ImageLimits, resolveLimits } from "./limits.ts";

const { O_RDONLY, O_NONBLOCK, O_NOFOLLOW } = constants;

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

/** How `loadImageFile` opens the file. */
export interface LoadOptions {
  /**
   * The watched directory (a real path): the file opened must be the one inside it that `path`
   * names now. The containment check (`resolveInside`) and the open are separate steps, and a
   * folder on the path swapped for a link to outside the tree between them would make the open
   * read an outside file; so what was opened is checked: its real path must still lie inside
   * `root` and lead to the very file opened (same device and inode), or it is refused.
   */
  root?: string;
  /** For tests: runs just before the open. */
  beforeOpen?: () => Promise<void>;
  /** For tests: runs just after the open, before what was opened is checked. */
  afterOpen?: () => Promise<void>;
}

/**
 * Load and decode the image at `path` within `limits`.
 *
 * The file is opened non-blocking and its type checked on the handle, so that a FIFO (even one
 * swapped in at the last moment) is refused at once instead of blocking until a writer comes.
 *
 * @throws {RangeError} only for invalid limits.
 */
export async function loadImageFile(
  path: string,
  limits: Partial<ImageLimits> = {},
  options: LoadOptions = {},
): Promise<LoadedImage | Refusal> {
  const resolved = resolveLimits(limits);
  let bytes: Uint8Array;
  try {
    await options.beforeOpen?.();
    // O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer, for ever. With a root,
    // O_NOFOLLOW: the path is a real path, so a link in its last part was swapped in.
    const flags = O_RDONLY | O_NONBLOCK | (options.root === undefined ? 0 : O_NOFOLLOW);
    await using handle = await openHandle(path, flags);
    await options.afterOpen?.();
    const info = await handle.stat();
    const kind = fileKind(info);
    if (kind) return { path, reason: `not a regular file: it is ${kind}` };
    if (options.root !== undefined) {
      const swapped = await openedInside(options.root, path, info);
      if (swapped) return { path, reason: swapped };
    }
    if (info.size > resolved.maxBytes) {
      return { path, reason: tooBig(info.size, resolved.maxBytes) };
    }
    const read = await readAtMost(handle, info.size, resolved.maxBytes);
    if (read === "grew") return { path, reason: tooBig(resolved.maxBytes + 1, resolved.maxBytes) };
    bytes = read;
  } catch (error) {
    return { path, reason: describeFsError(error) };
  }
  return await loadImageBytes(path, bytes, resolved);
}

/**
 * Decode image bytes that did not come from a file (a classify request), as `loadImageFile`
 * decodes a file's; `label` stands for the path in the result.
 *
 * @throws {RangeError} only for invalid limits.
 */
export async function loadImageBytes(
  label: string,
  bytes: Uint8Array,
  limits: Partial<ImageLimits> = {},
): Promise<LoadedImage | Refusal> {
  const decoded = await decodeImage(bytes, resolveLimits(limits));
  if (!decoded.ok) return { path: label, reason: decoded.reason };
  const id = await sha256Hex(bytes);
  return { path: label, id, width: decoded.width, height: decoded.height, rgb: decoded.rgb };
}

/** `open(2)` with `flags`, as a handle that `await using` closes. */
async function openHandle(
  path: string,
  flags: number,
): Promise<FileHandle & { [Symbol.asyncDispose](): Promise<void> }> {
  const handle = await open(path, flags);
  return Object.assign(handle, { [Symbol.asyncDispose]: () => handle.close() });
}

/**
 * Why what was opened is not the file `path` names inside `root` now, or null when it is: the
 * real path must lie inside `root`, and lead to the same device and inode as the handle.
 */
async function openedInside(root: string, path: string, opened: Stats): Promise<string | null> {
  const real = await Deno.realPath(path);
  const prefix = root.endsWith("/") ? root : `${root}/`;
  if (!real.startsWith(prefix)) {
    return "symbolic link leading outside the watched directory: links are followed only " +
      "inside it (a folder on its path was swapped for a link)";
  }
  const now = await Deno.stat(real);
  if (now.dev !== opened.dev || now.ino !== opened.ino) {
    return "the file changed while it was opened (a folder on its path was swapped for a " +
      "link?): not read";
  }
  return null;
}

/**
 * Read the whole file, but never more than `maxBytes` + 1 bytes: the file may have grown
 * since `stat`.
 */
async function readAtMost(
  handle: FileHandle,
  size: number,
  maxBytes: number,
): Promise<Uint8Array | "grew"> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(Math.min(Math.max(size, 1), maxBytes) + 1);
  while (true) {
    const length = Math.min(buffer.length, maxBytes + 1 - total);
    const { bytesRead: n } = await handle.read(buffer, 0, length, null);
    if (n === 0) break;
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

function fileKind(info: Stats): string | null {
  if (info.isFile()) return null;
  if (info.isDirectory()) return "a directory";
  if (info.isFIFO()) return "a named pipe (FIFO)";
  if (info.isSocket()) return "a socket";
  if (info.isCharacterDevice()) return "a character device";
  if (info.isBlockDevice()) return "a block device";
  return "of an unknown kind";
}

function tooBig(size: number, maxBytes: number): string {
  return `file too large: ${size} bytes, over the limit of ${maxBytes} (maxBytes)`;
}

function describeFsError(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (error instanceof Deno.errors.NotFound || code === "ENOENT") {
    return "file not found (it may have been moved or deleted)";
  }
  if (error instanceof Deno.errors.PermissionDenied || code === "EACCES" || code === "EPERM") {
    return "permission denied by the system";
  }
  if (code === "ELOOP") {
    return "symbolic link swapped in after the check (links are followed only when checked)";
  }
  if (error instanceof Deno.errors.NotCapable) {
    return "not readable by this process (Deno permission --allow-read is missing for it)";
  }
  if (error instanceof Deno.errors.IsADirectory || code === "EISDIR") {
    return "not a regular file: it is a directory";
  }
  if (error instanceof Error) return `cannot read file: ${error.message}`;
  return `cannot read file: ${String(error)}`;
}
