/**
 * End to end, as a person would run it: `deno task stream` on a directory of fixtures (more
 * copied in while it runs, bad files among them) against a real nats-server, and
 * `deno task events --subject all` in another process printing what it sees. Both run with the
 * permissions of their deno.json tasks. Takes a few minutes: the accuracy check is real.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { natsTest } from "../_nats.ts";
import { shapeImageNames } from "../_shapes.ts";
import { spawnTask } from "./_task_process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SHAPES = join(ROOT, "fixtures", "shapes");
const BAD = join(ROOT, "fixtures", "bad");
const BAD_FILES = ["corrupt.png", "text.png", "truncated.jpg"];
/** Give up after this long: the stream learns from scratch, and CI machines may be busy. */
const TIMEOUT_MS = 1000 * Number(Deno.env.get("SCANSTREAM_E2E_TIMEOUT_S") ?? "600");
/** The accuracy a cluster update must reach: the target. */
const ACCURACY = Number(Deno.env.get("SCANSTREAM_E2E_ACCURACY") ?? "0.9");

interface Line {
  type: "assignment" | "refusal" | "cluster-update";
  [field: string]: unknown;
}

natsTest(
  "stream and events tasks - every image assigned, every bad file refused, cluster-update accuracy reaches the threshold on the fixtures",
  async ({ server }) => {
    const root = await Deno.makeTempDir({ prefix: "scanstream_e2e_" });
    const watch = join(root, "inbox");
    await Deno.mkdir(watch);
    const names = shapeImageNames();
    const early = names.slice(0, 200);
    const late = names.slice(200);
    for (const name of early) await Deno.copyFile(join(SHAPES, name), join(watch, name));

    const stream = await spawnTask("stream", [
      "--watch",
      watch,
      "--state",
      join(root, "state"),
      "--nats",
      server.url,
      "--name",
      "e2e",
      "--labels",
      join(SHAPES, "labels.csv"),
      // 16 px: a SimCLR step costs half of one at the preset's 24 px.
      "--input-size",
      "16",
    ]);
    const events = await spawnTask("events", [
      "--nats",
      server.url,
      "--name",
      "e2e",
      "--subject",
      "all",
    ]);
    const started = Date.now();
    const parsed = () =>
      events.lines.filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Line);
    const progress = () => {
      const lines = parsed();
      const seen = new Set(lines.filter((l) => l.type === "assignment").map((l) => l.path));
      const updates = lines.filter((l) => l.type === "cluster-update");
      const best = Math.max(0, ...updates.map((l) => l.accuracy as number));
      return `${seen.size} images assigned, ` +
        `${lines.filter((l) => l.type === "refusal").length} refusals, ${updates.length} ` +
        `cluster updates, best accuracy ${best.toFixed(3)}`;
    };
    let reported = Date.now();
    const wait = async (what: string, done: (lines: Line[]) => boolean) => {
      while (!done(parsed())) {
        if (Date.now() - started > TIMEOUT_MS) {
          throw new Error(
            `Timed out waiting for ${what}: ${progress()}. Stream stderr:\n` +
              stream.stderr().slice(-3000),
          );
        }
        // Where a slow run stands, for a CI log that ends in a timeout.
        if (Date.now() - reported > 60_000) {
          reported = Date.now();
          console.log(`e2e: after ${((reported - started) / 1000).toFixed(0)} s: ${progress()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    let streamCode: number | undefined;
    let eventsCode: number | undefined;
    try {
      await wait("the first assignment", (lines) => lines.some((l) => l.type === "assignment"));
      // More files while it runs: the rest of the fixtures and some that must be refused.
      for (const name of late) await Deno.copyFile(join(SHAPES, name), join(watch, name));
      for (const name of BAD_FILES) await Deno.copyFile(join(BAD, name), join(watch, name));
      const accurate = (l: Line) =>
        l.type === "cluster-update" && (l.accuracy as number) >= ACCURACY;
      await wait(
        `an assignment per image, a refusal per bad file and accuracy ${ACCURACY}`,
        (lines) =>
          new Set(lines.filter((l) => l.type === "assignment").map((l) => l.path)).size ===
            names.length &&
          lines.filter((l) => l.type === "refusal").length === BAD_FILES.length &&
          lines.some(accurate),
      );
      const seconds = (Date.now() - started) / 1000;
      streamCode = await stream.stop();
      eventsCode = await events.stop();

      const lines = parsed();
      const assignments = lines.filter((l) => l.type === "assignment");
      assert.deepEqual(assignments.map((l) => l.path).sort(), names, "one assignment per image");
      assert.deepEqual(
        lines.filter((l) => l.type === "refusal").map((l) => l.path).sort(),
        [...BAD_FILES].sort(),
      );
      const updates = lines.filter((l) => l.type === "cluster-update");
      const best = Math.max(...updates.map((l) => l.accuracy as number));
      assert.ok(best >= ACCURACY, `best accuracy ${best}`);
      assert.ok(updates.every((l) => typeof l.nmi === "number" && typeof l.ari === "number"));
      assert.equal(streamCode, 0, stream.stderr().slice(-3000));
      assert.equal(eventsCode, 0, events.stderr().slice(-2000));
      assert.match(stream.stderr(), /stopped: 300 images/);
      console.log(`e2e: accuracy ${best.toFixed(3)} and all events after ${seconds.toFixed(0)} s`);
    } finally {
      if (streamCode === undefined) await stream.stop();
      if (eventsCode === undefined) await events.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
  // Its own waits run to TIMEOUT_MS from the start; the harness only catches a hang past them.
  { limitMs: TIMEOUT_MS + 120_000 },
);
