import assert from "node:assert/strict";
import { hasImageExtension, listImageFiles, readLabels } from "../../src/data/folder.ts";
import { parseCsv, parseLabels } from "../../src/data/labels.ts";

Deno.test("listImageFiles() lists nested images, sorted, skipping hidden and non-image files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "scanstream_folder_" });
  try {
    for (const sub of ["b", "a/deep", ".hidden", "c.png"]) {
      await Deno.mkdir(`${dir}/${sub}`, { recursive: true });
    }
    const files = [
      "z.PNG",
      "a.jpg",
      "b/x.jpeg",
      "a/deep/y.gif",
      "a/deep/t.tiff",
      "notes.txt",
      "labels.csv",
      ".dot.png",
      ".hidden/h.png",
      "b/noext",
      "c.png/inner.webp",
    ];
    for (const file of files) await Deno.writeFile(`${dir}/${file}`, new Uint8Array([1]));
    await Deno.symlink(`${dir}/b`, `${dir}/loop`);
    assert.deepEqual(await listImageFiles(dir), [
      "a.jpg",
      "a/deep/t.tiff",
      "a/deep/y.gif",
      "b/x.jpeg",
      "c.png/inner.webp",
      "z.PNG",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("listImageFiles() lists the committed shapes fixture", async () => {
  const files = await listImageFiles(new URL("../../fixtures/shapes", import.meta.url).pathname);
  assert.equal(files.length, 300);
  assert.equal(files[0], "img_0001.png");
  assert.ok(!files.includes("labels.csv"));
});

Deno.test("hasImageExtension() is case-insensitive and needs a name before the dot", () => {
  assert.ok(hasImageExtension("A.JPG"));
  assert.ok(!hasImageExtension(".png"));
  assert.ok(!hasImageExtension("png"));
});

Deno.test("parseCsv() handles quotes, escaped quotes, commas, newlines, CRLF and a BOM", () => {
  const text =
    '\ufefffile,label\r\n"a, b.png","say ""hi"""\r\n"multi\nline.png",x\r\n\r\nlast.png,y';
  assert.deepEqual(parseCsv(text), [
    ["file", "label"],
    ["a, b.png", 'say "hi"'],
    ["multi\nline.png", "x"],
    ["last.png", "y"],
  ]);
  assert.throws(() => parseCsv('file,label\n"open,x\n'), /not closed/);
});

Deno.test("parseLabels() maps files to labels from a file,label header", () => {
  const labels = parseLabels("label,file,extra\ncat,./a/1.png,q\ndog,b.jpg,r\ncat,./a/1.png,s\n");
  assert.deepEqual([...labels], [["a/1.png", "cat"], ["b.jpg", "dog"]]);
  assert.throws(
    () => parseLabels("name,label\na.png,x\n"),
    /header must name the columns file and label/,
  );
  assert.throws(() => parseLabels("file,label\na.png\n"), /row 2 has 1 fields/);
  assert.throws(() => parseLabels("file,label\na.png,x\na.png,y\n"), /labelled both x and y/);
  assert.equal(parseLabels("file,label\n").size, 0);
});

Deno.test("readLabels() reads the committed shapes labels", async () => {
  const labels = await readLabels(
    new URL("../../fixtures/shapes/labels.csv", import.meta.url).pathname,
  );
  assert.equal(labels.size, 300);
  const counts = new Map<string, number>();
  for (const label of labels.values()) counts.set(label, (counts.get(label) ?? 0) + 1);
  assert.deepEqual([...counts.values()], new Array(6).fill(50));
});
