/**
 * Findings 1 and 14 of issue 13, for the ingest worker: a refused file named with LF, CR or a
 * terminal escape is published on the errors subject (its message id never holds the name) and
 * logged on one line with the name escaped; the worker runs on. On a real nats-server.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runIngestWorker } from "../../pipelines/workers/ingest_worker.ts";
import { shareConfig, type WorkerContext } from "../../pipelines/workers/worker_context.ts";
import { makeConfig } from "../../src/config.ts";
import { decodeEvent, type RefusalEvent, refusalEvent } from "../../src/stream/events.ts";
import type { BusMessage } from "../../src/transport/bus.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { PipelineState } from "../../src/transport/pipeline_state.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { natsTest } from "../_nats.ts";

const NAME = "hostileingest";
const SHAPES = new URL("../../fixtures/shapes", import.meta.url).pathname;

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

natsTest(
  "ingest worker - files named with LF, CR and an escape sequence are refused on the errors subject and logged escaped; the worker runs on",
  async ({ server }) => {
    const root = await Deno.makeTempDir({ prefix: "scanstream_ingest_hostile_" });
    const bus = await NatsBus.connect({ servers: server.url, name: NAME });
    const controller = new AbortController();
    const evil = ["evil\nname.png", "evil\rname.png", "\u001b[31mred.png"];
    try {
      for (const name of evil) await Deno.writeTextFile(join(root, name), "not an image\n");
      const good = [...Deno.readDirSync(SHAPES)].find((e) => e.name.endsWith(".png"))!.name;
      await Deno.copyFile(join(SHAPES, good), join(root, good));
      const state = await PipelineState.open(bus.connection, NAME);
      await shareConfig(state, makeConfig("fixtures", { inputSize: 16 }));
      const s = subjects(NAME);
      const errors: BusMessage[] = [];
      const images: BusMessage[] = [];
      const subs = [
        bus.subscribe(s.errors, { deliverAll: true }).subscribe((m) => errors.push(m)),
        bus.subscribe(s.images, { deliverAll: true }).subscribe((m) => images.push(m)),
      ];
      const logs: string[] = [];
      const ctx: WorkerContext = {
        bus,
        state,
        name: NAME,
        id: "ingest-test",
        signal: controller.signal,
        log: (line) => logs.push(line),
      };
      const running = runIngestWorker(ctx, {
        watch: root,
        ingest: { stableMs: 50, rescanIntervalMs: 0 },
      });
      let failed: unknown;
      running.catch((error) => (failed = error));
      await waitFor(
        "three refusals and one image",
        () => failed !== undefined || (errors.length >= 3 && images.length >= 1),
      );
      assert.equal(failed, undefined, `the worker failed: ${failed}`);
      controller.abort();
      const summary = await running;
      assert.deepEqual(summary, { published: 1, refused: 3 });
      subs.forEach((sub) => sub.unsubscribe());
      const refused = errors.map((m) => decodeEvent(m.payload, refusalEvent) as RefusalEvent);
      assert.deepEqual(refused.map((r) => r.path).sort(), [...evil].sort());
      for (const m of errors) assert.doesNotMatch(m.headers["Nats-Msg-Id"], /[\r\n]/);
      const refusedLines = logs.filter((line) => line.startsWith("refused"));
      assert.equal(refusedLines.length, 3);
      // deno-lint-ignore no-control-regex -- no control character may reach a log line
      for (const line of logs) assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f]/);
      assert.ok(refusedLines.some((line) => line.includes(`"evil\\nname.png"`)), logs.join("|"));
      assert.ok(refusedLines.some((line) => line.includes(`"\\u001b[31mred.png"`)));
    } finally {
      controller.abort();
      await bus.close();
      await Deno.remove(root, { recursive: true });
    }
  },
);
