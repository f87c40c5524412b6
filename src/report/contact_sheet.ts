/**
 * A contact sheet: square RGB tiles laid out row by row in a grid, each scaled up by pixel
 * replication (small model-resolution images stay sharp instead of blurring), separated by a
 * gap of background colour. Pure: pixels in, pixels out; encoding is the caller's.
 */

/** Layout of a contact sheet. */
export interface SheetOptions {
  /** Tiles per row at most; fewer tiles than this make a narrower sheet. Default 8. */
  readonly columns: number;
  /** Integer upscaling factor of each tile (nearest neighbour). Default 1. */
  readonly scale: number;
  /** Pixels of background between adjacent tiles (not around the border). Default 1. */
  readonly gap: number;
  /** RGB of the gaps and of the unused cells of the last row. Default mid gray. */
  readonly background: readonly [number, number, number];
}

/** An RGB image, `rgb.length === width * height * 3`. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly rgb: Uint8Array;
}

const DEFAULTS: SheetOptions = { columns: 8, scale: 1, gap: 1, background: [128, 128, 128] };

/**
 * Lay `tiles` out on a sheet. With c = min(columns, tiles), r = ceil(tiles / c) and
 * side = tileSize * scale, the sheet is (c * side + (c - 1) * gap) wide and
 * (r * side + (r - 1) * gap) high; tile i has its top-left corner at
 * ((i mod c) * (side + gap), floor(i / c) * (side + gap)).
 *
 * @param tiles RGB pixels of square tiles, each tileSize * tileSize * 3 bytes.
 * @throws {RangeError} for no tiles, a tile of the wrong length, or a bad option.
 */
export function contactSheet(
  tiles: readonly Uint8Array[],
  tileSize: number,
  options: Partial<SheetOptions> = {},
): RgbImage {
  const { columns, scale, gap, background } = { ...DEFAULTS, ...options };
  for (
    const [name, value, min] of [
      ["tileSize", tileSize, 1],
      ["columns", columns, 1],
      ["scale", scale, 1],
      ["gap", gap, 0],
    ] as const
  ) {
    if (!Number.isInteger(value) || value < min) {
      throw new RangeError(
        `Cannot build contact sheet: ${name} must be an integer of at least ${min}, ` +
          `current value is ${value}`,
      );
    }
  }
  if (tiles.length === 0) {
    throw new RangeError(
      "Cannot build contact sheet: it needs at least one tile, current count is 0",
    );
  }
  const stride = tileSize * tileSize * 3;
  tiles.forEach((tile, i) => {
    if (tile.length !== stride) {
      throw new RangeError(
        `Cannot build contact sheet: tile ${i} must hold ${stride} bytes (${tileSize}x${tileSize} RGB), ` +
          `current length is ${tile.length}`,
      );
    }
  });
  const cols = Math.min(columns, tiles.length);
  const rows = Math.ceil(tiles.length / cols);
  const side = tileSize * scale;
  const width = cols * side + (cols - 1) * gap;
  const height = rows * side + (rows - 1) * gap;
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) rgb.set(background, p * 3);
  tiles.forEach((tile, i) => {
    const left = (i % cols) * (side + gap);
    const top = Math.floor(i / cols) * (side + gap);
    for (let y = 0; y < side; y++) {
      const sourceRow = Math.floor(y / scale) * tileSize;
      const targetRow = (top + y) * width + left;
      for (let x = 0; x < side; x++) {
        const source = (sourceRow + Math.floor(x / scale)) * 3;
        const target = (targetRow + x) * 3;
        rgb[target] = tile[source];
        rgb[target + 1] = tile[source + 1];
        rgb[target + 2] = tile[source + 2];
      }
    }
  });
  return { width, height, rgb };
}
