/**
 * The cluster worker is exactly once on the bus across a restart later than the duplicate window
 * (issue 13, finding 10), as the stream is (stream_restart_once_test.ts): a worker that crashed
 * before its first checkpoint assigns every image again on restart and publishes the same
 * assignments and cluster updates with the same message ids; JetStream alone (window 500 ms
 * here) would store them twice, the publish ledger skips what is already stored.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { runClusterWorker } from "../../pipelines/workers/cluster_worker.ts";
import type { WorkerContext } from "../../pipelines/workers/worker_context.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { summarySchema } from "../../src/protocol/kv.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { PipelineState } from "../../src/transport/pipeline_state.ts";
import { encodeImageMessage } from "../../src/transport/stage_messages.ts";
import { MSG_ID_HEADER } from "../../src/transport/stored_ids.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { natsTest } from "../_nats.ts";
import { smallStreamSettings } from "./_small_stream.ts";

await initBackend("wasm");

const NAME = "clusteronce";
const IMAGES = 16;
const { config, rounds } = smallStreamSettings(IMAGES);

/** Seeded pixels: the test is about what a restart republishes, not about what is clustered. */
function pixels(seed: number): Uint8Array {
  const out = new Uint8Array(config.inputSize * config.inputSize * 3);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < out.length; i++) {
    x = (x * 1664525 + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** How often each message id is stored on `subject`. */
async function storedCounts(bus: NatsBus, subject: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const consumer = await jetstream(bus.connection).consumers.get(bus.stream, {
    deliver_policy: DeliverPolicy.All,
    filter_subjects: subject,
    headers_only: true,
  });
  try {
    const pending = (await consumer.info()).num_pending;
    for (let i = 0; i < pending; i++) {
      const msg = await consumer.next({ expires: 5000 });
      assert.ok(msg !== null, `message ${i + 1} of ${pending} on ${subject} did not come`);
      const id = msg.headers?.get(MSG_ID_HEADER) ?? "(no id)";
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  } finally {
    await consumer.delete().catch(() => {});
  }
  return counts;
}

natsTest(
  "cluster worker on NATS - a restart after longer than the duplicate window stores each assignment and cluster update once",
  async ({ server }) => {
    const root = await Deno.makeTempDir({ prefix: "scanstream_cluster_once_" });
    const bus = await NatsBus.connect({
      servers: server.url,
      name: NAME,
      duplicateWindowMs: 500,
      reconnectTimeWaitMs: 100,
    });
    const s = subjects(NAME);
    const logs: string[] = [];
    try {
      const state = await PipelineState.open(bus.connection, NAME);
      for (let i = 0; i < IMAGES; i++) {
        const id = `img${i}`;
        const { payload, headers } = encodeImageMessage({
          id,
          path: `${id}.png`,
          pixels: pixels(i + 1),
          size: config.inputSize,
        });
        await bus.publish(s.images, payload, { headers, msgId: `image:${id}` });
      }
      // One run until its first clustering is published, then a clean stop.
      const run = async (stateDir: string) => {
        const stop = new AbortController();
        const ctx: WorkerContext = {
          bus,
          state,
          name: NAME,
          id: "cluster-1",
          signal: stop.signal,
          log: (line) => logs.push(line),
        };
        const startedAt = new Date().toISOString();
        const worker = runClusterWorker(ctx, {
          config,
          rounds,
          stateDir,
          threads: 1,
          batchWaitMs: 50,
          // No embed pool here: every image is embedded by the worker itself, at once.
          maxWaitMs: 100,
        });
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline) {
          const summary = await PipelineState.read(state.state, "summary", summarySchema())
            .catch(() => undefined);
          if (summary !== undefined && summary.at > startedAt && summary.modelVersion >= 1) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        stop.abort();
        return await worker;
      };
      const first = await run(join(root, "first"));
      assert.equal(first.images, IMAGES, logs.join("\n"));
      assert.equal(first.assigned, IMAGES, logs.join("\n"));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      // A crash before the first checkpoint leaves no state: the restart starts from nothing.
      const second = await run(join(root, "crashed"));
      assert.equal(second.images, IMAGES, logs.join("\n"));
      assert.ok(second.version >= 1, `the restart clustered again: version ${second.version}`);

      const assignments = await storedCounts(bus, s.assignments);
      assert.equal(assignments.size, IMAGES, [...assignments.keys()].join(", "));
      const twice = [...assignments].filter(([, n]) => n > 1).map(([id]) => id);
      assert.deepEqual(twice, [], "no assignment stored twice");
      const updates = await storedCounts(bus, s.clusters);
      assert.ok(updates.size >= 1, "at least one cluster update");
      const updatesTwice = [...updates].filter(([, n]) => n > 1).map(([id]) => id);
      assert.deepEqual(updatesTwice, [], "no cluster update stored twice");
    } finally {
      await bus.close();
      await Deno.remove(root, { recursive: true });
    }
  },
);
