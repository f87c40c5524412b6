/**
 * Forged messages to a running cluster worker on a real nats-server (issue 13, finding 3): an
 * image of another size, ids that are not image ids, features of the wrong width or not finite.
 * Each is refused with one `errors` event before anything is stored; the worker goes on and
 * stores every real image.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runClusterWorker } from "../../pipelines/workers/cluster_worker.ts";
import type { WorkerContext } from "../../pipelines/workers/worker_context.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { makeConfig } from "../../src/config.ts";
import { refusalSchema } from "../../src/protocol/events.ts";
import { parseJson } from "../../src/protocol/parse.ts";
import { makeRoundConfig } from "../../src/stream/round_config.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { PipelineState } from "../../src/transport/pipeline_state.ts";
import { encodeEmbeddingMessage, encodeImageMessage } from "../../src/transport/stage_messages.ts";
import { streamName, subjects } from "../../src/transport/subjects.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { natsTest } from "../_nats.ts";
import { publishShapeImages } from "./_shape_messages.ts";

await initBackend("wasm");

const NAME = "clusterhostile";
const ID = (n: number) => n.toString(16).padStart(64, "0");

natsTest(
  "cluster worker on NATS - forged images and features are refused before anything is stored, real images still are",
  async ({ server }) => {
    const root = await Deno.makeTempDir({ prefix: "scanstream_cluster_hostile_" });
    const bus = await NatsBus.connect({ servers: server.url, name: NAME });
    const s = subjects(NAME);
    const config = makeConfig("fixtures", { inputSize: 16, heads: 1, neighbours: 5 });
    // No round: the point is what gets stored.
    const rounds = makeRoundConfig(config, { minImages: 1000 });
    const errors: string[] = [];
    const watching = bus.subscribe(s.errors, { deliverAll: true }).subscribe((msg) =>
      errors.push(parseJson(refusalSchema(), msg.payload, "refusal").reason)
    );
    const logs: string[] = [];
    const stop = new AbortController();
    try {
      const stride = config.inputSize * config.inputSize * 3;
      const image = (id: string, pixels: Uint8Array, size = config.inputSize) =>
        encodeImageMessage({ id, path: `${id.slice(0, 8)}.png`, pixels, size });
      const feature = (id: string, projected: Float32Array) =>
        encodeEmbeddingMessage({
          id,
          path: `${id.slice(0, 8)}.png`,
          checkpoint: 0,
          worker: "forger",
          backbone: new Float32Array(64),
          projected,
        });
      const nan = new Float32Array(128);
      nan[3] = NaN;
      const forged = [
        [s.images, image(ID(1), new Uint8Array(8 * 8 * 3), 8)],
        [s.images, image("bad id", new Uint8Array(stride))],
        [s.embeddings, feature(ID(2), new Float32Array(5))],
        [s.embeddings, feature(ID(3), nan)],
        [s.embeddings, feature("../etc", new Float32Array(128))],
      ] as const;
      for (const [subject, { payload, headers }] of forged) {
        await bus.publish(subject, payload, { headers });
      }
      const data = await publishShapeImages(bus, s.images, config.inputSize, 10);
      const ctx: WorkerContext = {
        bus,
        state: await PipelineState.open(bus.connection, NAME),
        name: NAME,
        id: "cluster-hostile",
        signal: stop.signal,
        log: (line) => logs.push(line),
      };
      const worker = runClusterWorker(ctx, {
        config,
        rounds,
        stateDir: join(root, "state"),
        threads: 1,
        batchWaitMs: 50,
        // No embed pool here: the worker embeds the real images itself.
        maxWaitMs: 100,
      });
      const deadline = Date.now() + 60_000;
      const embeddedHere = () => logs.filter((l) => l.includes("embedding it here")).length;
      while ((errors.length < forged.length || embeddedHere() < data.n) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // The last batch of real images reaches the store within a serving window.
      await new Promise((resolve) => setTimeout(resolve, 500));
      stop.abort();
      const summary = await worker;
      assert.equal(errors.length, forged.length, `one errors event each:\n${errors.join("\n")}`);
      assert.equal(summary.stored, data.n, `only the real images stored:\n${logs.join("\n")}`);
      const reasons = errors.join("\n");
      assert.match(reasons, /16/, "the image of another size names the expected side");
      assert.match(reasons, /finite/);
      assert.match(reasons, /D = 128/);
      assert.ok(logs.every((line) => !line.includes("\n")), "log lines stay single lines");
    } finally {
      stop.abort();
      watching.unsubscribe();
      await bus.close();
      await Deno.remove(root, { recursive: true });
    }
  },
);

natsTest(
  "cluster worker on NATS - a replay past the stream's retention says the rebuild is incomplete",
  async ({ server }) => {
    const name = "clusterretention";
    const root = await Deno.makeTempDir({ prefix: "scanstream_cluster_retention_" });
    const bus = await NatsBus.connect({ servers: server.url, name });
    const s = subjects(name);
    const config = makeConfig("fixtures", { inputSize: 16, heads: 1, neighbours: 5 });
    const stop = new AbortController();
    try {
      await publishShapeImages(bus, s.images, config.inputSize, 3);
      // What retention does to the oldest message.
      const jsm = await jetstreamManager(bus.connection);
      await jsm.streams.deleteMessage(streamName(name), 1);
      const errors: string[] = [];
      const watching = bus.subscribe(s.errors, { deliverAll: true }).subscribe((msg) =>
        errors.push(parseJson(refusalSchema(), msg.payload, "refusal").reason)
      );
      const logs: string[] = [];
      const worker = runClusterWorker({
        bus,
        state: await PipelineState.open(bus.connection, name),
        name,
        id: "cluster-retention",
        signal: stop.signal,
        log: (line) => logs.push(line),
      }, {
        config,
        rounds: makeRoundConfig(config, { minImages: 1000 }),
        stateDir: join(root, "state"),
        threads: 1,
        batchWaitMs: 50,
        maxWaitMs: 100,
      });
      const deadline = Date.now() + 30_000;
      while (errors.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      stop.abort();
      await worker;
      watching.unsubscribe();
      assert.match(logs.join("\n"), /replay starts at message 2: 1 older messages were removed/);
      assert.equal(errors.length, 1, errors.join("\n"));
      assert.match(errors[0], /rebuilds from the subjects is incomplete/);
    } finally {
      stop.abort();
      await bus.close();
      await Deno.remove(root, { recursive: true });
    }
  },
);
