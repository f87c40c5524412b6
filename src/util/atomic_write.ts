/**
 * Writes that a crash cannot leave half done: the bytes go to a temporary name in the same
 * directory and are synced to disk, then a rename (atomic on POSIX file systems) puts them in
 * place and the directory is synced, so after a power loss the name holds either the old bytes
 * or all of the new ones (without the syncs, the rename may reach the disk before the data).
 */
import { dirname } from "node:path";
import { parseJson, type Schema } from "../protocol/parse.ts";

/** Sync a directory's entries to disk (where the platform can open a directory). */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: Deno.FsFile;
  try {
    handle = await Deno.open(dir, { read: true });
  } catch {
    return; // Windows cannot open a directory; its renames are journalled.
  }
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** Write `data` to `path` atomically and durably. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const temp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const file = await Deno.open(temp, { write: true, create: true, truncate: true });
    try {
      let written = 0;
      while (written < data.byteLength) written += await file.write(data.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** Write `value` as JSON to `path` atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"));
}

/**
 * The JSON of `path` checked by `schema` (src/protocol/disk_state.ts), or `undefined` when the
 * file does not exist.
 *
 * @throws {ProtocolError | RangeError} when it is not JSON or fails the schema (the message
 *   names the file, the field and the value).
 */
export async function readJsonIfExists<T>(path: string, schema: Schema<T>): Promise<T | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  return parseJson(schema, text, path);
}

/** Raw bytes of a typed array, for writing it to a file. */
export function bytesOf(array: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}
