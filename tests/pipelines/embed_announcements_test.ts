/**
 * The embed worker against forged and corrupt checkpoints on a real nats-server (issue 13,
 * finding 5): an announcement on `scan.<p>.models` with a huge checkpoint or a crafted prefix
 * changes nothing (the state bucket is the authority), a corrupt checkpoint is logged and the
 * previous one keeps serving, and a real newer one is then served.
 */
import assert from "node:assert/strict";
import { MODEL_KEY, runEmbedWorker } from "../../pipelines/workers/embed_worker.ts";
import { shareConfig, type WorkerContext } from "../../pipelines/workers/worker_context.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { makeConfig } from "../../src/config.ts";
import { StreamModels } from "../../src/stream/stream_models.ts";
import { publishJson } from "../../src/transport/bus.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { PipelineState } from "../../src/transport/pipeline_state.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { natsTest } from "../_nats.ts";

await initBackend("wasm");

const announcement = (checkpoint: number, prefix = String(checkpoint)) => ({
  checkpoint,
  prefix,
  modelVersion: 0,
  head: 0,
  permutation: [],
  at: new Date().toISOString(),
});

natsTest(
  "embed worker - forged announcements and a corrupt checkpoint leave the served one in place",
  async ({ server }) => {
    const name = "forgedmodels";
    const bus = await NatsBus.connect({ servers: server.url, name });
    const controller = new AbortController();
    const scratch = await Deno.makeTempDir();
    const config = makeConfig("fixtures");
    const models = StreamModels.build(config);
    let running: Promise<unknown> | undefined;
    try {
      const state = await PipelineState.open(bus.connection, name);
      await shareConfig(state, config);
      await models.save(`${scratch}/real`);
      await state.uploadCheckpoint(0, `${scratch}/real`);
      await PipelineState.write(state.state, MODEL_KEY, announcement(0));
      const logs: string[] = [];
      const ctx: WorkerContext = {
        bus,
        state,
        name,
        id: "embed-forged",
        signal: controller.signal,
        log: (line) => logs.push(line),
      };
      running = runEmbedWorker(ctx, { batch: 4 });
      const served = async () =>
        (await state.heartbeats()).find((h) => h.id === "embed-forged")?.checkpoint;
      const until = async (check: () => Promise<boolean>, what: string) => {
        const deadline = Date.now() + 30_000;
        while (!(await check())) {
          if (Date.now() > deadline) throw new Error(`timed out: ${what}\n${logs.join("\n")}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };
      await until(async () => (await served()) === 0, "checkpoint 0 served");

      const s = subjects(name);
      // Forged: a huge checkpoint, a prefix out of the scratch folder. Only wake-ups.
      await publishJson(bus, s.models, announcement(Number.MAX_SAFE_INTEGER));
      await publishJson(bus, s.models, { ...announcement(5), prefix: "../../../tmp" });
      // Corrupt: checkpoint 1 exists in the store and the bucket, but its files are garbage.
      await Deno.mkdir(`${scratch}/corrupt`);
      for await (const entry of Deno.readDir(`${scratch}/real`)) {
        await Deno.writeTextFile(`${scratch}/corrupt/${entry.name}`, "not a model");
      }
      await state.uploadCheckpoint(1, `${scratch}/corrupt`);
      await PipelineState.write(state.state, MODEL_KEY, announcement(1));
      await publishJson(bus, s.models, announcement(1));
      await until(
        () => Promise.resolve(logs.some((l) => /could not load checkpoint 1/.test(l))),
        "the corrupt checkpoint refused",
      );
      assert.equal(await served(), 0);
      assert.match(logs.join("\n"), /still serving 0/);

      // A real newer checkpoint after all that is served.
      await state.uploadCheckpoint(2, `${scratch}/real`);
      await PipelineState.write(state.state, MODEL_KEY, announcement(2));
      await publishJson(bus, s.models, announcement(2));
      await until(async () => (await served()) === 2, "checkpoint 2 served");
      controller.abort();
      await running;
    } finally {
      controller.abort();
      await running?.catch(() => {});
      models.dispose();
      await bus.close();
      await Deno.remove(scratch, { recursive: true });
    }
  },
);
