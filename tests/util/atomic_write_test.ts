/** Atomic writes reach the disk: the file and then its directory are synced (finding 12). */
import assert from "node:assert/strict";
import { trainerStateSchema } from "../../src/protocol/disk_state.ts";
import { readJsonIfExists, writeFileAtomic, writeJsonAtomic } from "../../src/util/atomic_write.ts";

Deno.test("writeFileAtomic() syncs the file before the rename and the directory after", async () => {
  const dir = await Deno.makeTempDir();
  const proto = Object.getPrototypeOf(
    await Deno.open(dir, { read: true }).then((f) => {
      f.close();
      return f;
    }),
  );
  const original = proto.sync;
  const synced: string[] = [];
  const originalRename = Deno.rename;
  proto.sync = function (this: Deno.FsFile) {
    synced.push("sync");
    return original.call(this);
  };
  // deno-lint-ignore no-explicit-any
  (Deno as any).rename = (from: string, to: string) => {
    synced.push("rename");
    return originalRename(from, to);
  };
  try {
    await writeFileAtomic(`${dir}/state.json`, new TextEncoder().encode("{}"));
    assert.deepEqual(synced, ["sync", "rename", "sync"]);
    assert.equal(await Deno.readTextFile(`${dir}/state.json`), "{}");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["state.json"]);
  } finally {
    proto.sync = original;
    // deno-lint-ignore no-explicit-any
    (Deno as any).rename = originalRename;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readJsonIfExists() parses with a schema: a state naming a path outside is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/state.json`;
    assert.equal(await readJsonIfExists(path, trainerStateSchema()), undefined);
    const state = {
      format: 1,
      shape: { backbone: "resnet-tiny", inputSize: 32, clusters: 3, heads: 1, neighbours: 5 },
      models: "models-2",
      version: 1,
      head: 0,
      permutation: [0, 1, 2],
      steps: { rounds: 2, pretext: 10, scan: 10, selflabel: 0 },
      updatedAt: 40,
      assignments: [["a", 1, 0.9]],
      refused: ["bad.png"],
      unpublished: {
        images: ["b"],
        events: [{ subject: "clusters", msgId: "clusters:1", event: "{}" }],
      },
    };
    await writeJsonAtomic(path, state);
    assert.deepEqual(await readJsonIfExists(path, trainerStateSchema()), state);
    // A state written before `unpublished` existed reads as one with nothing waiting.
    const { unpublished: _, ...older } = state;
    await writeJsonAtomic(path, older);
    assert.deepEqual(await readJsonIfExists(path, trainerStateSchema()), {
      ...older,
      unpublished: { images: [], events: [] },
    });
    await writeJsonAtomic(path, state);
    await writeJsonAtomic(path, { ...state, models: "../../elsewhere" });
    await assert.rejects(
      () => readJsonIfExists(path, trainerStateSchema()),
      /state\.json: models must be a plain file name, current value is "\.\.\/\.\.\/elsewhere"/,
    );
    await Deno.writeTextFile(path, "{");
    await assert.rejects(() => readJsonIfExists(path, trainerStateSchema()), /not JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
