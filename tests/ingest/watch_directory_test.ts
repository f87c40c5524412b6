import assert from "node:assert/strict";
import { diffDirectory, type FileEvent, watchDirectory } from "../../src/ingest/watch_directory.ts";
import { delay, mkfifo, Recorder, SANITIZE, withTempDir } from "./_helpers.ts";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
/** Short quiet periods keep the tests fast; the written-file period stays long on purpose. */
const FAST = { stableMs: 150, writtenStableMs: 5000, rescanIntervalMs: 0 };

function relatives(values: FileEvent[]): string[] {
  return values.map((value) => value.relative);
}

/** Write a file and age its mtime, as if it had been there a while. */
async function oldFile(path: string, bytes = PNG): Promise<void> {
  await Deno.writeFile(path, bytes);
  const past = new Date(Date.now() - 60_000);
  await Deno.utime(path, past, past);
}

Deno.test({
  name:
    "watchDirectory() emits existing files once each, sorted, recursively, skipping hidden and temporary names",
  ...SANITIZE,
}, async () => {
  await withTempDir("watch", async (dir) => {
    await Deno.mkdir(`${dir}/sub/deeper`, { recursive: true });
    await Deno.mkdir(`${dir}/.hidden`);
    const names = [
      "b.png",
      "a.jpg",
      "sub/c.gif",
      "sub/deeper/d.JPEG",
      "with space.png",
      "ünïcødé 猫.png",
      "new\nline.png",
    ];
    for (const name of names) await oldFile(`${dir}/${name}`);
    for (const name of ["x.png.part", "y.tmp", ".dot.png", ".hidden/z.png", "notes.txt"]) {
      await oldFile(`${dir}/${name}`);
    }
    const recorder = new Recorder(watchDirectory(dir, FAST));
    try {
      await recorder.until((values) => values.length >= names.length);
      await delay(300);
      assert.deepEqual(relatives(recorder.values), [...names].sort((a, b) => (a < b ? -1 : 1)));
      for (const value of recorder.values) {
        assert.equal(value.path, `${dir}/${value.relative}`);
        assert.ok(Math.abs(value.receivedAt - Date.now()) < 10_000);
      }
    } finally {
      recorder.stop();
    }
  });
});

Deno.test({
  name: "watchDirectory() emits a file written slowly only after it is closed, and once",
  ...SANITIZE,
}, async () => {
  await withTempDir("watch", async (dir) => {
    const recorder = new Recorder(watchDirectory(dir, FAST));
    try {
      await delay(300);
      const file = await Deno.open(`${dir}/slow.png`, { write: true, create: true });
      try {
        for (let chunk = 0; chunk < 4; chunk++) {
          await file.write(PNG);
          // Pauses longer than stableMs: only the close may count as completion.
          await delay(250);
          assert.deepEqual(relatives(recorder.values), [], `emitted after chunk ${chunk}`);
        }
      } finally {
        file.close();
      }
      await recorder.until((values) => values.length === 1, 2000);
      assert.equal(recorder.values[0].relative, "slow.png");
      assert.equal((await Deno.stat(`${dir}/slow.png`)).size, 4 * PNG.length);
      await delay(400);
      assert.equal(recorder.values.length, 1);
    } finally {
      recorder.stop();
    }
  });
});

Deno.test({
  name:
    "watchDirectory() ignores .part, .tmp and dot-files, and emits the name they are renamed to",
  ...SANITIZE,
}, async () => {
  await withTempDir("watch", async (dir) => {
    const recorder = new Recorder(watchDirectory(dir, FAST));
    try {
      await delay(300);
      await Deno.writeFile(`${dir}/x.png.part`, PNG);
      await Deno.writeFile(`${dir}/y.png.tmp`, PNG);
      await Deno.writeFile(`${dir}/.z.png`, PNG);
      await delay(400);
      assert.deepEqual(relatives(recorder.values), []);
      await Deno.rename(`${dir}/x.png.part`, `${dir}/x.png`);
      await recorder.until((values) => values.length === 1);
      await delay(400);
      assert.deepEqual(relatives(recorder.values), ["x.png"]);
    } finally {
      recorder.stop();
    }
  });
});

Deno.test({
  name: "watchDirectory() emits a hard link (no close event) after the quiet period",
  ...SANITIZE,
}, async () => {
  await withTempDir("watch", async (outside) => {
    await withTempDir("watch", async (dir) => {
      await oldFile(`${outside}/a.png`);
      const recorder = new Recorder(watchDirectory(dir, FAST));
      try {
        await delay(300);
        await Deno.link(`${outside}/a.png`, `${dir}/linked.png`);
        await recorder.until((values) => values.length === 1, 3000);
        assert.deepEqual(relatives(recorder.values), ["linked.png"]);
      } finally {
        recorder.stop();
      }
    });
  });
});

Deno.test({
  name: "watchDirectory() finds files in new folders, made in place or moved in",
  ...SANITIZE,
}, async () => {
  await withTempDir("watch", async (outside) => {
    await withTempDir("watch", async (dir) => {
      await Deno.mkdir(`${outside}/batch/inner`, { recursive: true });
      await oldFile(`${outside}/batch/one.png`);
      await oldFile(`${outside}/batch/inner/two.png`);
      const recorder = new Recorder(watchDirectory(dir, FAST));
      try {
        await delay(300);
        await Deno.mkdir(`${dir}/made/x/y`, { recursive: true });
        await Deno.writeFile(`${dir}/made/x/y/deep.png`, PNG);
        await Deno.rename(`${outside}/batch`, `${dir}/batch`);
        await recorder.until((values) => values.length >= 3, 3000);
        await delay(300);
        assert.deepEqual(relatives(recorder.values).sort(), [
          "batch/inner/two.png",
          "batch/one.png",
          "made/x/y/deep.png",
        ]);
      } finally {
        recorder.stop();
      }
    });
  });
});

