import assert from "node:assert/strict";
import { sha256Hex } from "../../src/image/hash.ts";
import {
  ingest,
  type IngestedImage,
  type IngestRefusal,
  isIngestRefusal,
} from "../../src/ingest/ingest.ts";
import { delay, fixtures, mkfifo, Recorder, SANITIZE, withTempDir } from "./_helpers.ts";

const SIZE = 16;
const FAST = { size: SIZE, stableMs: 150, writtenStableMs: 5000, rescanIntervalMs: 0 };

type Output = IngestedImage | IngestRefusal;

function images(values: Output[]): IngestedImage[] {
  return values.filter((v): v is IngestedImage => !isIngestRefusal(v));
}

function refusals(values: Output[]): Map<string, string> {
  return new Map(values.filter(isIngestRefusal).map((v) => [v.path, v.reason]));
}

async function idOf(path: string): Promise<string> {
  return await sha256Hex(await Deno.readFile(path));
}

Deno.test({
  name: "ingest() emits each existing image once and a refusal for each bad or odd entry",
  ...SANITIZE,
}, async () => {
  await withTempDir("ingest_out", async (outside) => {
    await withTempDir("ingest", async (dir) => {
      await Deno.mkdir(`${dir}/sub`);
      await Deno.mkdir(`${dir}/.store`);
      await Deno.mkdir(`${dir}/folder.png`);
      const copies: [string, string][] = [
        ["shapes/img_0001.png", "a.png"],
        ["shapes/img_0002.jpg", "sub/b.jpg"],
        ["shapes/img_0003.png", "with space ü 猫.png"],
        ["shapes/img_0004.png", "new\nline.png"],
        ["shapes/img_0001.png", "sub/copy of a.png"],
        ["shapes/img_0005.png", ".store/hidden.png"],
        ["shapes/img_0006.png", "secret.png"],
        ["bad/corrupt.png", "corrupt.png"],
        ["bad/bomb_20000x20000.png", "bomb.png"],
        ["bad/image.svg", "vector.svg"],
      ];
      for (const [from, to] of copies) {
        await Deno.copyFile(
          `${fixtures}${from}`,
          `${to.startsWith("secret") ? outside : dir}/${to}`,
        );
      }
      await Deno.symlink(`${dir}/.store/hidden.png`, `${dir}/inside link.png`);
      await Deno.symlink(`${outside}/secret.png`, `${dir}/outside link.png`);
      await Deno.symlink(`${dir}/gone.png`, `${dir}/broken.png`);
      await mkfifo(`${dir}/pipe.png`);
      const recorder = new Recorder(ingest(dir, FAST));
      try {
        await recorder.until((values) => values.length >= 12, 8000);
        await delay(300);
        const got = images(recorder.values);
        assert.deepEqual(got.map((v) => v.path).sort(), [
          "a.png",
          "inside link.png",
          "new\nline.png",
          "sub/b.jpg",
          "with space ü 猫.png",
        ]);
        for (const image of got) {
          const target = image.path === "inside link.png" ? ".store/hidden.png" : image.path;
          assert.equal(image.id, await idOf(`${dir}/${target}`));
          assert.equal(image.pixels.length, SIZE * SIZE * 3);
          assert.ok(image.width > 0 && image.height > 0);
          assert.ok(Math.abs(image.receivedAt - Date.now()) < 30_000);
        }
        const refused = refusals(recorder.values);
        assert.deepEqual([...refused.keys()].sort(), [
          "bomb.png",
          "broken.png",
          "corrupt.png",
          "folder.png",
          "outside link.png",
          "pipe.png",
          "vector.svg",
        ]);
        assert.match(refused.get("bomb.png")!, /20000x20000/);
        assert.match(refused.get("broken.png")!, /not found/);
        assert.match(refused.get("corrupt.png")!, /decode PNG/);
        assert.match(refused.get("folder.png")!, /directory/);
        assert.match(refused.get("outside link.png")!, /outside the watched directory/);
        assert.match(refused.get("pipe.png")!, /named pipe/);
        assert.match(refused.get("vector.svg")!, /SVG/);
        assert.equal(recorder.values.length, 12);
      } finally {
        recorder.stop();
      }
    });
  });
});

Deno.test({
  name: "ingest() goes on after existing files: new, slowly written, duplicate and bad ones",
  ...SANITIZE,
}, async () => {
  await withTempDir("ingest", async (dir) => {
    await Deno.copyFile(`${fixtures}shapes/img_0007.png`, `${dir}/first.png`);
    const recorder = new Recorder(ingest(dir, FAST));
    try {
      await recorder.until((values) => values.length === 1, 8000);
      const bytes = await Deno.readFile(`${fixtures}shapes/img_0009.jpg`);
      const file = await Deno.open(`${dir}/slow.jpg`, { write: true, create: true });
      try {
        const step = Math.ceil(bytes.length / 3);
        for (let offset = 0; offset < bytes.length; offset += step) {
          await file.write(bytes.subarray(offset, offset + step));
          await delay(200);
          assert.equal(recorder.values.length, 1, "read before it was complete");
        }
      } finally {
        file.close();
      }
      await Deno.copyFile(`${fixtures}bad/truncated.jpg`, `${dir}/broken.jpg`);
      await Deno.copyFile(`${fixtures}shapes/img_0007.png`, `${dir}/again.png`);
      await Deno.copyFile(`${fixtures}shapes/img_0010.png`, `${dir}/last.png`);
      await recorder.until((values) => values.length === 4, 5000);
      await delay(300);
      assert.deepEqual(images(recorder.values).map((v) => v.path).sort(), [
        "first.png",
        "last.png",
        "slow.jpg",
      ]);
      const slow = images(recorder.values).find((v) => v.path === "slow.jpg")!;
      assert.equal(slow.id, await sha256Hex(bytes));
      assert.match(refusals(recorder.values).get("broken.jpg")!, /truncated/);
      assert.equal(recorder.values.length, 4);
    } finally {
      recorder.stop();
    }
  });
});

Deno.test({
  name: "ingest() skips ids already in the store, and refuses files deleted before they are read",
  ...SANITIZE,
}, async () => {
  await withTempDir("ingest", async (dir) => {
    await Deno.copyFile(`${fixtures}shapes/img_0011.png`, `${dir}/known.png`);
    const knownIds = [await idOf(`${dir}/known.png`)];
    const recorder = new Recorder(ingest(dir, { ...FAST, knownIds }));
    try {
      await delay(500);
      assert.equal(recorder.values.length, 0);
      // Deleted right after closing: each is read in time or refused, and none stops the stream.
      const sources = ["img_0023.png", "img_0024.png", "img_0025.jpg", "img_0026.png"];
      const names = sources.map((source, i) => `flash_${i}${source.slice(-4)}`);
      for (const [i, name] of names.entries()) {
        await Deno.copyFile(`${fixtures}shapes/${sources[i]}`, `${dir}/${name}`);
        await Deno.remove(`${dir}/${name}`);
      }
      await Deno.copyFile(`${fixtures}shapes/img_0012.png`, `${dir}/after.png`);
      await recorder.until((values) => values.some((v) => v.path === "after.png"), 5000);
      await delay(300);
      for (const value of recorder.values) {
        if (isIngestRefusal(value)) assert.match(value.reason, /not found/, value.path);
        else assert.ok(value.path === "after.png" || names.includes(value.path), value.path);
      }
    } finally {
      recorder.stop();
    }
  });
});
