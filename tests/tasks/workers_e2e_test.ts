/**
 * The distributed pipeline end to end, every stage in its own process against a real
 * nats-server: `deno task worker` for ingest, two embed workers, the mine stage and the cluster
 * stage over the shapes fixtures (300 images), one embed worker killed with SIGKILL half way. Then
 * the neighbour lists the mine stage left in KV, and a late
 * `deno task events --subject all`, `deno task classify --nats` and `deno task status` against
 * what they left in NATS. Small training settings: the point is the plumbing, not accuracy.
 */
import assert from "node:assert/strict";
import { storedAssignmentSchema, storedNeighboursSchema } from "../../src/protocol/kv.ts";
import { join } from "node:path";
import { makeConfig } from "../../src/config.ts";
import { assignmentEvent, decodeEvent } from "../../src/stream/events.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import {
  PipelineState,
  type StoredAssignment,
  type StoredNeighbours,
} from "../../src/transport/pipeline_state.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { natsTest } from "../_nats.ts";
import { shapeImageNames } from "../_shapes.ts";
import { spawnTask, type TaskProcess } from "./_task_process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SHAPES = join(ROOT, "fixtures", "shapes");
const NAME = "scaleout";
/**
 * Give up after this long (`SCANSTREAM_WORKERS_E2E_TIMEOUT_S`). Quiet, it takes about 15 s; the
 * bound is for a machine that something else loads, as CI's can be.
 */
const TIMEOUT_MS = 1000 * Number(Deno.env.get("SCANSTREAM_WORKERS_E2E_TIMEOUT_S") ?? "600");

