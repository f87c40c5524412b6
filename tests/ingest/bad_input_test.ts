/**
 * Every kind of bad or odd input of issue 5, on the path a user's file really takes: the stream
 * (`startStream`, as `deno task stream` runs it) watching a directory, on the in-process bus.
 * Each case is one file; a refused one must give exactly one `errors` event `{path, reason}` and
 * one log line, and no assignment; an accepted one must be assigned; every image that can be
 * used is assigned whatever else is in the directory; and no user file changes (bytes, mtime,
 * mode, link target) or disappears.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startStream } from "../../pipelines/stream.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { encodeJpeg } from "../../tools/encode_jpeg.ts";
import { encodePng } from "../../src/image/encode_png.ts";
import { sha256Hex } from "../../src/image/hash.ts";
import type { AssignmentEvent, RefusalEvent } from "../../src/stream/events.ts";
import { json } from "../../src/transport/bus.ts";
import { MemoryBus } from "../../src/transport/memory_bus.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { printable, quote } from "../../src/util/quote.ts";
import { smallStreamSettings } from "../pipelines/_small_stream.ts";
import { delay, fixtures, mkfifo } from "./_helpers.ts";

await initBackend("wasm");

const NAME = "bad-input";
const { config, rounds } = smallStreamSettings(16);
const IS_ROOT = Deno.uid() === 0;
const SHAPE_NAMES = [...Deno.readDirSync(`${fixtures}shapes`)].map((e) => e.name)
  .filter((name) => name.startsWith("img_")).sort();

/** The n-th shapes fixture (from 1), PNG or JPEG, relative to the fixtures. */
function shape(n: number): string {
  return `shapes/${SHAPE_NAMES[n - 1]}`;
}

/** What must become of a case's file. */
type Expect = { assigned: true } | { refused: RegExp };

interface Case {
  /** The file, relative to the watched directory. */
  file: string;
  /** Creates it; `watch` and `outside` are absolute. */
  make: (watch: string, outside: string) => Promise<void>;
  expect: Expect;
}

const ASSIGNED = { assigned: true } as const;
const refused = (reason: RegExp) => ({ refused: reason });

const copy = (from: string, to: string) => (watch: string) =>
  Deno.copyFile(`${fixtures}${from}`, join(watch, to));
const write = (to: string, bytes: () => Uint8Array | Promise<Uint8Array>) => async (w: string) =>
  Deno.writeFile(join(w, to), await bytes());

/** A smooth pattern, so that tiny and thin images are real pictures, not blank ones. */
function pattern(width: number, height: number): Uint8Array {
  return Uint8Array.from(
    { length: width * height * 3 },
    (_, i) => (Math.floor(i / 3) * 37 + (i % 3) * 80) % 256,
  );
}

