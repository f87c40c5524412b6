/**
 * Forged messages on a real nats-server (issue 13, findings 3 to 5): each is refused with one
 * `errors` event and a log line, and the stage goes on with the real messages after it.
 */
import assert from "node:assert/strict";
import { runMineWorker } from "../../pipelines/workers/mine_worker.ts";
import { shareConfig, type WorkerContext } from "../../pipelines/workers/worker_context.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { BoardState } from "../../src/board/board_state.ts";
import { feedBoard } from "../../src/board/feed.ts";
import { makeConfig } from "../../src/config.ts";
import { refusalSchema } from "../../src/protocol/events.ts";
import { parseJson } from "../../src/protocol/parse.ts";
import { assignmentEvent, encodeEvent } from "../../src/stream/events.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { PipelineState } from "../../src/transport/pipeline_state.ts";
import { encodeEmbeddingMessage } from "../../src/transport/stage_messages.ts";
import { streamName, subjects } from "../../src/transport/subjects.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { Random } from "../../src/util/random.ts";
import { natsTest } from "../_nats.ts";
import { announce } from "./_announce.ts";

await initBackend("wasm");

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

natsTest(
  "mine worker - a bad scan-id, a forged checkpoint, a short or NaN feature are refused, real features still mined",
  async ({ server }) => {
    const name = "hostile";
    const bus = await NatsBus.connect({ servers: server.url, name });
    const controller = new AbortController();
    try {
      const state = await PipelineState.open(bus.connection, name);
      await shareConfig(state, makeConfig("fixtures"));
      await announce(state, 0);
      const s = subjects(name);
      const rng = new Random(3);
      const feature = (id: string, checkpoint = 0, width = 128) =>
        encodeEmbeddingMessage({
          id,
          path: `${id}.png`,
          checkpoint,
          worker: "test",
          backbone: new Float32Array(4),
          projected: Float32Array.from({ length: width }, () => rng.normal()),
        });
      const publish = ({ payload, headers }: ReturnType<typeof feature>) =>
        bus.publish(s.embeddings, payload, { headers });
      const forged = [
        feature("bad id"),
        feature("huge", Number.MAX_SAFE_INTEGER),
        feature("future", 7),
        feature("short", 0, 5),
        (() => {
          const f = feature("nan");
          new Float32Array(f.payload.buffer, f.payload.byteOffset, 132)[10] = NaN;
          return f;
        })(),
      ];
      for (const f of forged) await publish(f);
      for (let i = 0; i < 6; i++) await publish(feature(`real${i}`));

      const errors: string[] = [];
      const watching = bus.subscribe(s.errors, { deliverAll: true }).subscribe((msg) =>
        errors.push(parseJson(refusalSchema(), msg.payload, "refusal").reason)
      );
      const logs: string[] = [];
      const ctx: WorkerContext = {
        bus,
        state,
        name,
        id: "mine-hostile",
        signal: controller.signal,
        log: (line) => logs.push(line),
      };
      const running = runMineWorker(ctx, { batchSize: 4, batchWaitMs: 20 });
      await until(async () => (await state.neighbours.get("real5")) !== null, "real5's list");
      await until(() => errors.length >= forged.length, "one errors event per forged message");
      controller.abort();
      const summary = await running;
      watching.unsubscribe();
      assert.equal(summary.refused, forged.length);
      assert.equal(summary.images, 6);
      assert.equal(summary.checkpoint, 0);
      assert.equal(errors.length, forged.length, errors.join("\n"));
      assert.match(errors.join("\n"), /scan-id must be an image id/);
      assert.match(errors.join("\n"), /never announced|checkpoint number/);
      assert.match(errors.join("\n"), /D = 128/);
      assert.match(errors.join("\n"), /must be finite/);
      assert.ok(logs.every((line) => !line.includes("\n")));
    } finally {
      controller.abort();
      await bus.close();
    }
  },
);

