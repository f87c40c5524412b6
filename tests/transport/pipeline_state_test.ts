import assert from "node:assert/strict";
import { storedAssignmentSchema } from "../../src/protocol/kv.ts";
import { join } from "node:path";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { bucketNames, PipelineState, startHeartbeat } from "../../src/transport/pipeline_state.ts";
import { natsTest } from "../_nats.ts";

const PIPELINE = "ps";

Deno.test("bucketNames() derives every bucket from the pipeline name and refuses bad names", () => {
  assert.deepEqual({ ...bucketNames("a-1") }, {
    assignments: "scan_a-1_assignments",
    state: "scan_a-1_state",
    workers: "scan_a-1_workers",
    neighbours: "scan_a-1_neighbours",
    models: "scan_a-1_models",
  });
  assert.throws(() => bucketNames("a.b"), RangeError);
});

natsTest("PipelineState - JSON values in KV, seen by another connection", async ({ server }) => {
  const a = await NatsBus.connect({ servers: server.url, name: PIPELINE });
  const b = await NatsBus.connect({ servers: server.url, name: PIPELINE });
  try {
    const writer = await PipelineState.open(a.connection, PIPELINE);
    const reader = await PipelineState.open(b.connection, PIPELINE);
    const schema = storedAssignmentSchema(10);
    assert.equal(await PipelineState.read(reader.assignments, "abc", schema), undefined);
    const value = { cluster: 2, path: "x/y.png", confidence: 0.5, modelVersion: 1 };
    await PipelineState.write(writer.assignments, "abc", value);
    assert.deepEqual(await PipelineState.read(reader.assignments, "abc", schema), value);
    // A value that is not what the bucket holds is refused with what failed, not cast.
    await PipelineState.write(writer.assignments, "bad", { ...value, cluster: 1e9 });
    await assert.rejects(
      () => PipelineState.read(reader.assignments, "bad", schema),
      /KV value scan_.*\/bad: cluster must be an integer in \[0, 10\), current value is 1000000000/,
    );
    await writer.assignments.put("junk", new TextEncoder().encode("{"));
    await assert.rejects(() => PipelineState.read(reader.assignments, "junk", schema), /not JSON/);
  } finally {
    await a.close();
    await b.close();
  }
});

natsTest(
  "PipelineState - checkpoints round-trip through the Object Store, old ones are dropped",
  async ({ server }) => {
    const bus = await NatsBus.connect({ servers: server.url, name: PIPELINE });
    const dir = await Deno.makeTempDir({ prefix: "scanstream_ckpt_" });
    try {
      const state = await PipelineState.open(bus.connection, PIPELINE);
      const files: Record<string, Uint8Array> = {
        "backbone.json": new TextEncoder().encode('{"a":1}'),
        // Larger than one Object Store chunk (128 KiB), with every byte value.
        "backbone.weights.bin": Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256),
      };
      for (let checkpoint = 0; checkpoint < 5; checkpoint++) {
        const source = join(dir, `src-${checkpoint}`);
        await Deno.mkdir(source);
        for (const [name, bytes] of Object.entries(files)) {
          await Deno.writeFile(join(source, name), bytes);
        }
        assert.equal(await state.uploadCheckpoint(checkpoint, source), String(checkpoint));
      }
      const out = join(dir, "out");
      await state.downloadCheckpoint("4", out);
      for (const [name, bytes] of Object.entries(files)) {
        assert.deepEqual(await Deno.readFile(join(out, name)), bytes);
      }
      await assert.rejects(
        () => state.downloadCheckpoint("0", join(dir, "old")),
        /holds no file under 0\//,
      );
    } finally {
      await bus.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

natsTest(
  "startHeartbeat() - a live worker is listed, a stopped one is gone",
  async ({ server }) => {
    const bus = await NatsBus.connect({ servers: server.url, name: PIPELINE });
    try {
      const state = await PipelineState.open(bus.connection, PIPELINE);
      const stop = startHeartbeat(state, () => ({
        id: "embed-1",
        stage: "embed",
        host: "h",
        pid: 1,
        startedAt: "2026-01-01T00:00:00.000Z",
        processed: 3,
      }));
      let beats = await state.heartbeats();
      for (let i = 0; i < 20 && beats.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        beats = await state.heartbeats();
      }
      assert.deepEqual(beats.map((b) => [b.id, b.stage, b.processed]), [["embed-1", "embed", 3]]);
      await stop();
      assert.deepEqual(await state.heartbeats(), []);
    } finally {
      await bus.close();
    }
  },
);
