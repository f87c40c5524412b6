/**
 * Finding 14 of issue 13: the README says the state is never inside the watched directory, but
 * `--state` inside `--watch` was accepted. It must be a usage error (exit 2) before anything is
 * written, whether the state folder exists yet or not, and however the paths are spelled.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { spawnTask } from "./_task_process.ts";

for (
  const [label, state] of [
    ["a new folder inside it", (watch: string) => join(watch, "state")],
    ["the folder itself, spelled with ..", (watch: string) => join(watch, "sub", "..")],
    ["a nested new folder", (watch: string) => join(watch, "a", "b")],
  ] as const
) {
  Deno.test(`stream task - --state ${label} of --watch is a usage error (exit 2)`, async () => {
    const root = await Deno.makeTempDir({ prefix: "scanstream_state_inside_" });
    try {
      const watch = join(root, "inbox");
      await Deno.mkdir(join(watch, "sub"), { recursive: true });
      const task = await spawnTask("stream", ["--watch", watch, "--state", state(watch)]);
      // Today's code starts the stream instead: give it a while, then stop it and fail.
      const code = await Promise.race([
        task.status.then((status) => status.code),
        new Promise<string>((resolve) => setTimeout(() => resolve("still running"), 20_000)),
      ]);
      await task.stop("SIGKILL");
      assert.equal(code, 2, task.stderr());
      assert.match(task.stderr(), /--state .* inside the watched directory/);
      assert.deepEqual([...Deno.readDirSync(watch)].map((e) => e.name), ["sub"], "nothing written");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}
