/**
 * The mine worker in process against a real nats-server: features published before it starts
 * (replayed) and after (live), over two checkpoints; what it leaves on `scan.<p>.neighbours` and
 * in the neighbours bucket against a full re-mine of the same features.
 */
import assert from "node:assert/strict";
import { runMineWorker } from "../../pipelines/workers/mine_worker.ts";
import { shareConfig, type WorkerContext } from "../../pipelines/workers/worker_context.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { makeConfig } from "../../src/config.ts";
import { mineNeighbours } from "../../src/mining/knn.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { PipelineState, type StoredNeighbours } from "../../src/transport/pipeline_state.ts";
import {
  decodeNeighbourListMessage,
  encodeEmbeddingMessage,
  type NeighbourListMessage,
} from "../../src/transport/stage_messages.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { Random } from "../../src/util/random.ts";
import { natsTest } from "../_nats.ts";
import { storedNeighboursSchema } from "../../src/protocol/kv.ts";
import { announce } from "./_announce.ts";

await initBackend("wasm");

const NAME = "minetest";
const DIM = 128;

interface Feature {
  id: string;
  checkpoint: number;
  projected: Float32Array;
}

/** Lists of a full re-mine of `items`, by id. */
function remined(items: readonly Feature[], k: number) {
  const flat = new Float32Array(items.length * DIM);
  items.forEach((item, i) => flat.set(item.projected, i * DIM));
  const length = Math.min(k, items.length);
  const mined = mineNeighbours(flat, items.length, DIM, length);
  return new Map(
    items.map((item, i) => [
      item.id,
      Array.from(mined.indices.subarray(i * length, (i + 1) * length), (j) => items[j].id),
    ]),
  );
}

natsTest(
  "mine worker - replayed and live features of two checkpoints give the lists of a full re-mine in KV and on the subject",
  async ({ server }) => {
    const bus = await NatsBus.connect({ servers: server.url, name: NAME });
    const controller = new AbortController();
    try {
      const state = await PipelineState.open(bus.connection, NAME);
      const config = makeConfig("fixtures");
      const k = config.neighbours;
      await shareConfig(state, config);
      // Features are believed up to the checkpoint the state bucket announces.
      await announce(state, 1);
      const s = subjects(NAME);
      const rng = new Random(5);
      const make = (prefix: string, n: number, checkpoint: number) =>
        Array.from({ length: n }, (_, i): Feature => ({
          id: `${prefix}${i}`,
          checkpoint,
          projected: Float32Array.from({ length: DIM }, () => rng.normal()),
        }));
      const first = make("a", 20, 0);
      // Checkpoint 1 embeds some images again (a0..a5) and new ones.
      const second = [
        ...first.slice(0, 6).map((f) => ({
          ...f,
          checkpoint: 1,
          projected: make("x", 1, 1)[0].projected,
        })),
        ...make("b", 8, 1),
      ];
      const publish = async (f: Feature) => {
        const { payload, headers } = encodeEmbeddingMessage({
          id: f.id,
          path: `${f.id}.png`,
          checkpoint: f.checkpoint,
          worker: "test",
          backbone: new Float32Array(4),
          projected: f.projected,
        });
        await bus.publish(s.embeddings, payload, { headers });
      };
      for (const f of first.slice(0, 12)) await publish(f);

      const logs: string[] = [];
      const ctx: WorkerContext = {
        bus,
        state,
        name: NAME,
        id: "mine-test",
        signal: controller.signal,
        log: (line) => logs.push(line),
      };
      const running = runMineWorker(ctx, { batchSize: 5, batchWaitMs: 20 });
      const messages: NeighbourListMessage[] = [];
      const watching = bus.subscribe(s.neighbours, { deliverAll: true }).subscribe((msg) =>
        messages.push(decodeNeighbourListMessage(msg))
      );
      for (const f of first.slice(12)) await publish(f);
      for (const f of second.slice(0, 10)) await publish(f);
      await publish(first[19]); // late: its checkpoint is older than the newest seen
      for (const f of second.slice(10)) await publish(f);
      await publish(second[3]); // a redelivery

      const total = first.length + second.length + 2;
      const deadline = Date.now() + 20_000;
      let beat;
      while (Date.now() < deadline) {
        beat = (await state.heartbeats()).find((h) => h.id === "mine-test");
        if (beat !== undefined && beat.processed >= total) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(beat?.stage, "mine");
      assert.equal(beat?.processed, total);
      assert.equal(beat?.checkpoint, 1);

      const expected = new Map([...remined(first, k), ...remined(second, k)]);
      const stored = new Map<string, StoredNeighbours>();
      for await (const id of await state.neighbours.keys()) {
        stored.set(id, (await PipelineState.read(state.neighbours, id, storedNeighboursSchema()))!);
      }
      assert.deepEqual([...stored.keys()].sort(), [...expected.keys()].sort());
      const newer = new Set(second.map((f) => f.id));
      for (const [id, list] of stored) {
        assert.equal(list.checkpoint, newer.has(id) ? 1 : 0, id);
        assert.deepEqual(list.ids, expected.get(id), id);
        assert.equal(list.ids.length, k);
        assert.equal(list.similarities.length, k);
        assert.ok(Math.abs(list.similarities[0] - 1) < 1e-5, "itself first, similarity 1");
      }

      controller.abort();
      const summary = await running;
      assert.deepEqual({ ...summary, lists: undefined }, {
        processed: total,
        images: second.length,
        lists: undefined,
        ignored: 1,
        refused: 0,
        checkpoint: 1,
      });

      // The subject carries the same lists: each image's last message is what the bucket holds.
      while (Date.now() < deadline && messages.length < summary.lists) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      watching.unsubscribe();
      assert.equal(messages.length, summary.lists);
      const last = new Map(messages.map((m) => [m.id, m]));
      for (const [id, list] of stored) {
        assert.deepEqual(last.get(id)?.ids, list.ids, id);
        assert.equal(last.get(id)?.checkpoint, list.checkpoint);
      }
      assert.equal(
        messages.filter((m) => m.change === "added").length,
        first.length + second.length,
      );
      assert.ok(logs.some((l) => /mining checkpoint 1: a fresh index/.test(l)), logs.join("\n"));
      assert.equal((await state.heartbeats()).length, 0, "a clean stop removes the heartbeat");
    } finally {
      controller.abort();
      await bus.close();
    }
  },
);
