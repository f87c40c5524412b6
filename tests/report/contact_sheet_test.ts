import assert from "node:assert/strict";
import { contactSheet } from "../../src/report/contact_sheet.ts";

/** A tileSize x tileSize tile whose pixel (x, y) is [base + x, base + y, base]. */
function gradientTile(tileSize: number, base: number): Uint8Array {
  const tile = new Uint8Array(tileSize * tileSize * 3);
  for (let y = 0; y < tileSize; y++) {
    for (let x = 0; x < tileSize; x++) tile.set([base + x, base + y, base], (y * tileSize + x) * 3);
  }
  return tile;
}

function pixel(sheet: { width: number; rgb: Uint8Array }, x: number, y: number): number[] {
  const i = (y * sheet.width + x) * 3;
  return [...sheet.rgb.subarray(i, i + 3)];
}

Deno.test("contactSheet() lays tiles out row by row, scaled by replication, with gaps", () => {
  const tiles = [gradientTile(2, 10), gradientTile(2, 20), gradientTile(2, 30)];
  const sheet = contactSheet(tiles, 2, { columns: 2, scale: 2, gap: 1, background: [1, 2, 3] });
  // 2 columns of 4 px + 1 px gap; 2 rows likewise.
  assert.equal(sheet.width, 9);
  assert.equal(sheet.height, 9);
  assert.equal(sheet.rgb.length, 9 * 9 * 3);
  // Tile 0 at (0, 0): each source pixel covers a 2x2 block.
  assert.deepEqual(pixel(sheet, 0, 0), [10, 10, 10]);
  assert.deepEqual(pixel(sheet, 1, 1), [10, 10, 10]);
  assert.deepEqual(pixel(sheet, 2, 0), [11, 10, 10]);
  assert.deepEqual(pixel(sheet, 3, 3), [11, 11, 10]);
  assert.deepEqual(pixel(sheet, 0, 2), [10, 11, 10]);
  // The gap column and row.
  for (let i = 0; i < 9; i++) {
    assert.deepEqual(pixel(sheet, 4, i), [1, 2, 3]);
    assert.deepEqual(pixel(sheet, i, 4), [1, 2, 3]);
  }
  // Tile 1 to the right, tile 2 below tile 0.
  assert.deepEqual(pixel(sheet, 5, 0), [20, 20, 20]);
  assert.deepEqual(pixel(sheet, 8, 3), [21, 21, 20]);
  assert.deepEqual(pixel(sheet, 0, 5), [30, 30, 30]);
  assert.deepEqual(pixel(sheet, 3, 8), [31, 31, 30]);
  // The unused cell of the last row is background.
  assert.deepEqual(pixel(sheet, 5, 5), [1, 2, 3]);
  assert.deepEqual(pixel(sheet, 8, 8), [1, 2, 3]);
});

Deno.test("contactSheet() makes an 8-wide grid of 64 tiles and a narrow sheet of a few", () => {
  const many = Array.from({ length: 64 }, (_, i) => gradientTile(3, i));
  const full = contactSheet(many, 3, { scale: 2 });
  assert.equal(full.width, 8 * 6 + 7);
  assert.equal(full.height, 8 * 6 + 7);
  // Tile 63 (last row, last column) starts at (7 * 7, 7 * 7).
  assert.deepEqual(pixel(full, 49, 49), [63, 63, 63]);
  const few = contactSheet(many.slice(0, 3), 3);
  assert.equal(few.width, 3 * 3 + 2);
  assert.equal(few.height, 3);
  assert.deepEqual(pixel(few, 8, 2), [2 + 0, 2 + 2, 2]);
});

Deno.test("contactSheet() with one tile and no gap is that tile, scaled", () => {
  const tile = gradientTile(2, 50);
  const sheet = contactSheet([tile], 2, { gap: 0 });
  assert.deepEqual(sheet, { width: 2, height: 2, rgb: tile });
});

Deno.test("contactSheet() rejects no tiles, a wrong tile length and bad options", () => {
  assert.throws(() => contactSheet([], 2), {
    name: "RangeError",
    message: /needs at least one tile/,
  });
  assert.throws(() => contactSheet([new Uint8Array(11)], 2), {
    name: "RangeError",
    message: /tile 0 must hold 12 bytes \(2x2 RGB\), current length is 11/,
  });
  assert.throws(() => contactSheet([gradientTile(2, 0)], 2, { scale: 1.5 }), {
    name: "RangeError",
    message: /scale must be an integer of at least 1, current value is 1.5/,
  });
  assert.throws(() => contactSheet([gradientTile(2, 0)], 2, { gap: -1 }), RangeError);
  assert.throws(() => contactSheet([gradientTile(2, 0)], 0), RangeError);
});
