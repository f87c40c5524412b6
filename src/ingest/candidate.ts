/**
 * Which names the ingest looks at. Images are picked by extension (the decoder still goes by the
 * bytes); names that writers use while a file is incomplete, and hidden files, are never read,
 * because the finished file arrives later under its real name.
 */
import { hasImageExtension } from "../data/folder.ts";

/**
 * Suffixes of files still being written: browsers (`.crdownload`, `.part`, `.download`), curl and
 * rsync style temporaries (`.tmp`, `.partial`), editors (`.swp`, `~`).
 */
export const TEMPORARY_SUFFIXES: readonly string[] = [
  ".part",
  ".partial",
  ".tmp",
  ".temp",
  ".crdownload",
  ".download",
  ".swp",
  "~",
];

/** True for a hidden name (leading ".") or a temporary one (see `TEMPORARY_SUFFIXES`). */
export function isSkippedName(name: string): boolean {
  if (name.startsWith(".")) return true;
  const lower = name.toLowerCase();
  return TEMPORARY_SUFFIXES.some((suffix) => lower.endsWith(suffix));
}

/**
 * True when no part of the relative path is hidden or temporary (a dot-folder's content is as
 * private as a dot-file).
 */
export function isVisiblePath(relative: string): boolean {
  return relative !== "" && !relative.split("/").some(isSkippedName);
}

/** True for a visible path whose name has an image extension: a file the ingest should read. */
export function isCandidate(relative: string): boolean {
  return isVisiblePath(relative) &&
    hasImageExtension(relative.slice(relative.lastIndexOf("/") + 1));
}
