/**
 * The cluster worker publishes the pseudo-labels self-labelling accepts on `scan.<name>.labels`,
 * as the stream does (it used to train with them and tell nobody).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runClusterWorker } from "../../pipelines/workers/cluster_worker.ts";
import type { WorkerContext } from "../../pipelines/workers/worker_context.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { makeConfig } from "../../src/config.ts";
import { labelSchema } from "../../src/protocol/events.ts";
import { parseJson } from "../../src/protocol/parse.ts";
import { makeRoundConfig } from "../../src/stream/round_config.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { PipelineState } from "../../src/transport/pipeline_state.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { natsTest } from "../_nats.ts";
import { publishShapeImages } from "./_shape_messages.ts";

await initBackend("wasm");

const NAME = "clusterlabels";

natsTest(
  "cluster worker on NATS - self-labelling's pseudo-labels go out on the labels subject",
  async ({ server }) => {
    const root = await Deno.makeTempDir({ prefix: "scanstream_cluster_labels_" });
    const bus = await NatsBus.connect({ servers: server.url, name: NAME });
    const s = subjects(NAME);
    const logs: string[] = [];
    // Small rounds that reach self-labelling at once, with a threshold any head passes.
    const config = makeConfig("fixtures", {
      inputSize: 16,
      heads: 1,
      neighbours: 5,
      confidenceThreshold: 0.17,
      pretext: { batchSize: 16 },
      scan: { batchSize: 16 },
      selflabel: { batchSize: 24 },
    });
    const rounds = makeRoundConfig(config, {
      pretextSteps: 1,
      scanSteps: 2,
      selflabelSteps: 1,
      warmupSteps: 1,
      minImages: 30,
      selflabelAfter: 1,
    });
    const labelled: unknown[] = [];
    const subscription = bus.subscribe(s.labels).subscribe((message) => {
      labelled.push(parseJson(labelSchema(config.clusters), message.payload, "labels"));
    });
    const stop = new AbortController();
    try {
      const data = await publishShapeImages(bus, s.images, config.inputSize, 40);
      const ctx: WorkerContext = {
        bus,
        state: await PipelineState.open(bus.connection, NAME),
        name: NAME,
        id: "cluster-1",
        signal: stop.signal,
        log: (line) => logs.push(line),
      };
      const worker = runClusterWorker(ctx, {
        config,
        rounds,
        stateDir: join(root, "state"),
        threads: 1,
        batchWaitMs: 50,
        // No embed pool here: the worker embeds every image itself.
        maxWaitMs: 100,
      });
      const deadline = Date.now() + 60_000;
      while (labelled.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      stop.abort();
      await worker;
      assert.ok(labelled.length > 0, `no labels event within a minute:\n${logs.join("\n")}`);
      const first = labelled[0] as { labels: { id: string; cluster: number }[] };
      assert.ok(first.labels.length > 0);
      assert.ok(first.labels.every((l) => data.ids.includes(l.id) && l.cluster < config.clusters));
    } finally {
      stop.abort();
      subscription.unsubscribe();
      await bus.close();
      await Deno.remove(root, { recursive: true });
    }
  },
);
