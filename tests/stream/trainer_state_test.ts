import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../../src/backend/backend.ts";
import { makeConfig } from "../../src/config.ts";
import { ImageStore } from "../../src/stream/store.ts";
import { StreamModels } from "../../src/stream/stream_models.ts";
import { openTrainerState, saveCheckpoint, STATE_FILES } from "../../src/stream/trainer_state.ts";
import { withTempDir } from "../_assert.ts";

await initBackend("wasm");

Deno.test("saveCheckpoint never replaces the networks directory that state.json names", async () => {
  await withTempDir("scanstream_state_", async (dir) => {
    const config = makeConfig("fixtures", { inputSize: 8 });
    const models = StreamModels.build(config);
    const store = new ImageStore(config.inputSize);
    try {
      const state = await openTrainerState(dir, config);
      const parts = { index: new Uint8Array(0), store, serving: models };
      await saveCheckpoint(dir, state, parts);
      assert.equal(state.models, "models-0");
      const first = await Deno.stat(join(dir, "models-0"));
      // A restart checkpoints again before any round (the cluster worker does at every start):
      // the same round's networks are on disk already, and the directory state.json names must
      // not be removed and renamed over (a kill in between left no loadable state).
      const reopened = await openTrainerState(dir, config);
      assert.equal(reopened.models, "models-0");
      await saveCheckpoint(dir, reopened, parts);
      const second = await Deno.stat(join(dir, "models-0"));
      assert.equal(second.ino, first.ino, "the named networks directory was replaced");
      // The next round's networks go to their own directory; the old one goes after state.json.
      reopened.steps.rounds = 1;
      await saveCheckpoint(dir, reopened, parts);
      assert.equal(reopened.models, "models-1");
      const entries = [];
      for await (const entry of Deno.readDir(dir)) entries.push(entry.name);
      assert.ok(entries.includes("models-1") && !entries.includes("models-0"), `${entries}`);
      const saved = JSON.parse(await Deno.readTextFile(join(dir, STATE_FILES.state)));
      assert.equal(saved.models, "models-1");
    } finally {
      models.dispose();
    }
  });
});
