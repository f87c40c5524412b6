/**
 * Fault: `deno task stream` killed with SIGKILL in the middle of a training round, then started
 * again on the same `--state` (and the same NATS server). What must hold afterwards:
 *
 * - the state assigns every image exactly once (one entry per distinct image, the same ids as
 *   the store), and the restarted process ingested only what the killed one had not saved;
 * - the checkpoint loads: the restart goes on from the saved model version and round count;
 * - cluster ids keep their meaning: every image the killed process had assigned (in its saved
 *   state) has the same cluster id at the end. To tell the restart apart from training, which
 *   moves images by design (each round's clusters are aligned to the last, `alignClusters`), the
 *   restart runs rounds of zero steps: it re-embeds, re-classifies and re-aligns as usual, so a
 *   restart that lost the networks, the kept head or the alignment would relabel clusters and
 *   fail this. With one head, the kept head cannot change either;
 * - the bus holds one assignment per image: a re-assignment after the restart of an image whose
 *   event the killed process had published carries the same message id and is dropped.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { subjects } from "../../src/transport/subjects.ts";
import type { BusMessage } from "../../src/transport/bus.ts";
import { natsTest } from "../_nats.ts";
import { shapeImageNames } from "../_shapes.ts";
import { taskPermissions } from "../run/_tiny_run.ts";
import { readJson, waitFor } from "./_task_process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SHAPES = join(ROOT, "fixtures", "shapes");
const NAME = "sigkill";
const CLUSTERS = 6;

interface SavedState {
  version: number;
  models: string | null;
  steps: { rounds: number };
  assignments: [string, number, number][];
}

/** `tasks/stream.ts` in a subprocess with its deno.json permissions. */
async function spawnStream(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(await taskPermissions("stream")), join(ROOT, "tasks", "stream.ts"), ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  return {
    stderr: () => stderr,
    async kill(signal: Deno.Signal): Promise<Deno.CommandStatus> {
      if (!exited) child.kill(signal);
      const result = await status;
      await reading;
      return result;
    },
  };
}

