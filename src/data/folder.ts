/**
 * A folder of images as a data source: the image files under it (nested folders included) and,
 * optionally, labels from a CSV file.
 */
export { readLabels } from "./labels.ts";

/**
 * Extensions listed as images. Formats that are refused (TIFF, BMP, WebP, ...) are listed too,
 * so that they are reported with a reason instead of silently skipped; the decoder goes by the
 * bytes, never by this name.
 */
export const IMAGE_EXTENSIONS: readonly string[] = [
  ".png",
  ".jpg",
  ".jpeg",
  ".jpe",
  ".jfif",
  ".gif",
  ".tif",
  ".tiff",
  ".bmp",
  ".webp",
  ".svg",
  ".avif",
  ".heic",
  ".heif",
];

/** True when a file name has one of `IMAGE_EXTENSIONS` (any case). */
export function hasImageExtension(name: string): boolean {
  const dot = name.lastIndexOf(".");
  return dot > 0 && IMAGE_EXTENSIONS.includes(name.slice(dot).toLowerCase());
}

/**
 * The image files under `dir`, as sorted relative paths with "/" separators. Hidden files and
 * folders (names starting with ".") are skipped, and so are symbolic links to folders (which
 * could loop); links to files are listed.
 *
 * @throws {Deno.errors.NotFound} when `dir` does not exist.
 */
export async function listImageFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (relative: string) => {
    for await (const entry of Deno.readDir(relative === "" ? dir : `${dir}/${relative}`)) {
      if (entry.name.startsWith(".")) continue;
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if ((entry.isFile || entry.isSymlink) && hasImageExtension(entry.name)) files.push(path);
    }
  };
  await walk("");
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
