/**
 * Findings 1 and 9 of issue 13: a refused file whose name holds CR or LF must not kill the stream. NATS
 * refuses header values with CR or LF, and the refusal's message id was built from the path, so
 * its publish failed and the outbox treated that as fatal; on restart the same file killed the
 * stream again. A name that is not valid UTF-8 dropped in while the stream runs ended it too
 * (Deno's watcher throws on it). On a real nats-server (the in-memory bus accepts any header).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startStream } from "../../pipelines/stream.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { decodeEvent, type RefusalEvent, refusalEvent } from "../../src/stream/events.ts";
import type { BusMessage } from "../../src/transport/bus.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { natsTest } from "../_nats.ts";
import { smallStreamSettings } from "./_small_stream.ts";

await initBackend("wasm");

const SHAPES = new URL("../../fixtures/shapes", import.meta.url).pathname;
const NAME = "hostile";
const { config, rounds } = smallStreamSettings();

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

natsTest(
  "stream on NATS - refused files named with LF, CR or bytes that are not UTF-8 are published as errors once, and the stream runs on across a restart",
  async ({ server }) => {
    const root = await Deno.makeTempDir({ prefix: "scanstream_hostile_" });
    const watch = join(root, "inbox");
    await Deno.mkdir(watch);
    const evil = ["evil\nname.png", "evil\rname.png"];
    for (const name of evil) await Deno.writeTextFile(join(watch, name), "not an image\n");
    const good = [...Deno.readDirSync(SHAPES)].map((e) => e.name).filter((n) => n.endsWith(".png"))
      .sort().slice(0, 2);
    const bus = await NatsBus.connect({ servers: server.url, name: NAME });
    const s = subjects(NAME);
    const errors: BusMessage[] = [];
    const subscription = bus.subscribe(s.errors, { deliverAll: true }).subscribe((m) =>
      errors.push(m)
    );
    const lines: string[] = [];
    try {
      for (let run = 0; run < 2; run++) {
        const stream = await startStream({
          watch,
          bus,
          name: NAME,
          config,
          rounds,
          stateDir: join(root, "state"),
          ingest: { stableMs: 50, rescanIntervalMs: 0 },
          batchWaitMs: 50,
          log: (line) => lines.push(line),
        });
        try {
          if (run === 0) {
            // Deno takes names as UTF-8 strings: the shell writes the bytes ff fe.
            const made = await new Deno.Command("/bin/sh", {
              args: ["-c", `printf 'text\\n' > "$(printf '\\377\\376')"`],
              cwd: watch,
            }).output();
            assert.equal(made.code, 0);
          }
          await Deno.copyFile(join(SHAPES, good[run]), join(watch, good[run]));
          await waitFor(`image ${run + 1} stored`, () => stream.trainer.store.n === run + 1);
          await waitFor("the refusals stored", () => errors.length >= evil.length + 1);
          const summary = await stream.stop();
          assert.equal(summary.images, run + 1, `run ${run}: the stream ran on`);
        } finally {
          await stream.stop().catch(() => {});
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      const refusals = errors.map((m) => decodeEvent(m.payload, refusalEvent) as RefusalEvent);
      assert.deepEqual(
        refusals.map((r) => r.path).sort(),
        [...evil, "\ufffd\ufffd"].sort(),
        "each refusal once",
      );
      for (const m of errors) {
        assert.doesNotMatch(m.headers["Nats-Msg-Id"], /[\r\n]/);
      }
      const logged = lines.filter((line) => line.startsWith("refused"));
      assert.ok(logged.every((line) => !/[\r\n]/.test(line)), "log lines are one line each");
    } finally {
      subscription.unsubscribe();
      await bus.close();
      await Deno.remove(root, { recursive: true });
    }
  },
);