/** The paths of the assignments on the bus: at least `expected`, and any more within 1 s. */
async function assignmentsOnBus(url: string, expected: number): Promise<string[]> {
  const bus = await NatsBus.connect({ servers: url, name: NAME });
  try {
    const got: BusMessage[] = [];
    const sub = bus.subscribe(subjects(NAME).assignments, { deliverAll: true })
      .subscribe((m) => got.push(m));
    const deadline = Date.now() + 10_000;
    while (got.length < expected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    sub.unsubscribe();
    return got.map((m) => JSON.parse(new TextDecoder().decode(m.payload)).path);
  } finally {
    await bus.close();
  }
}

natsTest(
  "stream task - SIGKILL mid-round and a restart on the same state: every image assigned exactly once, the checkpoint loads, cluster ids keep their meaning",
  async ({ server }) => {
    const root = await Deno.makeTempDir({ prefix: "scanstream_sigkill_" });
    const watch = join(root, "inbox");
    const state = join(root, "state");
    await Deno.mkdir(watch);
    const names = shapeImageNames().slice(0, 90);
    const copy = async (from: number, to: number) => {
      for (const name of names.slice(from, to)) {
        await Deno.copyFile(join(SHAPES, name), join(watch, name));
      }
    };
    // The stream's small settings: 16 px, two heads, rounds of a few steps.
    const common = [
      ...["--watch", watch, "--state", state, "--nats", server.url, "--name", NAME],
      ...["--input-size", "16", "--heads", "1", "--clusters", String(CLUSTERS)],
      ...["--warmup-steps", "2", "--min-images", "24", "--selflabel-after", "1000"],
    ];
    const training = [...common, "--pretext-steps", "8", "--scan-steps", "4"];
    const frozen = [...common, "--pretext-steps", "0", "--scan-steps", "0"];
    const statePath = join(state, "state.json");
    const readState = () => readJson<SavedState>(statePath);
    const mtime = async () => (await Deno.stat(statePath).catch(() => null))?.mtime?.getTime();
    let stream = await spawnStream(training);
    try {
      await copy(0, 60);
      await waitFor("the first clustering to be saved", async () => {
        const s = await readState();
        return s !== undefined && s.version >= 1 && s.assignments.length > 0 ? s : undefined;
      }, stream.stderr);
      await copy(60, 75);
      await waitFor("the next images to be saved", async () => {
        const s = await readState();
        return s !== undefined && s.assignments.length >= 75 ? s : undefined;
      }, stream.stderr);
      // The kill: right after a checkpoint the next round starts (rounds of 8 steps take a few
      // seconds); more images land, and as soon as the first of their assignments is on the bus
      // the process dies mid-round, with images stored, assigned and published but not saved.
      const seen = await mtime();
      await waitFor("a checkpoint", async () => {
        const now = await mtime();
        return now !== seen ? now : undefined;
      }, stream.stderr);
      const watcher = await NatsBus.connect({ servers: server.url, name: NAME });
      let live = 0;
      const following = watcher.subscribe(subjects(NAME).assignments, { deliverAll: true })
        .subscribe(() => live++);
      try {
        await copy(75, 90);
        await waitFor(
          "an assignment of the last images",
          () => Promise.resolve(live > 75 ? live : undefined),
          stream.stderr,
        );
      } finally {
        following.unsubscribe();
        await watcher.close();
      }
      const killed = await stream.kill("SIGKILL");
      assert.equal(killed.signal, "SIGKILL");
      const before = (await readState())!;
      const savedImages = (await readJson<{ n: number }>(join(state, "store", "index.json")))?.n ??
        0;
      assert.ok(before.version >= 1);

      const onBusAtKill = await assignmentsOnBus(server.url, 0);
      stream = await spawnStream(frozen);
      const after = await waitFor("every image assigned in the saved state", async () => {
        const s = await readState();
        return s !== undefined && s.assignments.length >= names.length ? s : undefined;
      }, stream.stderr);
      const stopped = await stream.kill("SIGTERM");
      const log = stream.stderr();
      assert.equal(stopped.code, 0, log.slice(-3000));
      const final = (await readState())!;
      assert.ok(final.version >= after.version);

      // Exactly once: one entry per distinct image, the same ids as the store.
      const ids = final.assignments.map(([id]) => id);
      assert.equal(ids.length, names.length);
      assert.equal(new Set(ids).size, names.length);
      const store = (await readJson<{ ids: string[]; paths: string[] }>(
        join(state, "store", "index.json"),
      ))!;
      assert.deepEqual([...ids].sort(), [...store.ids].sort());
      assert.deepEqual([...store.paths].sort(), names);
      // The checkpoint loaded: the store, the version and the rounds went on from it.
      const ingested = Number(/this run ingested (\d+)/.exec(log)?.[1]);
      assert.equal(ingested, names.length - savedImages, "only unsaved images ingested again");
      assert.ok(final.version >= before.version && final.steps.rounds >= before.steps.rounds);
      assert.ok(final.models !== null);
      await Deno.stat(join(state, final.models));

      // Cluster ids keep their meaning for the images assigned before the kill.
      const beforeOf = new Map(before.assignments.map(([id, cluster]) => [id, cluster]));
      const shared = final.assignments.filter(([id]) => beforeOf.has(id));
      const previous = Int32Array.from(shared, ([id]) => beforeOf.get(id)!);
      const next = Int32Array.from(shared, ([, cluster]) => cluster);
      const table = Array.from({ length: CLUSTERS }, () => new Array(CLUSTERS).fill(0));
      previous.forEach((p, i) => table[p][next[i]]++);
      const kept = shared.filter(([id, cluster]) => beforeOf.get(id) === cluster).length;
      assert.equal(
        kept,
        shared.length,
        `cluster id before the kill (rows) by cluster id at the end: ${JSON.stringify(table)}`,
      );

      // The bus: one assignment per image across the kill, those the killed process published
      // but did not save included.
      const paths = await assignmentsOnBus(server.url, names.length);
      assert.deepEqual(paths.sort(), names, "each image's assignment on the bus once");
      assert.ok(
        onBusAtKill.length > before.assignments.length,
        `the kill came after a checkpoint (${before.assignments.length} assignments saved, ` +
          `${onBusAtKill.length} published): the test did not kill mid-round`,
      );
      console.log(
        `sigkill: killed at version ${before.version} with ${before.assignments.length} ` +
          `assigned in the state, ${onBusAtKill.length} on the bus and ${savedImages} images ` +
          `saved; the restart ingested ${ingested}; ${kept}/${shared.length} kept their ` +
          `cluster id; final version ${final.version}`,
      );
    } finally {
      await stream.kill("SIGKILL");
      await Deno.remove(root, { recursive: true });
    }
  },
);