/** The cases present when the stream starts. */
const STATIC_CASES: Case[] = [
  // Unusable files.
  { file: "zero.png", make: copy("bad/zero_bytes.png", "zero.png"), expect: refused(/empty/) },
  {
    file: "truncated.png",
    make: copy("bad/truncated.png", "truncated.png"),
    expect: refused(/decode PNG/),
  },
  {
    file: "truncated header.png",
    make: copy("bad/truncated_header.png", "truncated header.png"),
    expect: refused(/truncated PNG/),
  },
  {
    file: "truncated.jpg",
    make: copy("bad/truncated.jpg", "truncated.jpg"),
    expect: refused(/truncated JPEG/),
  },
  {
    file: "corrupt.png",
    make: copy("bad/corrupt.png", "corrupt.png"),
    expect: refused(/decode PNG/),
  },
  { file: "text.png", make: copy("bad/text.png", "text.png"), expect: refused(/holds text/) },
  {
    file: "random.png",
    make: copy("bad/random.png", "random.png"),
    expect: refused(/not an image: unrecognised signature/),
  },
  { file: "image.tiff", make: copy("bad/image.tiff", "image.tiff"), expect: refused(/TIFF/) },
  {
    file: "tiff named.png",
    make: copy("bad/tiff_named.png", "tiff named.png"),
    expect: refused(/unsupported format TIFF/),
  },
  { file: "image.bmp", make: copy("bad/image.bmp", "image.bmp"), expect: refused(/BMP/) },
  { file: "image.webp", make: copy("bad/image.webp", "image.webp"), expect: refused(/WebP/) },
  { file: "image.svg", make: copy("bad/image.svg", "image.svg"), expect: refused(/SVG/) },
  {
    file: "bomb.png",
    make: copy("bad/bomb_20000x20000.png", "bomb.png"),
    expect: refused(/header declares 20000x20000 .*maxPixels/),
  },
  {
    file: "huge.jpg",
    make: copy("bad/huge_60000x60000.jpg", "huge.jpg"),
    expect: refused(/60000x60000 .*maxPixels/),
  },
  {
    // Sparse: over the default 20 MiB limit without writing 20 MiB; refused from its size.
    file: "over limit.png",
    make: async (watch) => {
      const path = join(watch, "over limit.png");
      await Deno.writeFile(path, await encodePng(gray(8, 8)));
      await Deno.truncate(path, 21 * 1024 * 1024);
    },
    expect: refused(/file too large: 22020096 bytes, over the limit of 20971520 \(maxBytes\)/),
  },
  // Not files.
  {
    file: "folder.png",
    make: (watch) => Deno.mkdir(join(watch, "folder.png")),
    expect: refused(/not a regular file: it is a directory/),
  },
  {
    file: "pipe.png",
    make: (watch) => mkfifo(join(watch, "pipe.png")),
    expect: refused(/named pipe \(FIFO\)/),
  },
  // Links: followed inside the tree only.
  {
    file: "link inside.png",
    make: (watch) =>
      Deno.symlink(join(watch, ".hidden/target1.png"), join(watch, "link inside.png")),
    expect: ASSIGNED,
  },
  {
    file: "relative link.png",
    make: (watch) => Deno.symlink(".hidden/target2.png", join(watch, "relative link.png")),
    expect: ASSIGNED,
  },
  {
    file: "link outside.png",
    make: (watch, outside) =>
      Deno.symlink(join(outside, "secret.png"), join(watch, "link outside.png")),
    expect: refused(/symbolic link leading outside the watched directory/),
  },
  {
    file: "link up.png",
    make: (watch) => Deno.symlink("../outside/secret.png", join(watch, "link up.png")),
    expect: refused(/outside the watched directory/),
  },
  {
    file: "broken link.png",
    make: (watch) => Deno.symlink(join(watch, "nothing.png"), join(watch, "broken link.png")),
    expect: refused(/not found/),
  },
  // Awkward names.
  {
    file: "with space ü 猫 é.png",
    make: copy(`${shape(101)}`, "with space ü 猫 é.png"),
    expect: ASSIGNED,
  },
  {
    file: "new\nline.png",
    make: copy(`${shape(102)}`, "new\nline.png"),
    expect: ASSIGNED,
  },
  {
    // A name that would forge a log line if logged raw.
    file: "x.png\nrefused y.png: forged.png",
    make: copy("bad/text.png", "x.png\nrefused y.png: forged.png"),
    expect: refused(/holds text/),
  },
  // Wrong extensions: the bytes decide.
  { file: "jpeg named.png", make: copy("odd/jpeg_named.png", "jpeg named.png"), expect: ASSIGNED },
  {
    file: "png named.jpg",
    make: write(
      "png named.jpg",
      () => encodePng({ width: 20, height: 12, colorType: "rgb", samples: pattern(20, 12) }),
    ),
    expect: ASSIGNED,
  },
  // Odd but valid images: decoded, resized, assigned (there is no minimum size).
  { file: "one_pixel.png", make: copy("odd/one_pixel.png", "one_pixel.png"), expect: ASSIGNED },
  {
    file: "thin_1x5000.png",
    make: write(
      "thin_1x5000.png",
      () => encodePng({ width: 1, height: 5000, colorType: "rgb", samples: pattern(1, 5000) }),
    ),
    expect: ASSIGNED,
  },
  {
    file: "wide_5000x1.jpg",
    make: write(
      "wide_5000x1.jpg",
      () => encodeJpeg({ width: 5000, height: 1, channels: 3, samples: pattern(5000, 1) }),
    ),
    expect: ASSIGNED,
  },
  ...[
    "rgb16.png",
    "gray16.png",
    "rgba16.png",
    "palette.png",
    "palette_4bit.png",
    "gray_1bit.png",
    "interlaced.png",
    "gray_alpha.png",
    "cmyk.jpg",
    "gray.jpg",
    "animated.gif",
  ].map((file) => ({ file, make: copy(`odd/${file}`, file), expect: ASSIGNED })),
  // Without read permission: root reads it anyway, so as root the subprocess test below covers it.
  ...(IS_ROOT ? [] : [{
    file: "unreadable.png",
    make: async (watch: string) => {
      await Deno.copyFile(`${fixtures}${shape(104)}`, join(watch, "unreadable.png"));
      await Deno.chmod(join(watch, "unreadable.png"), 0o000);
    },
    expect: refused(/permission denied/),
  }]),
];

