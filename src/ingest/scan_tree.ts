/**
 * A walk of the watched tree that opens nothing (a FIFO blocks whoever opens it), and the diff of
 * a walk against what the watcher has already emitted: the recovery when events were lost (the
 * kernel's queue overflowed, or the watcher stalled).
 */
import { hasImageExtension } from "../data/folder.ts";
import { isSkippedName } from "./candidate.ts";

/** One thing found in the tree. */
export interface TreeEntry {
  /** Path relative to the root, "/"-separated. */
  relative: string;
  /**
   * `file`: a regular file or a link to one; `directory`: a folder whose name looks like an image
   * (listed so that it is refused, not silently skipped); `special`: a FIFO, socket or device
   * (listed whatever its name, because events on one can stall `Deno.watchFs`); `broken`: a
   * symbolic link whose target is missing; `invalid-name`: a file or folder whose name is not
   * valid UTF-8, so that it cannot be named through Deno's APIs at all (listed whatever its
   * extension, so that it is refused once instead of silently skipped; see `isInvalidName`).
   */
  kind: "file" | "directory" | "special" | "broken" | "invalid-name";
  /**
   * True when the name has an image extension, so the entry is a candidate for ingest; always
   * true for an `invalid-name` (it is reported, whatever its name).
   */
  image: boolean;
  /** Size in bytes (0 for anything but a file). */
  size: number;
  /** Last modification, ms since the epoch (0 when unknown). */
  mtimeMs: number;
  /** Hard links to it (1 when unknown): more than one means it was linked, not written. */
  links: number;
  /** Changes when the content may have changed: size, mtime, inode and kind. */
  signature: string;
}

/**
 * Walk `root` (or its sub-folder `under`) and list candidates and special files, sorted by path.
 * Hidden and temporary names are skipped, and so are links to folders (they could loop); a folder
 * that cannot be read (removed meanwhile, no permission) is skipped.
 *
 * @throws {Deno.errors.NotFound} when `root` itself does not exist.
 */
export async function scanTree(root: string, under = ""): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  const walk = async (relative: string, mustExist: boolean) => {
    let listing: Deno.DirEntry[];
    try {
      listing = await Array.fromAsync(Deno.readDir(relative === "" ? root : `${root}/${relative}`));
    } catch (error) {
      if (mustExist) throw error;
      return;
    }
    for (const item of listing) {
      if (isSkippedName(item.name)) continue;
      const path = relative === "" ? item.name : `${relative}/${item.name}`;
      if (await isInvalidName(root, path)) {
        entries.push(entryOf(path, "invalid-name", true, null));
        continue;
      }
      const image = hasImageExtension(item.name);
      if (item.isDirectory) {
        if (image) entries.push(entryOf(path, "directory", true, null));
        await walk(path, false);
        continue;
      }
      const info = await statOrNull(`${root}/${path}`, item.isSymlink);
      if (info === null) {
        if (item.isSymlink && image) entries.push(entryOf(path, "broken", true, null));
        continue;
      }
      if (info.isDirectory) continue;
      const kind = info.isFile ? "file" : "special";
      if (image || kind === "special") entries.push(entryOf(path, kind, image, info));
    }
  };
  await walk(under, under === "");
  return entries.sort((a, b) => compare(a.relative, b.relative));
}

/**
 * The candidates of a walk that the watcher has not emitted in their current state: new paths,
 * and paths whose signature changed since they were emitted.
 *
 * @param seen relative path -> signature of what was emitted.
 */
export function diffTree(
  entries: readonly TreeEntry[],
  seen: ReadonlyMap<string, string>,
): TreeEntry[] {
  return entries.filter((entry) => entry.image && seen.get(entry.relative) !== entry.signature);
}

/**
 * True when the last part of `relative` is a name that is not valid UTF-8. Deno hands such names
 * over with each bad byte replaced by U+FFFD (`Deno.readDir`, the watcher throws instead), so
 * the lossy name it gives leads nowhere: a name holding U+FFFD that `lstat` cannot find.
 */
export async function isInvalidName(root: string, relative: string): Promise<boolean> {
  if (!relative.slice(relative.lastIndexOf("/") + 1).includes("\ufffd")) return false;
  try {
    await Deno.lstat(`${root}/${relative}`);
    return false;
  } catch (error) {
    return error instanceof Deno.errors.NotFound;
  }
}

/** Signature of a path as it is now, or null when it is gone; follows symbolic links. */
export async function statEntry(root: string, relative: string): Promise<TreeEntry | null> {
  const path = `${root}/${relative}`;
  const image = hasImageExtension(relative.slice(relative.lastIndexOf("/") + 1));
  const info = await statOrNull(path, true);
  if (info === null) {
    const link = await statOrNull(path, false);
    return link?.isSymlink ? entryOf(relative, "broken", image, null) : null;
  }
  const kind = info.isFile ? "file" : info.isDirectory ? "directory" : "special";
  return entryOf(relative, kind, image, info);
}

function entryOf(
  relative: string,
  kind: TreeEntry["kind"],
  image: boolean,
  info: Deno.FileInfo | null,
): TreeEntry {
  const size = kind === "file" ? info?.size ?? 0 : 0;
  const mtimeMs = info?.mtime?.getTime() ?? 0;
  const signature = `${kind}:${size}:${mtimeMs}:${info?.ino ?? 0}`;
  const links = info?.nlink ?? 1;
  return { relative, kind, image, size, mtimeMs, links, signature };
}

async function statOrNull(path: string, follow: boolean): Promise<Deno.FileInfo | null> {
  try {
    return follow ? await Deno.stat(path) : await Deno.lstat(path);
  } catch {
    return null;
  }
}

/** Code-unit order, as `listImageFiles` sorts: stable across locales. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
