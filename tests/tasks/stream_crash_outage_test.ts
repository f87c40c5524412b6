/**
 * Fault (issue 13, finding 10): `deno task stream` checkpoints during a NATS outage, with images,
 * a refusal and a cluster update handed to the bus but not confirmed, and is then killed with
 * SIGKILL. After the server and the stream come back on the same store and state, each of them
 * must be on the bus exactly once: nothing the checkpoint covered may be lost because its publish
 * was still waiting, and nothing that did arrive may be stored twice.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { BusMessage } from "../../src/transport/bus.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { startNatsServer } from "../../src/transport/nats_server.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { natsTest } from "../_nats.ts";
import { shapeImageNames } from "../_shapes.ts";
import { readJson, spawnTask, waitFor } from "./_task_process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SHAPES = join(ROOT, "fixtures", "shapes");
const NAME = "crashoutage";

interface SavedState {
  version: number;
  assignments: unknown[];
  refused: string[];
  unpublished?: { images: string[]; events: { msgId: string }[] };
}

natsTest(
  "stream task - a checkpoint during a NATS outage, then SIGKILL: its unconfirmed images, refusal and cluster update reach the bus once after the restart",
  async ({ binary }) => {
    const root = await Deno.makeTempDir({ prefix: "scanstream_crash_outage_" });
    const watch = join(root, "inbox");
    const state = join(root, "state");
    const store = join(root, "nats");
    await Deno.mkdir(watch);
    const names = shapeImageNames().slice(0, 60);
    const copy = async (from: number, to: number) => {
      for (const name of names.slice(from, to)) {
        await Deno.copyFile(join(SHAPES, name), join(watch, name));
      }
    };
    let server = await startNatsServer({ binary, storeDir: store });
    const args = [
      ...["--watch", watch, "--state", state, "--nats", server.url, "--name", NAME],
      ...["--input-size", "16", "--heads", "1", "--clusters", "6"],
      ...["--warmup-steps", "2", "--min-images", "24", "--selflabel-after", "1000"],
      ...["--pretext-steps", "2", "--scan-steps", "2"],
    ];
    const statePath = join(state, "state.json");
    let stream = await spawnTask("stream", args);
    const s = subjects(NAME);
    try {
      await copy(0, 40);
      await waitFor(
        "the first clustering of 40 images to be saved",
        async () => {
          const saved = await readJson<SavedState>(statePath);
          return saved !== undefined && saved.version >= 1 && saved.assignments.length >= 40
            ? saved
            : undefined;
        },
        stream.stderr,
        120_000,
      );

      // The outage: more images and a bad file arrive, a round makes a cluster update, and a
      // checkpoint saves them all while their publishes wait for the server.
      const versionBefore = (await readJson<SavedState>(statePath))!.version;
      await server.stop();
      await copy(40, 60);
      await Deno.copyFile(join(ROOT, "fixtures", "bad", "text.png"), join(watch, "text.png"));
      const storeSize = async () =>
        (await readJson<{ n: number }>(join(state, "store", "index.json")))?.n ?? 0;
      const during = (await waitFor(
        "a checkpoint of every image and a new update",
        async () => {
          const saved = await readJson<SavedState>(statePath);
          return saved !== undefined && saved.version > versionBefore &&
              (await storeSize()) >= names.length
            ? saved
            : undefined;
        },
        stream.stderr,
        120_000,
      ))!;
      assert.equal(during.refused.length, 0, "the refusal is not saved as reported");
      assert.notEqual(await stream.stop("SIGKILL"), 0);

      server = await startNatsServer({ binary, storeDir: store, port: server.port });
      stream = await spawnTask("stream", args);
      // Every update up to the one saved during the outage.
      const pendingUpdates = Array.from({ length: during.version }, (_, i) => i + 1);
      const bus = await NatsBus.connect({ servers: server.url, name: NAME });
      const got = new Map<string, BusMessage[]>();
      const subscriptions = [s.images, s.errors, s.clusters, s.assignments].map((subject) => {
        got.set(subject, []);
        return bus.subscribe(subject, { deliverAll: true })
          .subscribe((m) => got.get(subject)!.push(m));
      });
      const versions = () =>
        got.get(s.clusters)!.map((m) =>
          JSON.parse(new TextDecoder().decode(m.payload)).version as number
        );
      try {
        await waitFor(
          "every image, the refusal and the outage's update on the bus",
          () => {
            const done = got.get(s.images)!.length >= names.length &&
              got.get(s.errors)!.length >= 1 &&
              got.get(s.assignments)!.length >= names.length &&
              pendingUpdates.every((v) => versions().includes(v));
            return Promise.resolve(done ? true : undefined);
          },
          stream.stderr,
          120_000,
        );
        // Anything repeated would come within this.
        await new Promise((resolve) => setTimeout(resolve, 1500));
      } finally {
        subscriptions.forEach((sub) => sub.unsubscribe());
        await bus.close();
      }
      const ids = got.get(s.images)!.map((m) => m.headers["scan-id"]);
      assert.equal(new Set(ids).size, names.length, "every image on the bus");
      assert.equal(ids.length, names.length, "each image once");
      assert.equal(got.get(s.errors)!.length, 1, "the refusal once");
      assert.equal(new Set(versions()).size, versions().length, "each cluster update once");
      const assigned = got.get(s.assignments)!.map((m) =>
        JSON.parse(new TextDecoder().decode(m.payload)).id as string
      );
      assert.equal(assigned.length, names.length, "each assignment once");
      assert.equal(await stream.stop(), 0, stream.stderr().slice(-3000));
      console.log(
        `crash in outage: ${during.unpublished?.images.length} images and ` +
          `${during.unpublished?.events.length} events unconfirmed at the checkpoint (version ` +
          `${during.version}); after the restart ` +
          `${ids.length} images, 1 refusal, updates ${versions().join(", ")}, ` +
          `${assigned.length} assignments on the bus`,
      );
    } finally {
      await stream.stop("SIGKILL");
      await server.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
);