function gray(width: number, height: number) {
  return { width, height, colorType: "gray" as const, samples: new Uint8Array(width * height) };
}

/** Plain images that make up the bulk to cluster. */
const GOOD = Array.from({ length: 12 }, (_, i) => shape(i + 1).slice("shapes/".length));

/** Everything in a tree as it is on disk, links not followed: the state the user owns. */
async function snapshot(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      const info = await Deno.lstat(path);
      let content = "";
      if (entry.isSymlink) content = `-> ${await Deno.readLink(path)}`;
      else if (info.isFile && info.size < 1024 * 1024) {
        const readable = (info.mode! & 0o444) !== 0;
        content = readable ? await sha256Hex(await Deno.readFile(path)) : "(unreadable)";
      }
      // A folder's mtime changes when the test adds the late files: folders count by presence.
      out.set(
        path.slice(root.length + 1),
        info.isDirectory
          ? "folder"
          : `${info.size} ${info.mtime?.getTime()} ${info.mode} ${content}`,
      );
      if (entry.isDirectory) await walk(path);
    }
  };
  await walk(root);
  return out;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await delay(25);
  }
}

Deno.test("bad input: every case is refused with an errors event and a log line, or assigned; the stream goes on and no user file changes", async () => {
  const root = await Deno.makeTempDir({ prefix: "scanstream_bad_input_" });
  const watch = join(root, "inbox");
  const outside = join(root, "outside");
  const stateDir = join(root, "state");
  await Deno.mkdir(join(watch, "sub"), { recursive: true });
  await Deno.mkdir(outside);
  await Deno.copyFile(`${fixtures}${shape(105)}`, join(outside, "secret.png"));
  // Link targets sit in a hidden folder, which is never read itself: only the links lead there.
  await Deno.mkdir(join(watch, ".hidden"));
  await Deno.copyFile(`${fixtures}${shape(106)}`, join(watch, ".hidden/target1.png"));
  await Deno.copyFile(`${fixtures}${shape(112)}`, join(watch, ".hidden/target2.png"));
  await Deno.copyFile(`${fixtures}${shape(113)}`, join(watch, "sub/nested.png"));
  const good = GOOD;
  for (const name of good) await Deno.copyFile(`${fixtures}shapes/${name}`, join(watch, name));
  for (const c of STATIC_CASES) await c.make(watch, outside);

  // Files deleted after their event: before the link check, and after it (before the decode
  // worker opens them). Deno.realPath is where ingestion first touches a path it was told about.
  const realPath = Deno.realPath;
  const vanishing = { before: "vanish before check.png", after: "vanish before read.png" };
  const deno = Deno as { realPath: typeof Deno.realPath };
  deno.realPath = async (path: string | URL) => {
    const p = String(path);
    if (p.endsWith(`/${vanishing.before}`)) await Deno.remove(p);
    const real = await realPath(path);
    if (p.endsWith(`/${vanishing.after}`)) await Deno.remove(real);
    return real;
  };

  const bus = MemoryBus.forPipeline(NAME);
  const s = subjects(NAME);
  const assignments: AssignmentEvent[] = [];
  const errors: RefusalEvent[] = [];
  const subscriptions = [
    bus.subscribe(s.assignments, { deliverAll: true }).subscribe((m) => assignments.push(json(m))),
    bus.subscribe(s.errors, { deliverAll: true }).subscribe((m) => errors.push(json(m))),
  ];
  const log: string[] = [];
  const userFiles = await snapshot(root);
  const stream = await startStream({
    watch,
    bus,
    name: NAME,
    config,
    rounds,
    stateDir,
    ingest: { stableMs: 50, rescanIntervalMs: 0 },
    batchWaitMs: 50,
    log: (line) => log.push(line),
  });
  const assigned = () => new Set(assignments.map((a) => a.path));
  try {
    const staticPaths = [...good, "sub/nested.png", ...STATIC_CASES.map((c) => c.file)];
    await waitFor(
      "every static case to be assigned or refused",
      () => {
        const done = new Set([...assigned(), ...errors.map((e) => e.path)]);
        return staticPaths.every((p) => done.has(p));
      },
    );

    // While it runs: files deleted between their event and their read, then a file written
    // slowly through one open handle, then a download renamed from .part, then one more image.
    const late: Case[] = [
      {
        file: vanishing.before,
        make: copy(`${shape(107)}`, vanishing.before),
        expect: refused(/not found/),
      },
      {
        file: vanishing.after,
        make: copy(`${shape(108)}`, vanishing.after),
        expect: refused(/not found/),
      },
    ];
    for (const c of late) await c.make(watch, outside);

    const slowBytes = await Deno.readFile(`${fixtures}${shape(109)}`);
    const seenBefore = () =>
      [...assigned(), ...errors.map((e) => e.path)].filter((p) => p === "slow.png");
    {
      // Created, then nothing for longer than the quiet period, then written in three steps.
      using file = await Deno.open(join(watch, "slow.png"), { write: true, createNew: true });
      await delay(200);
      assert.deepEqual(seenBefore(), [], "slow.png was read while still empty");
      const step = Math.ceil(slowBytes.length / 3);
      for (let offset = 0; offset < slowBytes.length; offset += step) {
        await file.write(slowBytes.subarray(offset, offset + step));
        await delay(150);
        assert.deepEqual(seenBefore(), [], "slow.png was read before it was complete");
      }
    }
    await Deno.writeFile(
      join(watch, "download.jpg.part"),
      await Deno.readFile(`${fixtures}${shape(110)}`),
    );
    await delay(100);
    await Deno.rename(join(watch, "download.jpg.part"), join(watch, "download.jpg"));
    await Deno.copyFile(`${fixtures}${shape(111)}`, join(watch, "last.png"));
    late.push(
      { file: "slow.png", make: () => Promise.resolve(), expect: ASSIGNED },
      { file: "download.jpg", make: () => Promise.resolve(), expect: ASSIGNED },
      { file: "last.png", make: () => Promise.resolve(), expect: ASSIGNED },
    );
    await waitFor("the late files", () => {
      const done = new Set([...assigned(), ...errors.map((e) => e.path)]);
      return late.every((c) => done.has(c.file));
    });
    await stream.stop();

    // Per case: exactly the expected outcome.
    for (const c of [...STATIC_CASES, ...late]) {
      const events = errors.filter((e) => e.path === c.file);
      const given = assignments.filter((a) => a.path === c.file);
      const label = JSON.stringify(c.file);
      if ("assigned" in c.expect) {
        assert.deepEqual(events, [], `${label} was refused: ${events[0]?.reason}`);
        assert.equal(given.length, 1, `${label} assigned ${given.length} times`);
      } else {
        assert.equal(given.length, 0, `${label} was assigned`);
        assert.equal(events.length, 1, `${label}: ${events.length} errors events`);
        assert.match(events[0].reason, c.expect.refused, label);
        assert.ok(
          log.includes(`refused ${quote(c.file)}: ${printable(events[0].reason)}`),
          `no log line for ${label}`,
        );
      }
    }
    // The slow file was read whole, once.
    const slow = assignments.find((a) => a.path === "slow.png")!;
    assert.equal(slow.id, await sha256Hex(slowBytes));
    // The stream went on: every plain image was assigned, and nothing outside the tree was read.
    for (const name of [...good, "sub/nested.png"]) assert.ok(assigned().has(name), name);
    const secret = await sha256Hex(await Deno.readFile(join(outside, "secret.png")));
    assert.ok(!assignments.some((a) => a.id === secret), "a file outside the tree was read");
    // Every line is a single line: no file name can forge one.
    assert.ok(log.every((line) => !line.includes("\n")), "a log line holds a newline");

    // No user file changed: same bytes, mtime and mode, links still point where they did.
    for (const c of late) userFiles.delete(c.file);
    const after = await snapshot(root);
    for (const [path, before] of userFiles) {
      if (path.startsWith("state")) continue;
      assert.equal(after.get(path), before, `${JSON.stringify(path)} changed`);
    }
  } finally {
    deno.realPath = realPath;
    subscriptions.forEach((sub) => sub.unsubscribe());
    await stream.stop();
    await bus.close();
    await Deno.chmod(join(watch, "unreadable.png"), 0o644).catch(() => {});
    await Deno.remove(root, { recursive: true });
  }
});

