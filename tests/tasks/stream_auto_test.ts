import assert from "node:assert/strict";
import { join } from "node:path";
import { makeConfig } from "../../src/config.ts";
import { profileDataset } from "../../src/data/profile.ts";
import { autoSettings } from "../../src/run/auto_settings.ts";
import { AUTO_SETTINGS_FILE, streamAutoConfig } from "../../tasks/_stream_auto.ts";
import { streamSettings } from "../../tasks/_stream_setup.ts";

const SHAPES = new URL("../../fixtures/shapes", import.meta.url).pathname;

async function withDirs(body: (watch: string, state: string) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "scanstream_stream_auto_" });
  try {
    await Deno.mkdir(join(root, "watch"));
    await body(join(root, "watch"), join(root, "state"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("streamAutoConfig() chooses from the watched images once and keeps the choice", async () => {
  await withDirs(async (watch, state) => {
    const names = [...Deno.readDirSync(SHAPES)].map((e) => e.name).filter((n) => n.endsWith(".png"))
      .sort().slice(0, 40);
    for (const name of names) await Deno.copyFile(join(SHAPES, name), join(watch, name));
    const lines: string[] = [];
    const config = await streamAutoConfig(watch, state, 6, (l) => lines.push(l));
    assert.deepEqual(config, autoSettings(await profileDataset(watch), 6).config);
    assert.ok(lines.some((l) => l.startsWith("auto inputSize ")), lines.join("\n"));
    assert.ok(!lines.some((l) => l.startsWith("auto epochs")), "epochs are the offline run's");
    // A restart with more images, or none, keeps the first choice.
    for (const name of names.slice(0, 30)) await Deno.remove(join(watch, name));
    const again = await streamAutoConfig(watch, state, 6, (l) => lines.push(l));
    assert.deepEqual(again, config);
    assert.match(lines.at(-1)!, /auto: the settings chosen at the first start/);
    // Flags still apply on top of it.
    const { config: flagged } = streamSettings({ preset: "auto", "input-size": "20" }, again);
    assert.equal(flagged.inputSize, 20);
    assert.equal(flagged.invertProbability, config.invertProbability);
  });
});

Deno.test("streamAutoConfig() falls back to the fixtures preset on an empty directory, and says so", async () => {
  await withDirs(async (watch, state) => {
    const lines: string[] = [];
    const config = await streamAutoConfig(watch, state, undefined, (l) => lines.push(l));
    assert.deepEqual(config, makeConfig("fixtures"));
    assert.match(lines[0], /no image in .* yet to choose settings from: the fixtures preset/);
  });
});

Deno.test("streamAutoConfig() refuses a damaged saved choice instead of choosing again", async () => {
  await withDirs(async (watch, state) => {
    await Deno.mkdir(state);
    await Deno.writeTextFile(join(state, AUTO_SETTINGS_FILE), JSON.stringify({ inputSize: 16 }));
    await assert.rejects(
      streamAutoConfig(watch, state, undefined, () => {}),
      /Cannot read the auto settings in .*auto-settings\.json: config\.json lacks/,
    );
  });
  assert.throws(() => streamSettings({ preset: "auto" }), /auto preset needs a watched directory/);
});
