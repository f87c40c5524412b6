/** Atomic writes reach the disk: the file and then its directory are synced (finding 12). */
import assert from "node:assert/strict";
import { writeFileAtomic } from "../../src/util/atomic_write.ts";

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
