import assert from "node:assert/strict";
import { buildFixtures, FIXTURE_FOLDERS } from "../../tools/fixtures.ts";
import { decodeImage } from "../../src/image/decode.ts";
import { parseLabels } from "../../src/data/labels.ts";
import { SHAPE_CLASSES, synthesizeShapes } from "../../tools/synthetic.ts";

const root = new URL("../../fixtures/", import.meta.url);

Deno.test("buildFixtures() gives the same bytes for the same seed", async () => {
  const a = await buildFixtures(7);
  const b = await buildFixtures(7);
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [path, bytes] of a) assert.deepEqual(b.get(path), bytes, path);
  const c = await buildFixtures(8);
  assert.notDeepEqual(c.get("shapes/labels.csv"), a.get("shapes/labels.csv"));
});

Deno.test("committed fixtures match the generator, and stay small", async () => {
  const built = await buildFixtures();
  let total = 0;
  for (const folder of FIXTURE_FOLDERS) {
    const committed: string[] = [];
    for await (const entry of Deno.readDir(new URL(`${folder}/`, root))) {
      committed.push(`${folder}/${entry.name}`);
    }
    assert.deepEqual(
      committed.sort(),
      [...built.keys()].filter((p) => p.startsWith(`${folder}/`)).sort(),
    );
  }
  for (const [path, bytes] of built) {
    const onDisk = await Deno.readFile(new URL(path, root));
    total += onDisk.length;
    // PNG bytes depend on the runtime's zlib; what must match is the decoded content.
    if (path.endsWith(".png") && path.startsWith("shapes/")) {
      const [a, b] = [await decodeImage(onDisk), await decodeImage(bytes)];
      assert.ok(a.ok && b.ok);
      assert.deepEqual(a.rgb, b.rgb, path);
    } else if (!path.endsWith(".png")) {
      assert.deepEqual(onDisk, bytes, path);
    }
  }
  assert.ok(total < 1.5e6, `fixtures take ${total} bytes`);
});

Deno.test("shapes fixture: names hide the class, labels are balanced, images decode to the drawings", async () => {
  const built = await buildFixtures();
  const labels = parseLabels(new TextDecoder().decode(built.get("shapes/labels.csv")));
  assert.equal(labels.size, 300);
  const set = synthesizeShapes({ seed: 2020, perClass: 50 });
  let jpegs = 0;
  let i = 0;
  for (const [file, label] of labels) {
    assert.match(file, /^img_\d{4}\.(png|jpg)$/);
    assert.equal(label, SHAPE_CLASSES[set.labels[i]]);
    if (file.endsWith(".jpg")) jpegs++;
    const decoded = await decodeImage(built.get(`shapes/${file}`)!);
    assert.ok(decoded.ok && decoded.width === 32 && decoded.height === 32, file);
    let error = 0;
    for (let k = 0; k < decoded.rgb.length; k++) {
      error += Math.abs(decoded.rgb[k] - set.images[i][k]);
    }
    assert.ok(error / decoded.rgb.length < (file.endsWith(".png") ? 1e-9 : 8), `${file}: ${error}`);
    i++;
  }
  assert.ok(jpegs > 70 && jpegs < 130, `${jpegs} JPEGs`);
});
