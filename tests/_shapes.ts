/** The shapes fixtures, as the end-to-end tests drop them into a watched directory. */

const SHAPES = new URL("../fixtures/shapes", import.meta.url).pathname;

/** The image files of fixtures/shapes (PNG and JPEG), sorted, so a test's order is fixed. */
export function shapeImageNames(): string[] {
  return [...Deno.readDirSync(SHAPES)].map((entry) => entry.name)
    .filter((name) => /\.(png|jpg)$/.test(name)).sort();
}
