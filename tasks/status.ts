/**
 * `deno task status --nats URL --name NAME`: where a distributed pipeline stands, read from
 * NATS alone: the workers alive (heartbeats in the workers bucket), their stage and work done,
 * the lag of each consumer of the pipeline's stream, the checkpoint and model version being
 * served, images and cluster sizes. Prints text, or one JSON object with `--json`.
 */
import { parseArgs } from "node:util";
import { jetstreamManager } from "@nats-io/jetstream";
import {
  type CheckpointAnnouncement,
  type Heartbeat,
  PipelineState,
  type PipelineSummary,
} from "../src/transport/pipeline_state.ts";
import { streamName } from "../src/transport/subjects.ts";
import { summarySchema } from "../src/protocol/kv.ts";
import { announcementSchema } from "../src/protocol/models.ts";
import type { Schema } from "../src/protocol/parse.ts";
import { logLine } from "../src/util/progress.ts";
import { printable } from "../src/util/quote.ts";
import { MODEL_KEY } from "../pipelines/workers/embed_worker.ts";
import { pipelineNameFlag, runTask } from "./_cli.ts";
import { connectNats, NATS_CREDENTIALS_USAGE, NATS_FLAGS, natsUrlOrLocal } from "./_nats_cli.ts";

const USAGE = `usage: deno task status [--nats URL] [--name NAME] [--json]
    [--nats-creds FILE | --nats-user U --nats-pass P | --nats-token T]

  URL: the pipeline's NATS server (default: $NATS_URL, else nats://127.0.0.1:4222).
  NAME: the pipeline name (default default).
${NATS_CREDENTIALS_USAGE}`;

/** How long a status waits for the server before it says the bus is away. */
const AWAY_MS = 5000;

/** One consumer of the pipeline's stream and how far behind it is. */
interface ConsumerLag {
  name: string;
  durable: boolean;
  subject: string;
  /** Stored messages not delivered yet. */
  pending: number;
  /** Delivered, not acknowledged yet (being worked on, or held by a worker that died). */
  ackPending: number;
  redelivered: number;
}

await runTask(USAGE, async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: { ...NATS_FLAGS, name: { type: "string" }, json: { type: "boolean" } },
  });
  const name = pipelineNameFlag(values.name);
  // A status asks once: a server that does not answer is reported as away, not waited for.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const away = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`bus away: no NATS server answered within ${AWAY_MS / 1000} s`)),
      AWAY_MS,
    );
  });
  const connecting = connectNats(natsUrlOrLocal(values.nats), name, values);
  let bus: Awaited<typeof connecting>;
  try {
    bus = await Promise.race([connecting, away]);
  } catch (error) {
    connecting.then((late) => late.close()).catch(() => {});
    console.log(
      values.json ? JSON.stringify({ pipeline: name, bus: "away" }) : `${name}: bus away`,
    );
    throw error;
  } finally {
    clearTimeout(timer);
  }
  try {
    const state = await PipelineState.open(bus.connection, name);
    const jsm = await jetstreamManager(bus.connection);
    const stream = await jsm.streams.info(streamName(name), { subjects_filter: ">" });
    const consumers: ConsumerLag[] = [];
    for await (const info of jsm.consumers.list(streamName(name))) {
      consumers.push({
        name: info.name,
        durable: info.config.durable_name !== undefined,
        subject: info.config.filter_subject ?? info.config.filter_subjects?.join(",") ?? ">",
        pending: info.num_pending,
        ackPending: info.num_ack_pending,
        redelivered: info.num_redelivered,
      });
    }
    const status = {
      pipeline: name,
      workers: await state.heartbeats(),
      consumers: consumers.sort((a, b) => a.name.localeCompare(b.name)),
      messages: stream.state.subjects ?? {},
      model: await readOrReport(state, MODEL_KEY, announcementSchema()),
      summary: await readOrReport(state, "summary", summarySchema()),
    };
    if (values.json) console.log(JSON.stringify(status));
    else console.log(describe(status));
  } finally {
    await bus.close();
  }
});

/** A state-bucket value, or undefined with the reason on stderr when it is malformed. */
async function readOrReport<T>(
  state: PipelineState,
  key: string,
  schema: Schema<T>,
): Promise<T | undefined> {
  try {
    return await PipelineState.read(state.state, key, schema);
  } catch (error) {
    logLine(`status: ${printable((error as Error).message)}`);
    return undefined;
  }
}

function describe(status: {
  pipeline: string;
  workers: Heartbeat[];
  consumers: ConsumerLag[];
  messages: Record<string, number>;
  model: CheckpointAnnouncement | undefined;
  summary: PipelineSummary | undefined;
}): string {
  const lines = [`pipeline ${status.pipeline}`];
  lines.push(`workers alive: ${status.workers.length}`);
  for (const w of status.workers) {
    const checkpoint = w.checkpoint === undefined ? "" : `, checkpoint ${w.checkpoint}`;
    lines.push(
      `  ${
        w.stage.padEnd(7)
      } ${w.id} (${w.host} pid ${w.pid}): ${w.processed} done${checkpoint}, ` +
        `last beat ${w.at}`,
    );
  }
  lines.push("consumers (pending = not delivered yet, unacked = delivered, not acknowledged):");
  for (const c of status.consumers) {
    lines.push(
      `  ${c.durable ? c.name : `${c.name} (ordered)`} on ${c.subject}: pending ${c.pending}, ` +
        `unacked ${c.ackPending}, redelivered ${c.redelivered}`,
    );
  }
  lines.push(
    "messages kept: " +
      Object.entries(status.messages).map(([s, n]) => `${s.split(".").pop()} ${n}`).join(", "),
  );
  const m = status.model;
  lines.push(
    m === undefined
      ? "model: none announced yet"
      : `model: checkpoint ${m.checkpoint}, model version ${m.modelVersion}, head ${m.head}`,
  );
  const s = status.summary;
  if (s === undefined) lines.push("images: the cluster stage has not reported yet");
  else {
    lines.push(`images: ${s.images} stored, ${s.waiting} waiting for features`);
    lines.push(
      s.sizes.length === 0 ? "clusters: none yet" : `clusters: sizes [${s.sizes.join(", ")}]`,
    );
  }
  return lines.join("\n");
}