/**
 * Root reads any file whatever its mode, so a file without read permission can only be refused
 * by a process without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: as root, the ingest runs in a
 * child started through `setpriv` with both dropped from its bounding set.
 */
const SETPRIV = "/usr/bin/setpriv";
const CAN_DROP = IS_ROOT && (() => {
  try {
    return Deno.statSync(SETPRIV).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "bad input: a file without read permission is refused as 'permission denied', unchanged",
  ignore: Deno.build.os !== "linux" || (IS_ROOT && !CAN_DROP),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "scanstream_unreadable_" });
    try {
      const locked = join(dir, "unreadable.png");
      await Deno.copyFile(`${fixtures}${shape(120)}`, locked);
      await Deno.copyFile(`${fixtures}${shape(121)}`, join(dir, "readable.png"));
      await Deno.chmod(locked, 0o000);
      const before = await snapshot(dir);
      const deno = [
        Deno.execPath(),
        "run",
        "--allow-read",
        "--allow-env",
        "--allow-sys",
        new URL("./_ingest_child.ts", import.meta.url).pathname,
        dir,
        "2",
      ];
      const args = IS_ROOT
        ? ["--bounding-set", "-dac_override,-dac_read_search", ...deno]
        : deno.slice(1);
      const { code, stdout, stderr } = await new Deno.Command(IS_ROOT ? SETPRIV : deno[0], {
        args,
        stdin: "null",
      }).output();
      const text = new TextDecoder();
      assert.equal(code, 0, text.decode(stderr));
      const results = text.decode(stdout).trim().split("\n").map((line) => JSON.parse(line));
      const byPath = new Map(results.map((r) => [r.path, r]));
      assert.match(byPath.get("unreadable.png")?.reason ?? "", /permission denied/);
      assert.equal(
        byPath.get("readable.png")?.id,
        await sha256Hex(await Deno.readFile(join(dir, "readable.png"))),
      );
      assert.deepEqual(await snapshot(dir), before);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
