import assert from "node:assert/strict";
import { drawShape, SHAPE_CLASSES, synthesizeShapes } from "../../tools/synthetic.ts";
import { Random } from "../../src/util/random.ts";

Deno.test("synthesizeShapes() is deterministic in its seed", () => {
  const a = synthesizeShapes({ seed: 3, perClass: 4 });
  const b = synthesizeShapes({ seed: 3, perClass: 4 });
  const c = synthesizeShapes({ seed: 4, perClass: 4 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.images, c.images);
});

Deno.test("synthesizeShapes() draws perClass shuffled images of each class", () => {
  const set = synthesizeShapes({ seed: 1, perClass: 5, size: 16 });
  assert.equal(set.images.length, 30);
  assert.ok(set.images.every((image) => image.length === 16 * 16 * 3));
  for (let label = 0; label < SHAPE_CLASSES.length; label++) {
    assert.equal(set.labels.filter((l) => l === label).length, 5);
  }
  assert.notDeepEqual(Array.from(set.labels), [...set.labels].sort());
  assert.throws(() => synthesizeShapes({ perClass: 0 }), RangeError);
});

Deno.test("drawShape() puts the foreground where the shape is (disc centre vs corner, no noise)", () => {
  for (let seed = 0; seed < 10; seed++) {
    const image = drawShape("disc", new Random(seed), 32, 0);
    const pixel = (x: number, y: number) =>
      Array.from(image.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3));
    // The disc's centre is within [0.35, 0.65] of the side and its radius at least 5 pixels.
    assert.notDeepEqual(pixel(16, 16), pixel(0, 0));
    assert.deepEqual(pixel(0, 0), pixel(31, 31));
  }
});

Deno.test("drawShape() stripes are constant along their direction (no noise)", () => {
  const image = drawShape("horizontal_stripes", new Random(5), 32, 0);
  const vertical = drawShape("vertical_stripes", new Random(5), 32, 0);
  let rowChanges = 0;
  let columnChanges = 0;
  for (let y = 0; y < 32; y++) {
    for (let x = 1; x < 32; x++) {
      if (image[(y * 32 + x) * 3] !== image[(y * 32 + x - 1) * 3]) rowChanges++;
      if (vertical[(x * 32 + y) * 3] !== vertical[((x - 1) * 32 + y) * 3]) columnChanges++;
    }
  }
  let acrossChanges = 0;
  for (let y = 1; y < 32; y++) if (image[y * 32 * 3] !== image[(y - 1) * 32 * 3]) acrossChanges++;
  assert.ok(acrossChanges >= 4, `only ${acrossChanges} changes across the stripes`);
  // A small tilt lets a few edge pixels change along a stripe.
  assert.ok(rowChanges < acrossChanges * 32 / 2, `${rowChanges} changes along rows`);
  assert.ok(columnChanges < 32 * 31 / 2, `${columnChanges} changes along columns`);
});
