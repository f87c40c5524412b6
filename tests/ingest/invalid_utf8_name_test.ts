/**
 * Finding 9 of issue 13: a file whose name is not valid UTF-8 (the bytes ff fe) dropped into the
 * watched folder ended the stream (`Cannot watch DIR: path contains invalid UTF-8 characters`:
 * Deno's watcher throws on such an event), and a tree walk skipped it silently. It must become
 * exactly one refusal, its name shown escaped, and the ingest must go on.
 */
import assert from "node:assert/strict";
import { ingest, type IngestedImage, type IngestRefusal } from "../../src/ingest/ingest.ts";
import { quote } from "../../src/util/quote.ts";
import { delay, fixtures, Recorder, SANITIZE, withTempDir } from "./_helpers.ts";

/** Deno APIs take names as strings (UTF-8): the shell writes the raw bytes ff fe. */
async function writeBadName(dir: string, suffix = ""): Promise<void> {
  const { code, stderr } = await new Deno.Command("/bin/sh", {
    args: ["-c", `printf 'text\\n' > "$(printf '\\377\\376')${suffix}"`],
    cwd: dir,
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
}

const LOSSY = "\ufffd\ufffd";

function refusals(values: (IngestedImage | IngestRefusal)[]): IngestRefusal[] {
  return values.filter((v): v is IngestRefusal => !("pixels" in v));
}

Deno.test({
  name:
    "ingest - a file named with the bytes ff fe dropped while watching is one refusal, and the ingest goes on",
  ...SANITIZE,
}, async () => {
  await withTempDir("badname", async (dir) => {
    await Deno.copyFile(`${fixtures}shapes/img_0001.png`, `${dir}/a.png`);
    const recorder = new Recorder(
      ingest(dir, { size: 16, stableMs: 50, rescanIntervalMs: 200 }),
    );
    try {
      await recorder.until((values) => values.length >= 1, 10_000);
      await writeBadName(dir);
      await recorder.until((values) => refusals(values).length >= 1, 10_000);
      await Deno.copyFile(`${fixtures}shapes/img_0002.jpg`, `${dir}/b.jpg`);
      await recorder.until((values) => values.length >= 3, 10_000);
      // Several safety walks later, still one refusal.
      await delay(800);
      assert.equal(recorder.error, null);
      const refused = refusals(recorder.values);
      assert.equal(refused.length, 1, JSON.stringify(recorder.values.map((v) => v.path)));
      assert.equal(refused[0].path, LOSSY);
      assert.match(refused[0].reason, /not valid UTF-8/);
      assert.equal(quote(refused[0].path), `"\\ufffd\\ufffd"`, "shown escaped");
      assert.deepEqual(recorder.values.filter((v) => "pixels" in v).map((v) => v.path), [
        "a.png",
        "b.jpg",
      ]);
    } finally {
      recorder.stop();
    }
  });
});

Deno.test({
  name:
    "ingest - names that are not valid UTF-8 found by the first walk (a file, and a folder) are one refusal each",
  ...SANITIZE,
}, async () => {
  await withTempDir("badname", async (dir) => {
    await Deno.mkdir(`${dir}/sub`);
    await writeBadName(`${dir}/sub`, ".png");
    await Deno.copyFile(`${fixtures}shapes/img_0001.png`, `${dir}/a.png`);
    const { code } = await new Deno.Command("/bin/sh", {
      args: ["-c", `mkdir "$(printf 'd\\377')" && cp a.png "$(printf 'd\\377')/c.png"`],
      cwd: dir,
    }).output();
    assert.equal(code, 0);
    const recorder = new Recorder(ingest(dir, { size: 16, stableMs: 50, rescanIntervalMs: 200 }));
    try {
      await recorder.until((values) => values.length >= 3, 10_000);
      await delay(800);
      assert.equal(recorder.error, null);
      const refused = refusals(recorder.values);
      assert.deepEqual(refused.map((r) => r.path).sort(), [`d\ufffd`, `sub/${LOSSY}.png`]);
      assert.equal(recorder.values.length, 3, "the folder's content cannot be named: one refusal");
    } finally {
      recorder.stop();
    }
  });
});
