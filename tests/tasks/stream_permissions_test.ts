/**
 * The narrow form of `deno task stream` that README.md documents: read only the watched folder,
 * the state folder, the code and the nats-server binary; write only the state folder; network
 * only on loopback; run only nats-server. The stream must work within it, unchanged.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { natsTest } from "../_nats.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SHAPES = join(ROOT, "fixtures", "shapes");

natsTest(
  "stream task: runs within the narrow permissions documented in README.md",
  async ({ binary }) => {
    const root = await Deno.makeTempDir({ prefix: "scanstream_narrow_" });
    const watch = join(root, "inbox");
    const state = join(root, "state");
    await Deno.mkdir(watch);
    await Deno.copyFile(join(SHAPES, "img_0001.png"), join(watch, "a.png"));
    await Deno.copyFile(join(ROOT, "fixtures/bad/text.png"), join(watch, "text.png"));
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          `--allow-read=${watch},${state},${ROOT},${binary}`,
          `--allow-write=${state}`,
          "--allow-env",
          "--allow-sys",
          "--allow-net=127.0.0.1",
          `--allow-run=${binary}`,
          join(ROOT, "tasks/stream.ts"),
          ...["--watch", watch, "--state", state, "--min-images", "50", "--pretext-steps", "0"],
        ],
        cwd: ROOT,
        env: { NATS_URL: "" },
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const decoder = new TextDecoder();
      let stderr = "";
      const deadline = Date.now() + 30_000;
      let stopping = false;
      for await (const chunk of child.stderr) {
        stderr += decoder.decode(chunk, { stream: true });
        // One signal only: a second one exits without saving.
        if (!stopping && (/refused "text\.png"/.test(stderr) || Date.now() > deadline)) {
          stopping = true;
          child.kill("SIGTERM");
        }
      }
      const { code } = await child.status;
      assert.equal(code, 0, stderr);
      assert.match(stderr, /started nats-server at nats:\/\/127\.0\.0\.1:\d+/);
      assert.match(stderr, /stopped: 1 images/);
      assert.doesNotMatch(stderr, /NotCapable|Requires \w+ access/);
      assert.ok((await Deno.stat(join(state, "state.json"))).isFile);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);