natsTest(
  "worker task - ingest, two embed workers, mine and cluster stages as processes assign every image once and list its neighbours, one embed worker killed changes nothing; late events replay, classify and status answer",
  async ({ server }) => {
    const root = await Deno.makeTempDir({ prefix: "scanstream_workers_" });
    const watch = join(root, "inbox");
    await Deno.mkdir(watch);
    const names = shapeImageNames();
    const common = ["--nats", server.url, "--name", NAME];
    const processes: TaskProcess[] = [];
    const labels: string[] = [];
    const spawn = async (task: string, args: string[]) => {
      const p = await spawnTask(task, args);
      processes.push(p);
      labels.push(
        args.slice(0, 2).join(" ") +
          (args.includes("--id") ? ` ${args[args.indexOf("--id") + 1]}` : ""),
      );
      return p;
    };
    const bus = await NatsBus.connect({ servers: server.url, name: NAME });
    const started = Date.now();
    const waitFor = async (what: string, done: () => boolean | Promise<boolean>) => {
      while (!(await done())) {
        if (Date.now() - started > TIMEOUT_MS) {
          const logs = processes.map((p, i) => `--- ${labels[i]}:\n${p.stderr().slice(-2000)}`);
          throw new Error(
            `Timed out after ${(Date.now() - started) / 1000} s waiting for ${what}. The ` +
              `processes' stderr:\n${logs.join("\n")}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    try {
      const state = await PipelineState.open(bus.connection, NAME);
      const s = subjects(NAME);
      const byWorker = new Map<string, number>();
      /** Features in stream order (what the mine stage reads): [image id, checkpoint]. */
      const featureOrder: [string, number][] = [];
      const embeddings = bus.subscribe(s.embeddings, { deliverAll: true }).subscribe((msg) => {
        const worker = msg.headers["scan-worker"];
        byWorker.set(worker, (byWorker.get(worker) ?? 0) + 1);
        featureOrder.push([msg.headers["scan-id"], Number(msg.headers["scan-checkpoint"])]);
      });
      const assignmentIds: string[] = [];
      const assignments = bus.subscribe(s.assignments, { deliverAll: true }).subscribe((msg) => {
        assignmentIds.push(decodeEvent(msg.payload, assignmentEvent).id);
      });

      const cluster = await spawn("worker", [
        "--stage",
        "cluster",
        ...common,
        "--state",
        join(root, "state"),
        "--input-size",
        "16",
        "--warmup-steps",
        "10",
        "--pretext-steps",
        "4",
        "--scan-steps",
        "10",
        "--labels",
        join(SHAPES, "labels.csv"),
      ]);
      const embedArgs = (id: string) => [
        "--stage",
        "embed",
        ...common,
        "--id",
        id,
        "--batch-size",
        "8",
        "--ack-wait",
        "3",
      ];
      await spawn("worker", ["--stage", "mine", ...common, "--id", "mine"]);
      const embedA = await spawn("worker", embedArgs("embed-a"));
      await spawn("worker", embedArgs("embed-b"));
      const alive = async () => new Set((await state.heartbeats()).map((h) => h.id));
      await waitFor("both embed workers to serve", async () => {
        const beats = await state.heartbeats();
        return ["embed-a", "embed-b"].every((id) =>
          beats.some((b) => b.id === id && b.checkpoint !== undefined)
        );
      });
      await spawn("worker", ["--stage", "ingest", ...common, "--id", "ingest", "--watch", watch]);

      const half = names.length / 2;
      for (const name of names.slice(0, half)) {
        await Deno.copyFile(join(SHAPES, name), join(watch, name));
      }
      await waitFor(
        "both embed workers to publish features",
        () => (byWorker.get("embed-a") ?? 0) > 0 && (byWorker.get("embed-b") ?? 0) > 0,
      );
      const killedAfter = byWorker.get("embed-a")!;
      assert.notEqual(await embedA.stop("SIGKILL"), 0);
      for (const name of names.slice(half)) {
        await Deno.copyFile(join(SHAPES, name), join(watch, name));
      }

      const kvAssignments = async () => {
        const out = new Map<string, StoredAssignment>();
        for await (const id of await state.assignments.keys()) {
          const a = await PipelineState.read(state.assignments, id, storedAssignmentSchema());
          if (a !== undefined) out.set(id, a);
        }
        return out;
      };
      await waitFor(
        "an assignment per image in KV and as an event",
        async () =>
          (await kvAssignments()).size >= names.length && assignmentIds.length >= names.length,
      );
      const kv = await kvAssignments();
      assert.deepEqual([...kv.values()].map((a) => a.path).sort(), names, "one KV entry per image");
      assert.equal(assignmentIds.length, names.length, "one assignment event per image");
      assert.deepEqual(new Set(assignmentIds), new Set(kv.keys()));
      assert.ok((byWorker.get("embed-b") ?? 0) > 0 && killedAfter > 0, "both embed workers worked");

      // Nothing the killed worker held stays behind: the survivor got it once the ack wait ran out.
      await waitFor("the embed consumer to drain", async () => {
        const status = await spawnJson(common);
        const embed = status.consumers.find((c: { name: string }) => c.name === "embed");
        return embed !== undefined && embed.pending === 0 && embed.ackPending === 0;
      });

      // The mine stage's lists: for each image, one of the newest checkpoint among its features
      // that the stage took (the documented rule, replayed over the same stream order: a newer
      // checkpoint starts a fresh index, older features after it are ignored), itself first,
      // min(K, images of that checkpoint) long, all of that checkpoint.
      const k = makeConfig("fixtures").neighbours;
      let stale = 0;
      let fullLists = 0;
      const mineWait = Date.now();
      const neighboursMismatch = async (): Promise<string | undefined> => {
        const beat = (await state.heartbeats()).find((h) => h.id === "mine");
        if (beat?.processed !== featureOrder.length) {
          return `mine processed ${beat?.processed} of ${featureOrder.length} features`;
        }
        let current = -1;
        const members = new Map<number, Set<string>>();
        const latest = new Map<string, number>();
        for (const [id, checkpoint] of featureOrder) {
          if (checkpoint < current) continue;
          if (checkpoint > current) members.set(current = checkpoint, new Set());
          members.get(checkpoint)!.add(id);
          latest.set(id, checkpoint);
        }
        stale = kv.size - latest.size;
        const stored = new Map<string, StoredNeighbours>();
        for await (const id of await state.neighbours.keys()) {
          stored.set(
            id,
            (await PipelineState.read(state.neighbours, id, storedNeighboursSchema()))!,
          );
        }
        if (stored.size !== latest.size) return `${stored.size} lists for ${latest.size} images`;
        fullLists = [...stored.values()].filter((list) => list.ids.length === k).length;
        for (const [id, checkpoint] of latest) {
          const list = stored.get(id);
          const group = members.get(checkpoint)!;
          if (
            !kv.has(id) || list?.checkpoint !== checkpoint || list.ids[0] !== id ||
            list.ids.length !== Math.min(k, group.size) ||
            list.similarities.length !== list.ids.length || !list.ids.every((n) => group.has(n))
          ) {
            return `list of ${id}: ${JSON.stringify(list)}, expected checkpoint ${checkpoint} ` +
              `of ${group.size} images`;
          }
        }
        return undefined;
      };
      let mismatch: string | undefined;
      await waitFor(
        "the mine stage's neighbour lists",
        async () => (mismatch = await neighboursMismatch()) === undefined,
      ).catch((error) => {
        throw new Error(`${mismatch}: ${error.message}`);
      });
      const mineWaitMs = Date.now() - mineWait;
      // Images whose features all came after a newer checkpoint's have no list, by design.
      assert.ok(stale <= kv.size / 10, `${stale} of ${kv.size} images without a list`);
      assert.ok(fullLists > 0, "some lists reach K");

      // A late subscriber replays every assignment it missed.
      const events = await spawn("events", [...common, "--subject", "all"]);
      const lines = () => events.lines.filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
      await waitFor(
        "the late events task to replay every assignment",
        () => lines().filter((l) => l.type === "assignment").length >= names.length,
      );
      assert.deepEqual(
        lines().filter((l) => l.type === "assignment").map((l) => l.path).sort(),
        names,
      );
      assert.ok(lines().some((l) => l.type === "cluster-update"));
      assert.equal(await events.stop(), 0, events.stderr());

      // Classify while the trainer goes on training; a file too large for a request is refused.
      const big = join(root, "big.png");
      await Deno.writeFile(big, new Uint8Array(1_100_000));
      const classify = await spawnTask("classify", [
        ...common,
        join(SHAPES, names[0]),
        join(SHAPES, "labels.csv"),
        big,
      ]);
      assert.equal((await classify.status).code, 0, classify.stderr());
      await classify.stop();
      const [good, notImage, tooBig] = classify.lines.filter((l) => l !== "").map((l) =>
        JSON.parse(l)
      );
      assert.equal(good.path, join(SHAPES, names[0]));
      assert.ok(
        Number.isInteger(good.cluster) && good.cluster >= 0 && good.cluster < 6,
        JSON.stringify(good),
      );
      assert.ok(good.confidence > 0 && good.confidence <= 1);
      assert.ok(good.modelVersion >= 1, JSON.stringify(good));
      assert.match(notImage.error, /Cannot classify/);
      assert.match(tooBig.error, /at most 1000000 bytes/);

      const status = await spawnJson(common);
      assert.equal(status.summary.images, names.length);
      assert.equal(status.summary.sizes.reduce((a: number, b: number) => a + b, 0), names.length);
      assert.ok(status.model.modelVersion >= 1);
      assert.ok((await alive()).has("embed-b"));
      const mine = status.workers.find((w: { id: string }) => w.id === "mine");
      assert.equal(mine?.stage, "mine", "status lists the mine worker");
      assert.equal(mine.processed, featureOrder.length);
      assert.ok(status.messages[s.neighbours] >= names.length, "lists kept on the subject");

      embeddings.unsubscribe();
      assignments.unsubscribe();
      assert.equal(await cluster.stop(), 0, cluster.stderr().slice(-3000));
      const stopped = cluster.stderr().match(/stopped (\{.*\})/);
      assert.ok(stopped, cluster.stderr().slice(-2000));
      const summary = JSON.parse(stopped[1]);
      assert.equal(summary.assigned, names.length, "the cluster stage assigned each image once");
      assert.equal(summary.images, names.length);
      console.log(
        `workers e2e: ${names.length} images in ${((Date.now() - started) / 1000).toFixed(0)} s; ` +
          `features by worker ${JSON.stringify(Object.fromEntries(byWorker))}, embed-a killed ` +
          `after ${killedAfter}, ${
            [...byWorker.values()].reduce((a, b) => a + b, 0) - names.length
          } embedded twice (held by the killed worker, redelivered); ${summary.pooled} stored ` +
          `with pooled features; mine: ${kv.size - stale} lists in KV (${fullLists} of length ` +
          `K = ${k}) over ${new Set(featureOrder.map(([, c]) => c)).size} checkpoints, ${stale} ` +
          `images only with ignored older-checkpoint features, lists complete ${mineWaitMs} ms ` +
          "after the embed consumer drained",
      );
    } finally {
      for (const p of processes) await p.stop();
      await bus.close();
      await Deno.remove(root, { recursive: true });
    }
  },
  // Its own waits run to TIMEOUT_MS from the start; the harness only catches a hang past them.
  { limitMs: TIMEOUT_MS + 120_000 },
);

/** `deno task status --json`, parsed. */
async function spawnJson(common: string[]) {
  const status = await spawnTask("status", [...common, "--json"]);
  const code = (await status.status).code;
  await status.stop();
  assert.equal(code, 0, status.stderr());
  return JSON.parse(status.lines.join("\n"));
}
