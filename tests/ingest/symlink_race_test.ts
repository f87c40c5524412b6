/**
 * Finding 6 of issue 13: the containment check (`resolveInside`) and the open were separate, so
 * swapping a folder on the path for a link to outside the tree between the two made the stream
 * read the outside file. What is opened must be checked (`loadImageFile` with `root`); a swap to
 * a FIFO must never block (the open is non-blocking, the type is checked on the handle).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { isRefusal, loadImageFile } from "../../src/image/load.ts";
import { DecodePool, isDecoded } from "../../src/ingest/decode_pool.ts";
import { resolveInside } from "../../src/ingest/inside_tree.ts";
import { fixtures, SANITIZE, withTempDir } from "./_helpers.ts";

const IMAGE = `${fixtures}shapes/img_0001.png`;
const OTHER = `${fixtures}shapes/img_0003.png`;

/** A tree `root/inbox/sub/a.png` and a secret image outside it at `root/outside/sub/a.png`. */
async function tree(dir: string) {
  const root = join(dir, "inbox");
  await Deno.mkdir(join(root, "sub"), { recursive: true });
  await Deno.mkdir(join(dir, "outside", "sub"), { recursive: true });
  await Deno.copyFile(IMAGE, join(root, "sub", "a.png"));
  await Deno.copyFile(OTHER, join(dir, "outside", "sub", "a.png"));
  return { root: await Deno.realPath(root), outside: await Deno.realPath(join(dir, "outside")) };
}

Deno.test({
  name: "load - a folder swapped for a link to outside the tree after the check is not read",
  ...SANITIZE,
}, async () => {
  await withTempDir("race", async (dir) => {
    const { root, outside } = await tree(dir);
    const inside = await resolveInside(root, join(root, "sub", "a.png"));
    assert.ok(inside.ok);
    // The race, won by the attacker: between the check and the open.
    await Deno.rename(join(root, "sub"), join(root, "old"));
    await Deno.symlink(join(outside, "sub"), join(root, "sub"));
    const loaded = await loadImageFile(inside.real, {}, { root });
    assert.ok(isRefusal(loaded), "the outside file was read");
    assert.match(loaded.reason, /outside the watched directory/);
  });
});

Deno.test({
  name: "load - a folder swapped for a link during the open and back before the check is not read",
  ...SANITIZE,
}, async () => {
  await withTempDir("race", async (dir) => {
    const { root, outside } = await tree(dir);
    const inside = await resolveInside(root, join(root, "sub", "a.png"));
    assert.ok(inside.ok);
    const loaded = await loadImageFile(inside.real, {}, {
      root,
      beforeOpen: async () => {
        await Deno.rename(join(root, "sub"), join(root, "old"));
        await Deno.symlink(join(outside, "sub"), join(root, "sub"));
      },
      afterOpen: async () => {
        await Deno.remove(join(root, "sub"));
        await Deno.rename(join(root, "old"), join(root, "sub"));
      },
    });
    assert.ok(isRefusal(loaded), "the outside file was read");
    assert.match(loaded.reason, /changed while it was opened/);
  });
});

Deno.test({
  name: "load - a file swapped for a FIFO just before the open is refused at once, never blocks",
  ...SANITIZE,
}, async () => {
  await withTempDir("race", async (dir) => {
    const { root } = await tree(dir);
    const path = join(root, "sub", "a.png");
    const inside = await resolveInside(root, path);
    assert.ok(inside.ok);
    const started = performance.now();
    const loaded = await loadImageFile(inside.real, {}, {
      root,
      beforeOpen: async () => {
        await Deno.remove(path);
        const made = await new Deno.Command("mkfifo", { args: [path] }).output();
        assert.equal(made.code, 0);
      },
    });
    assert.ok(isRefusal(loaded));
    assert.match(loaded.reason, /named pipe/);
    assert.ok(performance.now() - started < 5000);
  });
});

Deno.test({
  name: "load - a link to a file inside the tree, and a plain file, still load with root",
  ...SANITIZE,
}, async () => {
  await withTempDir("race", async (dir) => {
    const { root } = await tree(dir);
    await Deno.symlink(join(root, "sub", "a.png"), join(root, "link.png"));
    for (const name of ["sub/a.png", "link.png"]) {
      const inside = await resolveInside(root, join(root, name));
      assert.ok(inside.ok);
      const loaded = await loadImageFile(inside.real, {}, { root });
      assert.ok(!isRefusal(loaded), name);
    }
  });
});

Deno.test({
  name: "decode pool - the worker checks what it opened against the root it is given",
  ...SANITIZE,
}, async () => {
  await withTempDir("race", async (dir) => {
    const { root, outside } = await tree(dir);
    const inside = await resolveInside(root, join(root, "sub", "a.png"));
    assert.ok(inside.ok);
    await Deno.rename(join(root, "sub"), join(root, "old"));
    await Deno.symlink(join(outside, "sub"), join(root, "sub"));
    const pool = new DecodePool({ size: 16 });
    try {
      const result = await pool.decode(inside.real, root);
      assert.ok(!isDecoded(result), "the outside file was read");
      assert.match(result.reason, /outside the watched directory/);
    } finally {
      pool.close();
    }
  });
});