natsTest(
  "board - an assignment with a cluster id past the pipeline's count is refused, not allocated",
  async ({ server }) => {
    const name = "hostileboard";
    const bus = await NatsBus.connect({ servers: server.url, name });
    try {
      const s = subjects(name);
      const id = "a".repeat(64);
      const forged = { id, path: "x.png", cluster: 100_000, confidence: 1, modelVersion: 1 };
      await bus.publish(s.assignments, encodeEvent({ ...forged, at: new Date().toISOString() }));
      await bus.publish(
        s.assignments,
        encodeEvent(assignmentEvent({ ...forged, id: "b".repeat(64), cluster: 3 })),
      );
      const state = new BoardState({ name });
      const logs: string[] = [];
      const feed = feedBoard(bus, name, state, { clusters: 10, log: (l) => logs.push(l) });
      await until(() => state.snapshot().assigned === 1, "the real assignment");
      await new Promise((resolve) => setTimeout(resolve, 200));
      feed.unsubscribe();
      assert.equal(state.snapshot().assigned, 1);
      assert.ok(state.snapshot().clusters.length <= 10, `${state.snapshot().clusters.length}`);
      assert.match(logs.join("\n"), /cluster must be an integer in \[0, 10\)/);
    } finally {
      await bus.close();
    }
  },
);

natsTest(
  "models store - a crafted prefix or object name never leaves the download folder",
  async ({ server }) => {
    const name = "hostilemodels";
    const bus = await NatsBus.connect({ servers: server.url, name });
    const dir = await Deno.makeTempDir();
    try {
      const state = await PipelineState.open(bus.connection, name);
      await state.models.putBlob({ name: "3/model.json" }, new TextEncoder().encode("{}"));
      await state.models.putBlob({ name: "3/../../escape" }, new TextEncoder().encode("x"));
      await assert.rejects(() => state.downloadCheckpoint("../3", `${dir}/in`), /prefix must be/);
      await state.downloadCheckpoint("3", `${dir}/in`);
      const written = [...Deno.readDirSync(`${dir}/in`)].map((e) => e.name);
      assert.deepEqual(written, ["model.json"]);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["in"]);
    } finally {
      await bus.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

natsTest(
  "mine worker - a replay past the stream's retention says the rebuild is incomplete",
  async ({ server }) => {
    const name = "retention";
    const bus = await NatsBus.connect({ servers: server.url, name });
    const controller = new AbortController();
    try {
      const state = await PipelineState.open(bus.connection, name);
      await shareConfig(state, makeConfig("fixtures"));
      await announce(state, 0);
      const s = subjects(name);
      const rng = new Random(4);
      for (let i = 0; i < 3; i++) {
        const { payload, headers } = encodeEmbeddingMessage({
          id: `img${i}`,
          path: `${i}.png`,
          checkpoint: 0,
          worker: "test",
          backbone: new Float32Array(4),
          projected: Float32Array.from({ length: 128 }, () => rng.normal()),
        });
        await bus.publish(s.embeddings, payload, { headers });
      }
      // What retention does to the oldest message.
      const jsm = await jetstreamManager(bus.connection);
      await jsm.streams.deleteMessage(streamName(name), 1);
      const logs: string[] = [];
      const ctx: WorkerContext = {
        bus,
        state,
        name,
        id: "mine-retention",
        signal: controller.signal,
        log: (line) => logs.push(line),
      };
      const running = runMineWorker(ctx, { batchSize: 4, batchWaitMs: 20 });
      await until(async () => (await state.neighbours.get("img2")) !== null, "img2's list");
      controller.abort();
      assert.equal((await running).images, 2);
      assert.match(logs.join("\n"), /replay starts at message 2: 1 older messages were removed/);
      const errors: string[] = [];
      const sub = bus.subscribe(s.errors, { deliverAll: true }).subscribe((msg) =>
        errors.push(parseJson(refusalSchema(), msg.payload, "refusal").reason)
      );
      await until(() => errors.length >= 1, "the errors event");
      sub.unsubscribe();
      assert.match(errors[0], /rebuilds from the subjects is incomplete/);
    } finally {
      controller.abort();
      await bus.close();
    }
  },
);
