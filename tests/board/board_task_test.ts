/**
 * `deno task board` as a person would run it beside a stream: its own process, with the
 * permissions of its deno.json task, replaying the events a stream published on NATS.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeEvent } from "../../src/stream/events.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { encodeTensor } from "../../src/transport/tensor_codec.ts";
import { natsTest } from "../_nats.ts";
import { runTaskScript, taskPermissions } from "../run/_tiny_run.ts";
import { assigned, imageId, update } from "./_helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("board task - refuses a bad port or name with exit code 2", async () => {
  const port = await runTaskScript("board", ["--port", "70000"]);
  assert.equal(port.code, 2);
  assert.match(port.stderr, /--port must be an integer port in \[0, 65535\]/);
  const name = await runTaskScript("board", ["--name", "a.b"]);
  assert.equal(name.code, 2);
  assert.match(name.stderr, /--name/);
});

natsTest(
  "board task - serves what the stream published, pixels from the images subject",
  async ({ server }) => {
    const bus = await NatsBus.connect({ servers: server.url, name: "tb" });
    const s = subjects("tb");
    const pixels = new Uint8Array(3 * 3 * 3).fill(90);
    const { payload, headers } = encodeTensor({ data: pixels, shape: [3, 3, 3] });
    await bus.publish(s.images, payload, {
      headers: { ...headers, "scan-id": imageId(1), "scan-path": "a.png" },
    });
    await bus.publish(s.assignments, encodeEvent(assigned(1, 1)));
    await bus.publish(s.clusters, encodeEvent(update(1, [0, 1])));
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...(await taskPermissions("board")),
        join(ROOT, "tasks", "board.ts"),
        "--nats",
        server.url,
        "--name",
        "tb",
        "--port",
        "0",
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = (async () => {
      let text = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) text += chunk;
      return text;
    })();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      let out = "";
      while (!/BOARD_URL=\S+\n/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`board task exited early:\n${await stderr}`);
        out += value;
      }
      const url = /BOARD_URL=(\S+)\n/.exec(out)![1];
      const deadline = Date.now() + 10_000;
      let snapshot;
      do {
        snapshot = await (await fetch(`${url}api/snapshot`)).json();
        await new Promise((resolve) => setTimeout(resolve, 50));
      } while (snapshot.version < 1 && Date.now() < deadline);
      assert.deepEqual(snapshot.clusters.map((c: { size: number }) => c.size), [0, 1]);
      assert.equal(snapshot.connection.state, "connected");
      const thumb = await fetch(`${url}thumbs/${imageId(1)}.png`);
      assert.equal(thumb.status, 200);
      assert.equal(thumb.headers.get("content-type"), "image/png");
      await thumb.body?.cancel();
      const detail = await (await fetch(`${url}api/images/${imageId(1)}`)).json();
      assert.equal(detail.path, "a.png");
      assert.equal(detail.neighbours, null, "no neighbour lists travel on the bus");
    } finally {
      child.kill("SIGTERM");
      const status = await child.status;
      await reader.cancel().catch(() => {});
      const log = await stderr;
      await bus.close();
      assert.equal(status.code, 0, log);
    }
  },
);
