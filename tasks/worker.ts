/**
 * `deno task worker --stage ingest|embed|mine|cluster --nats URL --name NAME`: one stage of a
 * distributed pipeline in its own process (README, "Distributed deployment"). Runs until
 * SIGINT/SIGTERM, then finishes what it holds and exits 0; a second signal exits at once (130).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runClusterWorker } from "../pipelines/workers/cluster_worker.ts";
import { runEmbedWorker } from "../pipelines/workers/embed_worker.ts";
import { runIngestWorker } from "../pipelines/workers/ingest_worker.ts";
import { runMineWorker } from "../pipelines/workers/mine_worker.ts";
import { type Stage, STAGES, type WorkerContext } from "../pipelines/workers/worker_context.ts";
import { PRESETS } from "../src/config.ts";
import { readLabels } from "../src/data/folder.ts";
import { reportBusAway } from "../src/transport/bus_away.ts";
import { PipelineState } from "../src/transport/pipeline_state.ts";
import { logLine } from "../src/util/progress.ts";
import { printable } from "../src/util/quote.ts";
import {
  optionalNumber,
  pipelineNameFlag,
  required,
  runTask,
  selectBackend,
  stopOnSignals,
  UsageError,
} from "./_cli.ts";
import { connectNats, NATS_CREDENTIALS_USAGE, NATS_FLAGS } from "./_nats_cli.ts";
import { STREAM_CONFIG_OPTIONS, streamSettings } from "./_stream_setup.ts";

const USAGE = `usage: deno task worker --stage ingest|embed|mine|cluster --nats URL [--name NAME]
    [--id ID] [--backend wasm|cpu|tensorflow]
    [--nats-creds FILE | --nats-user U --nats-pass P | --nats-token T]
  ingest:  --watch DIR
  embed:   [--batch-size N] [--ack-wait SECONDS]
  mine:    [--batch-size N]
  cluster: [--threads N] [--state STATE] [--labels L] [--preset NAME] [--clusters C] [--input-size S]
           [--heads N] [--neighbours K] [--seed N] [--pretext-steps N] [--scan-steps N]
           [--selflabel-steps N] [--warmup-steps N] [--selflabel-after N] [--min-images N]

  URL: the NATS server (JetStream enabled) every stage of the pipeline connects to.
  NAME: the pipeline name, subjects scan.<NAME>.* (default default).
  ID: this worker's id in heartbeats and on its features (default <stage>-<host>-<pid>).
  The cluster stage owns the settings (preset, sizes); the others read them from NATS.
  --ack-wait: how long a batch may stay unacknowledged before another embed worker gets it
       (default 30; used when the first embed worker creates the shared consumer).
  --batch-size: images per pull (embed, default 16) or features per index update (mine, 64).
  mine: serves neighbour lists (scan.<NAME>.neighbours, KV scan_<NAME>_neighbours) to clients;
       the cluster stage still mines its own training lists.
  STATE: the cluster stage's state directory (default .scanstream/<NAME>-cluster).
  presets: ${Object.keys(PRESETS).join(", ")} (default fixtures).
${NATS_CREDENTIALS_USAGE}`;

await runTask(USAGE, async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      stage: { type: "string" },
      ...NATS_FLAGS,
      name: { type: "string" },
      id: { type: "string" },
      backend: { type: "string" },
      watch: { type: "string" },
      "batch-size": { type: "string" },
      "ack-wait": { type: "string" },
      state: { type: "string" },
      labels: { type: "string" },
      ...STREAM_CONFIG_OPTIONS,
    },
  });
  const stage = required(values.stage, "--stage") as Stage;
  if (!STAGES.includes(stage)) {
    throw new UsageError(
      `--stage must be one of ${STAGES.join(", ")}, current value is ${values.stage}`,
    );
  }
  const url = required(values.nats ?? Deno.env.get("NATS_URL"), "--nats");
  const name = pipelineNameFlag(values.name);
  const id = values.id ?? `${stage}-${Deno.hostname()}-${Deno.pid}`;
  if (!/^[A-Za-z0-9_-]+$/.test(id)) {
    throw new UsageError(
      `--id may only hold letters, digits, '_' and '-', current value is ${JSON.stringify(id)}`,
    );
  }
  const batch = optionalNumber(values["batch-size"], "--batch-size");
  const ackWait = optionalNumber(values["ack-wait"], "--ack-wait");
  for (const [flag, value] of [["--batch-size", batch], ["--ack-wait", ackWait]] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new UsageError(`${flag} must be a positive integer, current value is ${value}`);
    }
  }
  const watch = stage === "ingest" ? required(values.watch, "--watch") : undefined;
  let cluster;
  if (stage === "cluster") {
    const { config, rounds, threads } = streamSettings(values);
    cluster = {
      config,
      rounds,
      threads,
      stateDir: values.state ?? join(".scanstream", `${name}-cluster`),
      labels: values.labels === undefined ? undefined : await readLabels(values.labels),
    };
  }
  const backend = stage === "ingest" ? "none" : await selectBackend(values.backend);

  const bus = await connectNats(url, name, values, `worker ${id}: stage ${stage} of ${name}, `);
  const controller = new AbortController();
  const stopListening = stopOnSignals(() => controller.abort(), {
    stopping: "stopping: finishing what this worker holds (a second signal exits at once)",
    second: "second signal: exiting at once",
  });
  const away = reportBusAway(bus, name, `worker ${id}`, logLine);
  try {
    const ctx: WorkerContext = {
      bus,
      state: await PipelineState.open(bus.connection, name),
      name,
      id,
      signal: controller.signal,
      // Stages log header text and error messages that may repeat it: one line, escaped.
      log: (line) => logLine(`${id}: ${printable(line)}`),
    };
    logLine(`worker ${id}: running (backend ${backend})`);
    let summary: object;
    if (stage === "ingest") summary = await runIngestWorker(ctx, { watch: watch! });
    else if (stage === "embed") {
      summary = await runEmbedWorker(ctx, {
        batch,
        ackWaitMs: ackWait === undefined ? undefined : ackWait * 1000,
      });
    } else if (stage === "mine") summary = await runMineWorker(ctx, { batchSize: batch });
    else summary = await runClusterWorker(ctx, cluster!);
    logLine(`worker ${id}: stopped ${JSON.stringify(summary)}`);
  } finally {
    away.unsubscribe();
    stopListening();
    await bus.close();
  }
});
