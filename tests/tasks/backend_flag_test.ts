/**
 * Every task that trains or embeds accepts `--backend tensorflow`; without the native package it
 * fails once, on its main thread, before connecting anywhere or starting a thread: exit code 1
 * and one line that gives the install command, the same command docs/gpu.md gives.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runTaskScript } from "../run/_tiny_run.ts";
import { findNativeAddon, NATIVE_INSTALL_COMMAND, projectRoot } from "../../src/backend/native.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SHAPES = join(ROOT, "fixtures", "shapes");
const MESSAGE = "Cannot select backend tensorflow";

/** The checkout has the native backend installed: these tests need it absent. */
const installed = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"].some((pkg) =>
  typeof findNativeAddon(projectRoot(), pkg as "@tensorflow/tfjs-node") !== "string"
);
if (installed) console.warn("backend_flag_test: skipped: the native backend is installed here");

/** The fewest arguments with which each task reaches its backend choice. */
function argsFor(task: string, dir: string): string[] {
  const run = join(dir, "no-run");
  switch (task) {
    case "train":
      return ["--data", SHAPES, "--out", join(dir, "run")];
    case "eval":
      return ["--run", run, "--data", SHAPES, "--labels", join(SHAPES, "labels.csv")];
    case "classify":
      return ["--run", run, join(SHAPES, "labels.csv")];
    case "report":
      return ["--run", run, "--data", SHAPES, "--out", join(dir, "report")];
    case "stream":
      // The fixtures are only read; the state would go to the temporary directory.
      return ["--watch", SHAPES, "--state", join(dir, "state")];
    case "worker":
      // Nothing listens there: the backend is checked before connecting.
      return ["--stage", "embed", "--nats", "nats://127.0.0.1:9"];
    default:
      throw new Error(`no arguments for task ${task}`);
  }
}

for (const task of ["train", "eval", "classify", "report", "stream", "worker"]) {
  Deno.test({
    name: `${task} --backend tensorflow - without the package: exit 1, reported once`,
    ignore: installed,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: `scanstream_backend_${task}_` });
      try {
        const { code, stderr } = await runTaskScript(task, [
          ...argsFor(task, dir),
          "--backend",
          "tensorflow",
        ]);
        assert.equal(code, 1, stderr);
        const lines = stderr.split("\n").filter((line) => line.includes(MESSAGE));
        assert.equal(lines.length, 1, stderr);
        assert.ok(lines[0].includes(`\`${NATIVE_INSTALL_COMMAND}\``), lines[0]);
        // Nothing was written: no run, no state, no report.
        assert.deepEqual([...Deno.readDirSync(dir)], [], stderr);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test("docs/gpu.md gives the install command the error gives", async () => {
  const page = await Deno.readTextFile(join(ROOT, "docs", "gpu.md"));
  assert.ok(page.includes(NATIVE_INSTALL_COMMAND), `docs/gpu.md lacks ${NATIVE_INSTALL_COMMAND}`);
  assert.ok(page.includes("deno task install-native --cpu"), "docs/gpu.md lacks the --cpu form");
});