Deno.test({
  name: "watchDirectory() emits a rewritten file again, but not a file merely read",
  ...SANITIZE,
}, async () => {
  await withTempDir("watch", async (dir) => {
    await oldFile(`${dir}/a.png`);
    const recorder = new Recorder(watchDirectory(dir, FAST));
    try {
      await recorder.until((values) => values.length === 1);
      await Deno.readFile(`${dir}/a.png`);
      await delay(300);
      assert.equal(recorder.values.length, 1);
      await Deno.writeFile(`${dir}/a.png`, new Uint8Array([...PNG, 9, 9]));
      await recorder.until((values) => values.length === 2);
      assert.deepEqual(relatives(recorder.values), ["a.png", "a.png"]);
    } finally {
      recorder.stop();
    }
  });
});

Deno.test({
  name: "diffDirectory() lists what a lost event hid: new and changed files, not seen ones",
  ...SANITIZE,
}, async () => {
  await withTempDir("watch", async (dir) => {
    await Deno.mkdir(`${dir}/sub`);
    for (const name of ["kept.png", "changed.png", "sub/new.png"]) await oldFile(`${dir}/${name}`);
    const before = await diffDirectory(dir, new Map());
    assert.deepEqual(before.map((e) => e.relative), ["changed.png", "kept.png", "sub/new.png"]);
    const seen = new Map(
      before.filter((e) => e.relative !== "sub/new.png").map((e) => [e.relative, e.signature]),
    );
    await Deno.writeFile(`${dir}/changed.png`, new Uint8Array([...PNG, 7]));
    await Deno.writeFile(`${dir}/ignored.png.part`, PNG);
    const diff = await diffDirectory(dir, seen);
    assert.deepEqual(diff.map((e) => e.relative), ["changed.png", "sub/new.png"]);
  });
});

Deno.test({
  name: "watchDirectory() emits folders, FIFOs and broken links named like images, without hanging",
  ...SANITIZE,
}, async () => {
  await withTempDir("watch", async (dir) => {
    await Deno.mkdir(`${dir}/folder.png`);
    await oldFile(`${dir}/folder.png/inside.png`);
    await mkfifo(`${dir}/before.png`);
    await Deno.symlink(`${dir}/missing.png`, `${dir}/broken.png`);
    // A FIFO created while watching stalls Deno's watcher; the periodic walk must notice it,
    // and files added after it must still arrive.
    const recorder = new Recorder(watchDirectory(dir, { ...FAST, rescanIntervalMs: 200 }));
    try {
      await recorder.until((values) => values.length === 4);
      assert.deepEqual(relatives(recorder.values), [
        "before.png",
        "broken.png",
        "folder.png",
        "folder.png/inside.png",
      ]);
      await mkfifo(`${dir}/after.png`);
      await recorder.until((values) => values.length === 5);
      await Deno.writeFile(`${dir}/later.png`, PNG);
      await recorder.until((values) => values.length === 6);
      assert.deepEqual(relatives(recorder.values).slice(4), ["after.png", "later.png"]);
    } finally {
      recorder.stop();
    }
  });
});

Deno.test({
  name: "watchDirectory() errors for a missing directory and rejects bad options",
  ...SANITIZE,
}, async () => {
  const recorder = new Recorder(watchDirectory("/nonexistent/scanstream/inbox", FAST));
  await delay(200);
  assert.match(String(recorder.error), /Cannot watch \/nonexistent\/scanstream\/inbox/);
  recorder.stop();
  assert.throws(() => watchDirectory("/tmp", { stableMs: -1 }), RangeError);
});

Deno.test({
  name: "watchDirectory() leaves nothing running when unsubscribed at once or mid-way",
  ...SANITIZE,
}, async () => {
  await withTempDir("watch", async (dir) => {
    await Deno.writeFile(`${dir}/fresh.png`, PNG);
    new Recorder(watchDirectory(dir, FAST)).stop();
    const recorder = new Recorder(watchDirectory(dir, { ...FAST, stableMs: 2000 }));
    await delay(600);
    // Stopped while waiting for fresh.png to settle: the pause's timer must go too.
    recorder.stop();
    assert.equal(recorder.values.length, 0);
  });
});

Deno.test({
  name: "watchDirectory() waits for the close of a file created, even if its writer pauses first",
  ignore: Deno.build.os !== "linux",
  ...SANITIZE,
}, async () => {
  await withTempDir("watch", async (dir) => {
    const recorder = new Recorder(watchDirectory(dir, FAST));
    try {
      await delay(300);
      const file = await Deno.open(`${dir}/late start.png`, { write: true, createNew: true });
      try {
        // Created but empty for longer than stableMs, then written in two steps.
        await delay(400);
        await file.write(PNG);
        await delay(400);
        await file.write(PNG);
        await delay(250);
        assert.deepEqual(relatives(recorder.values), [], "emitted before it was closed");
      } finally {
        file.close();
      }
      await recorder.until((values) => values.length === 1, 2000);
      assert.equal((await Deno.stat(`${dir}/late start.png`)).size, 2 * PNG.length);
      await delay(300);
      assert.equal(recorder.values.length, 1);
    } finally {
      recorder.stop();
    }
  });
});
