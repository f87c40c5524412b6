import assert from "node:assert/strict";
import { join } from "node:path";
import { startStream, type StreamOptions } from "../../pipelines/stream.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { readLabels } from "../../src/data/folder.ts";
import type { AssignmentEvent, ClusterUpdateEvent, RefusalEvent } from "../../src/stream/events.ts";
import { json } from "../../src/transport/bus.ts";
import { MemoryBus } from "../../src/transport/memory_bus.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { smallStreamSettings } from "./_small_stream.ts";

await initBackend("wasm");

const SHAPES = new URL("../../fixtures/shapes", import.meta.url).pathname;
const BAD = new URL("../../fixtures/bad", import.meta.url).pathname;
const NAME = "test";

const { config, rounds } = smallStreamSettings();

async function shapeFiles(): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(SHAPES)) {
    if (entry.name.endsWith(".png")) files.push(entry.name);
  }
  return files.sort();
}

async function copyInto(dir: string, names: string[], from = SHAPES): Promise<void> {
  for (const name of names) await Deno.copyFile(join(from, name), join(dir, name));
}

/** Every event on the bus since it was made, replayed and then live. */
function record(bus: MemoryBus) {
  const s = subjects(NAME);
  const events = {
    assignments: [] as AssignmentEvent[],
    refusals: [] as RefusalEvent[],
    updates: [] as ClusterUpdateEvent[],
    images: 0,
  };
  const subscriptions = [
    bus.subscribe(s.assignments, { deliverAll: true }).subscribe((m) =>
      events.assignments.push(json(m))
    ),
    bus.subscribe(s.errors, { deliverAll: true }).subscribe((m) => events.refusals.push(json(m))),
    bus.subscribe(s.clusters, { deliverAll: true }).subscribe((m) => events.updates.push(json(m))),
    bus.subscribe(s.images, { deliverAll: true }).subscribe(() => events.images++),
  ];
  return { events, stop: () => subscriptions.forEach((sub) => sub.unsubscribe()) };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function options(watch: string, bus: MemoryBus, stateDir: string, labels: Map<string, string>) {
  return {
    watch,
    bus,
    name: NAME,
    config,
    rounds,
    stateDir,
    labels,
    ingest: { stableMs: 50, rescanIntervalMs: 500 },
    batchWaitMs: 50,
  } satisfies StreamOptions;
}

Deno.test("stream - assigns every image once, refuses bad files, publishes cluster updates, and resumes after a restart without loss or duplicates", async () => {
  const root = await Deno.makeTempDir({ prefix: "scanstream_stream_test_" });
  const watch = join(root, "inbox");
  const stateDir = join(root, "state");
  await Deno.mkdir(watch);
  const labels = await readLabels(join(SHAPES, "labels.csv"));
  const files = (await shapeFiles()).slice(0, 40);
  const bus = MemoryBus.forPipeline(NAME);
  const { events, stop } = record(bus);
  try {
    // First run: 20 files at start, 10 more and two bad ones while it runs.
    await copyInto(watch, files.slice(0, 20));
    const first = await startStream(options(watch, bus, stateDir, labels));
    await waitFor("the first images", () => first.trainer.store.n >= 20);
    await copyInto(watch, files.slice(20, 30));
    await copyInto(watch, ["corrupt.png", "text.png"], BAD);
    await waitFor(
      "assignments of the first 30 images and two cluster updates",
      () => events.assignments.length >= 30 && events.updates.length >= 2,
    );
    const firstSummary = await first.stop();
    assert.equal(firstSummary.images, 30);
    assert.equal(firstSummary.ingested, 30);
    assert.equal(firstSummary.refused, 2);
    assert.equal(events.images, 30);
    const lastVersion = events.updates.at(-1)!.version;
    assert.equal(firstSummary.version, lastVersion);

    // The first update came once SCAN could start (24 images) and assigned all seen so far; every
    // assignment names a published version, and the metrics are there since labels were given.
    const update = events.updates[0];
    assert.equal(update.version, 1);
    assert.equal(update.sizes.length, config.clusters);
    assert.equal(update.exemplars.length, config.clusters);
    assert.equal(update.sizes.reduce((a, b) => a + b, 0), update.images);
    assert.ok(update.images >= 24);
    for (const u of events.updates) {
      assert.ok(u.accuracy! >= 0 && u.accuracy! <= 1 && u.nmi !== undefined && u.ari !== undefined);
      assert.ok(u.losses.pretext !== undefined && u.losses.total !== undefined);
    }
    const versions = new Set(events.updates.map((u) => u.version));
    for (const a of events.assignments) {
      assert.ok(
        versions.has(a.modelVersion),
        `assignment of unpublished version ${a.modelVersion}`,
      );
      assert.ok(a.cluster >= 0 && a.cluster < config.clusters);
    }

    // Second run on the same state: 10 new files, a copy of a known image under a new name, the
    // same bad files again and one more.
    await copyInto(watch, files.slice(30, 40));
    await Deno.copyFile(join(watch, files[0]), join(watch, "copy_of_first.png"));
    await copyInto(watch, ["truncated.png"], BAD);
    const second = await startStream(options(watch, bus, stateDir, labels));
    assert.equal(second.trainer.store.n, 30, "the store is resumed");
    assert.equal(second.trainer.version, lastVersion, "the model version is resumed");
    await waitFor(
      "assignments of all 40 images and a new cluster update",
      () =>
        events.assignments.length >= 40 && events.refusals.length >= 3 &&
        events.updates.at(-1)!.version > lastVersion,
    );
    const secondSummary = await second.stop();
    assert.equal(secondSummary.ingested, 10);
    assert.equal(secondSummary.refused, 1);
    assert.equal(secondSummary.images, 40);

    // No image lost, none counted twice: one assignment per image, one refusal per bad file.
    const assigned = events.assignments.map((a) => a.path).sort();
    assert.deepEqual(assigned, files.slice(0, 40));
    assert.equal(new Set(events.assignments.map((a) => a.id)).size, 40);
    assert.deepEqual(
      events.refusals.map((r) => r.path).sort(),
      ["corrupt.png", "text.png", "truncated.png"],
    );
    assert.equal(events.images, 40);
    // Versions go on from where the first run stopped, one update per version.
    const all = events.updates.map((u) => u.version);
    assert.deepEqual(all, Array.from({ length: all.length }, (_, i) => i + 1));
    // Cluster ids keep their meaning across versions and the restart: replaying assignments and
    // moves in version order, every move starts from the cluster the image was last given.
    const current = new Map<string, number>();
    for (const u of [...events.updates].sort((x, y) => x.version - y.version)) {
      for (const a of events.assignments) {
        if (a.modelVersion === u.version - 1) current.set(a.id, a.cluster);
      }
      for (const m of u.moved) {
        assert.equal(m.from, current.get(m.id), `move of ${m.id} in version ${u.version}`);
        current.set(m.id, m.to);
      }
    }
  } finally {
    stop();
    await bus.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("stream - a directory that does not exist fails the stream", async () => {
  const root = await Deno.makeTempDir({ prefix: "scanstream_stream_test_" });
  const bus = MemoryBus.forPipeline(NAME);
  try {
    const labels = new Map<string, string>();
    const stream = await startStream(options(join(root, "missing"), bus, join(root, "s"), labels));
    await assert.rejects(stream.done, /Cannot watch/);
  } finally {
    await bus.close();
    await Deno.remove(root, { recursive: true });
  }
});
