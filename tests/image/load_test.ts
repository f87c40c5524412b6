import assert from "node:assert/strict";
import { isRefusal, loadImageFile } from "../../src/image/load.ts";
import { sha256Hex } from "../../src/image/hash.ts";
import { encodePng } from "../../src/image/encode_png.ts";
import { badFixtures } from "../../tools/fixtures.ts";
import { withTempDir } from "../_assert.ts";

const fixtures = new URL("../../fixtures/", import.meta.url).pathname;

Deno.test("loadImageFile() decodes a file, ids it by SHA-256, and leaves it untouched", async () => {
  await withTempDir("scanstream_load_", async (dir) => {
    const bytes = await encodePng({
      width: 3,
      height: 2,
      colorType: "rgb",
      samples: Uint8Array.from({ length: 18 }, (_, i) => i * 10),
    });
    const path = `${dir}/a.png`;
    await Deno.writeFile(path, bytes, { mode: 0o444 });
    const before = await Deno.stat(path);
    const loaded = await loadImageFile(path);
    assert.ok(!isRefusal(loaded), JSON.stringify(loaded));
    assert.equal(loaded.path, path);
    assert.equal(loaded.id, await sha256Hex(bytes));
    assert.match(loaded.id, /^[0-9a-f]{64}$/);
    assert.equal(loaded.width, 3);
    assert.equal(loaded.height, 2);
    assert.deepEqual(Array.from(loaded.rgb), Array.from({ length: 18 }, (_, i) => i * 10));
    const after = await Deno.stat(path);
    assert.deepEqual(await Deno.readFile(path), bytes);
    assert.equal(after.mtime?.getTime(), before.mtime?.getTime());
    assert.equal(after.mode, before.mode);
  });
});

Deno.test("loadImageFile() gives the same id to the same content under another name", async () => {
  const a = await loadImageFile(`${fixtures}odd/rgb.jpg`);
  const b = await loadImageFile(`${fixtures}odd/jpeg_named.png`);
  assert.ok(!isRefusal(a) && !isRefusal(b));
  assert.equal(a.id, b.id);
});

Deno.test("loadImageFile() refuses every bad fixture and goes on", async () => {
  const reasons: string[] = [];
  for (const bad of await badFixtures()) {
    const result = await loadImageFile(`${fixtures}bad/${bad.file}`);
    assert.ok(isRefusal(result), bad.file);
    assert.equal(result.path, `${fixtures}bad/${bad.file}`);
    assert.ok(result.reason.includes(bad.reasonIncludes), `${bad.file}: ${result.reason}`);
    reasons.push(result.reason);
  }
  assert.ok(reasons.length >= 10);
  assert.ok(!isRefusal(await loadImageFile(`${fixtures}odd/palette.png`)));
});

Deno.test("loadImageFile() refuses missing files, directories and FIFOs", async () => {
  await withTempDir("scanstream_load_", async (dir) => {
    const missing = await loadImageFile(`${dir}/gone.png`);
    assert.ok(isRefusal(missing) && missing.reason.includes("not found"));
    await Deno.mkdir(`${dir}/folder.png`);
    const folder = await loadImageFile(`${dir}/folder.png`);
    assert.ok(isRefusal(folder) && folder.reason.includes("a directory"));
    const fifo = await new Deno.Command("mkfifo", { args: [`${dir}/pipe.png`] }).output();
    assert.ok(fifo.success);
    const start = performance.now();
    const pipe = await loadImageFile(`${dir}/pipe.png`);
    assert.ok(isRefusal(pipe) && pipe.reason.includes("FIFO"), JSON.stringify(pipe));
    assert.ok(performance.now() - start < 1000);
  });
});

Deno.test("loadImageFile() refuses a file over maxBytes before reading it", async () => {
  await withTempDir("scanstream_load_", async (dir) => {
    const path = `${dir}/big.png`;
    await Deno.writeFile(path, new Uint8Array(5000));
    const result = await loadImageFile(path, { maxBytes: 4096 });
    assert.ok(isRefusal(result));
    assert.equal(result.reason, "file too large: 5000 bytes, over the limit of 4096 (maxBytes)");
  });
});

Deno.test({
  name: "loadImageFile() refuses an unreadable file",
  ignore: Deno.build.os === "windows" || Deno.uid() === 0,
  fn: async () => {
    await withTempDir("scanstream_load_", async (dir) => {
      const path = `${dir}/secret.png`;
      await Deno.writeFile(path, new Uint8Array([1, 2, 3]), { mode: 0o000 });
      const result = await loadImageFile(path);
      assert.ok(isRefusal(result) && result.reason.includes("permission denied"));
    });
  },
});
