/**
 * Ingest rate of the distributed pipeline by embed pool size: a nats-server on loopback, an
 * untrained checkpoint 0 put where the cluster stage would put it (no trainer runs, so the
 * figure is the ingest + embed path alone), N `deno task worker --stage embed` processes and
 * one ingest worker over a copy of a directory of images. Measures from the first image on
 * `scan.<p>.images` to the last embedding, and prints one JSON line per pool size.
 *
 *   deno task bench-workers [--workers 1,2] [--images fixtures/shapes]
 *     [--input-size S] [--batch-size N]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { MODEL_KEY } from "../pipelines/workers/embed_worker.ts";
import { shareConfig } from "../pipelines/workers/worker_context.ts";
import { initBackend } from "../src/backend/backend.ts";
import { makeConfig } from "../src/config.ts";
import { StreamModels } from "../src/stream/stream_models.ts";
import { NatsBus } from "../src/transport/nats_bus.ts";
import { startNatsServer } from "../src/transport/nats_server.ts";
import { PipelineState } from "../src/transport/pipeline_state.ts";
import { subjects } from "../src/transport/subjects.ts";
import { optionalNumber, printJson, runTask } from "../tasks/_cli.ts";

const USAGE = "usage: deno task bench-workers [--workers 1,2] " +
  "[--images DIR] [--input-size S] [--batch-size N]";

await runTask(USAGE, async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      workers: { type: "string" },
      images: { type: "string" },
      "input-size": { type: "string" },
      "batch-size": { type: "string" },
    },
  });
  const pools = (values.workers ?? "1,2").split(",").map(Number);
  const source = values.images ?? "fixtures/shapes";
  const inputSize = optionalNumber(values["input-size"], "--input-size") ?? 24;
  const batch = optionalNumber(values["batch-size"], "--batch-size") ?? 16;
  await initBackend("wasm");
  const files: string[] = [];
  for await (const entry of Deno.readDir(source)) {
    if (/\.(png|jpe?g|gif)$/i.test(entry.name)) files.push(entry.name);
  }
  for (const workers of pools) {
    printJson(await measure(workers, source, files, inputSize, batch));
  }
});

async function measure(
  workers: number,
  source: string,
  files: readonly string[],
  inputSize: number,
  batch: number,
) {
  const server = await startNatsServer();
  const root = await Deno.makeTempDir({ prefix: "scanstream_bench_workers_" });
  const name = "bench";
  const bus = await NatsBus.connect({ servers: server.url, name });
  const processes: Deno.ChildProcess[] = [];
  try {
    const state = await PipelineState.open(bus.connection, name);
    const config = makeConfig("fixtures", { inputSize });
    await shareConfig(state, config);
    const models = StreamModels.build(config);
    await models.save(join(root, "models"));
    models.dispose();
    const prefix = await state.uploadCheckpoint(0, join(root, "models"));
    await PipelineState.write(state.state, MODEL_KEY, {
      checkpoint: 0,
      prefix,
      modelVersion: 0,
      head: 0,
      permutation: Array.from({ length: config.clusters }, (_, c) => c),
      at: new Date().toISOString(),
    });
    const common = ["--nats", server.url, "--name", name];
    for (let w = 0; w < workers; w++) {
      processes.push(
        worker([
          "--stage",
          "embed",
          ...common,
          "--id",
          `embed-${w}`,
          "--batch-size",
          String(batch),
        ]),
      );
    }
    while (
      (await state.heartbeats()).filter((h) => h.checkpoint !== undefined).length < workers
    ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const s = subjects(name);
    let firstImage = 0;
    let lastImage = 0;
    let images = 0;
    let embedded = 0;
    let lastEmbedding = 0;
    const byWorker: Record<string, number> = {};
    const subs = [
      bus.subscribe(s.images).subscribe(() => {
        images++;
        lastImage = performance.now();
        if (firstImage === 0) firstImage = lastImage;
      }),
      bus.subscribe(s.embeddings).subscribe((msg) => {
        embedded++;
        lastEmbedding = performance.now();
        const w = msg.headers["scan-worker"];
        byWorker[w] = (byWorker[w] ?? 0) + 1;
      }),
    ];
    // The files are there before ingest starts: it reads them as fast as it can.
    const watch = join(root, "inbox");
    await Deno.mkdir(watch);
    for (const file of files) await Deno.copyFile(join(source, file), join(watch, file));
    processes.push(worker(["--stage", "ingest", ...common, "--watch", watch]));
    const deadline = Date.now() + 300_000;
    while (embedded < files.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const sub of subs) sub.unsubscribe();
    const seconds = (lastEmbedding - firstImage) / 1000;
    return {
      embedWorkers: workers,
      inputSize,
      batch,
      images,
      embedded,
      seconds: Number(seconds.toFixed(2)),
      imagesPerSecond: Number((embedded / seconds).toFixed(1)),
      ingestPerSecond: Number((images / ((lastImage - firstImage) / 1000)).toFixed(1)),
      byWorker,
      loadAverage: Deno.loadavg().map((x) => Number(x.toFixed(2))),
    };
  } finally {
    for (const p of processes) {
      p.kill("SIGTERM");
      await p.status;
    }
    await bus.close();
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
}

/** `deno task worker` in a subprocess (this process's permissions are `--allow-all`). */
function worker(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("../tasks/worker.ts", import.meta.url).pathname, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}
