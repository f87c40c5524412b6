/**
 * The stream benchmark's driver, a Worker: it writes image files into the watched directory on
 * a schedule and, on NATS, subscribes to the assignments and cluster updates on its own
 * connection. It runs on its own thread so that neither the write schedule nor the time stamps
 * wait while a training step holds the stream's event loop: a writer on that loop would write
 * late exactly when the stream is busy and so hide the delay it should measure.
 *
 * Times are milliseconds since the epoch with sub-millisecond precision
 * (`performance.timeOrigin + performance.now()`), comparable across threads.
 */
/// <reference lib="deno.worker" />
import { join } from "node:path";
import { listImageFiles } from "../src/data/folder.ts";
import { readIdx } from "../src/data/idx.ts";
import { encodePng } from "../src/image/encode_png.ts";
import { assignmentSchema, clusterUpdateSchema } from "../src/protocol/events.ts";
import { parseJson } from "../src/protocol/parse.ts";
import { NatsBus } from "../src/transport/nats_bus.ts";
import { subjects } from "../src/transport/subjects.ts";
import type { DriverReply, DriverRequest, ImageSource } from "./_bench_stream_protocol.ts";

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let images: { name: string; bytes: Uint8Array }[] = [];
let watch = "";
let bus: NatsBus | undefined;

const reply = (message: DriverReply) => self.postMessage(message);

/** The images of `source` as files: names (relative paths) and bytes; IDX images become PNGs. */
async function load(
  source: ImageSource,
): Promise<{ name: string; bytes: Uint8Array; label?: string }[]> {
  if (source.kind === "idx") {
    const data = await readIdx(source.prefix);
    const n = Math.min(source.limit, data.n);
    const size = data.rows * data.cols;
    const out = [];
    for (let i = 0; i < n; i++) {
      const bytes = await encodePng({
        width: data.cols,
        height: data.rows,
        colorType: "gray",
        samples: data.images.subarray(i * size, (i + 1) * size),
      });
      out.push({
        name: `img_${String(i).padStart(5, "0")}.png`,
        bytes,
        label: String(data.labels[i]),
      });
    }
    return out;
  }
  const names = (await listImageFiles(source.dir)).slice(0, source.limit);
  return await Promise.all(
    names.map(async (name) => ({ name, bytes: await Deno.readFile(join(source.dir, name)) })),
  );
}

/** Write one image under a temporary name, rename it in; the time right after the rename. */
async function drop(index: number): Promise<number> {
  const { name, bytes } = images[index];
  const slash = name.lastIndexOf("/");
  const temporary = join(watch, `${name.slice(0, slash + 1)}.${name.slice(slash + 1)}.part`);
  if (slash >= 0) await Deno.mkdir(join(watch, name.slice(0, slash)), { recursive: true });
  await Deno.writeFile(temporary, bytes);
  await Deno.rename(temporary, join(watch, name));
  return now();
}

async function handle(request: DriverRequest): Promise<void> {
  switch (request.type) {
    case "prepare": {
      watch = request.watch;
      const loaded = await load(request.source);
      images = loaded.map(({ name, bytes }) => ({ name, bytes }));
      reply({
        type: "prepared",
        names: loaded.map((image) => image.name),
        labels: loaded.map((image) => image.label),
      });
      return;
    }
    case "subscribe": {
      bus = await NatsBus.connect({
        servers: request.url,
        name: request.name,
        user: request.user,
        pass: request.pass,
      });
      const s = subjects(request.name);
      bus.subscribe(s.assignments).subscribe((message) => {
        const at = now();
        const event = parseJson(assignmentSchema(), message.payload, "assignment");
        reply({ type: "assignment", path: event.path, version: event.modelVersion, at });
      });
      bus.subscribe(s.clusters).subscribe((message) => {
        reply({
          type: "update",
          event: parseJson(clusterUpdateSchema(), message.payload, "cluster update"),
          at: now(),
        });
      });
      // Once the server has the subscriptions, no event published after this is missed.
      await bus.connection.flush();
      reply({ type: "subscribed" });
      return;
    }
    case "drop": {
      const { from, count, rate } = request;
      const times: number[] = [];
      let maxLagMs = 0;
      const start = now();
      for (let i = 0; i < count; i++) {
        if (rate > 0) {
          const due = start + (i * 1000) / rate;
          const wait = due - now();
          if (wait > 0) await sleep(wait);
          maxLagMs = Math.max(maxLagMs, now() - due);
        }
        times.push(await drop(from + i));
      }
      reply({ type: "dropped", times, maxLagMs });
      return;
    }
    case "close": {
      await bus?.close();
      reply({ type: "closed" });
      return;
    }
  }
}

self.onmessage = (message: MessageEvent<DriverRequest>) => {
  handle(message.data).catch((error) =>
    reply({ type: "failed", message: `${(error as Error).message}` })
  );
};
