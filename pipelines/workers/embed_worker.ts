/**
 * An embed worker: one member of the pool that computes the features of new images. Members
 * share `scan.<p>.images` through one JetStream durable pull consumer (`embed`, explicit acks):
 * each pulls a batch when it is free, embeds it with the checkpoint it serves, publishes the
 * features on `scan.<p>.embeddings` (tagged with the checkpoint and the worker) and only then
 * acknowledges the batch. A member that dies holding a batch never acknowledges it; the server
 * delivers it to another member once the ack wait has passed.
 *
 * The worker follows the trainer's checkpoints: it loads the one the state bucket names at
 * start and each one announced on `scan.<p>.models` afterwards, between batches, from the Object
 * Store. It also answers `classify` requests (queue group `classify`) with that checkpoint.
 *
 * ```
 * images (durable consumer "embed") ─ embeddings(checkpoint) ─ publish ─ ack ─▶ embeddings
 * models (announcements) ─ download from the Object Store ─ swap between batches
 * classify requests ─ decode ─ heads(checkpoint) ─▶ reply
 * ```
 */
import { join } from "node:path";
import type { ScanConfig } from "../../src/config.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { RequestDecoder } from "../../src/ingest/request_decoder.ts";
import { argmaxRows } from "../../src/operators/classify.ts";
import { refuseMessage } from "../../src/protocol/refuse.ts";
import { encodeEvent } from "../../src/stream/events.ts";
import { StreamModels } from "../../src/stream/stream_models.ts";
import { JSON_HEADERS, type Reply } from "../../src/transport/bus.ts";
import { announcementSchema } from "../../src/protocol/models.ts";
import { CLASSIFY_MAX_BYTES, type ClassifyReply } from "../../src/transport/classify_protocol.ts";
import {
  type CheckpointAnnouncement,
  PipelineState,
  startHeartbeat,
} from "../../src/transport/pipeline_state.ts";
import {
  decodeImageMessage,
  encodeEmbeddingMessage,
  type ImageMessage,
} from "../../src/transport/stage_messages.ts";
import { streamName, subjects } from "../../src/transport/subjects.ts";
import { pullBatches, type WorkItem } from "../../src/transport/work_queue.ts";
import { printable } from "../../src/util/quote.ts";
import { waitForConfig, type WorkerContext } from "./worker_context.ts";

/** The consumer every embed worker of a pipeline shares. */
export const EMBED_CONSUMER = "embed";
/** State-bucket key of the latest checkpoint's announcement. */
export const MODEL_KEY = "model";

/** Options of an embed worker. */
export interface EmbedWorkerOptions {
  /** Images per pull (default 16). */
  readonly batch?: number;
  /** Ack wait of the shared consumer, when this worker creates it (default 30 s). */
  readonly ackWaitMs?: number;
}

/** What the worker did. */
export interface EmbedSummary {
  readonly embedded: number;
  readonly classified: number;
  /** Checkpoint served at the end. */
  readonly checkpoint: number;
}

/** The checkpoint a worker serves with. */
interface Served {
  readonly announcement: CheckpointAnnouncement;
  readonly models: StreamModels;
}

/** Run until `ctx.signal` aborts; the batch held then is finished and acknowledged first. */
export async function runEmbedWorker(
  ctx: WorkerContext,
  options: EmbedWorkerOptions = {},
): Promise<EmbedSummary> {
  const config = await waitForConfig(ctx);
  const counts = { embedded: 0, classified: 0 };
  if (config === undefined) return { ...counts, checkpoint: -1 };
  const s = subjects(ctx.name);
  const scratch = await Deno.makeTempDir({ prefix: "scanstream-embed-" });

  // The subject is only a wake-up: what is served is what the state bucket's `model` key
  // announces (the cluster stage writes it before publishing), so a forged announcement with a
  // huge checkpoint or a crafted prefix changes nothing (docs/protocol.md). Watched before the
  // bucket is first read, so no announcement falls between the two.
  let wakeup = true;
  const watching = ctx.bus.subscribe(s.models).subscribe(() => (wakeup = true));
  let served: Served | undefined;
  const serveLatest = async () => {
    if (!wakeup) return;
    wakeup = false;
    let latest: CheckpointAnnouncement | undefined;
    try {
      latest = await PipelineState.read(ctx.state.state, MODEL_KEY, announcementSchema());
    } catch (error) {
      ctx.log(`embed: the announced model is unreadable: ${printable((error as Error).message)}`);
      return;
    }
    if (latest === undefined) return;
    if (served !== undefined && latest.checkpoint <= served.announcement.checkpoint) return;
    // The prefix is the checkpoint number (checked by the schema): it stays inside `scratch`.
    const dir = join(scratch, latest.prefix);
    try {
      await ctx.state.downloadCheckpoint(latest.prefix, dir);
      const models = await StreamModels.load(dir);
      served?.models.dispose();
      served = { announcement: latest, models };
      ctx.log(`serving checkpoint ${latest.checkpoint} (model version ${latest.modelVersion})`);
    } catch (error) {
      // Replaced while we looked (the next announcement names a newer one), or corrupt: the
      // previous checkpoint goes on serving.
      ctx.log(
        `could not load checkpoint ${latest.checkpoint}: ${printable((error as Error).message)}` +
          (served === undefined ? "" : `; still serving ${served.announcement.checkpoint}`),
      );
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  };

  const started = new Date().toISOString();
  const stopHeartbeat = startHeartbeat(ctx.state, () => ({
    id: ctx.id,
    stage: "embed",
    host: Deno.hostname(),
    pid: Deno.pid,
    startedAt: started,
    processed: counts.embedded,
    checkpoint: served?.announcement.checkpoint,
  }));
  // Requests decode in a worker, under ingest's time limit and a concurrency bound.
  const requests = new RequestDecoder({
    size: config.inputSize,
    limits: { maxBytes: CLASSIFY_MAX_BYTES },
  });
  const responder = ctx.bus.reply(s.classify, async (msg): Promise<Reply> => {
    const reply = await classifyBytes(msg.payload, config, () => served, requests);
    counts.classified++;
    return { payload: encodeEvent(reply), headers: JSON_HEADERS };
  }, { queue: "classify" });

  try {
    while (served === undefined && !ctx.signal.aborted) {
      wakeup = true;
      await serveLatest();
      if (served === undefined) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const batches = pullBatches(ctx.bus.connection, {
      stream: streamName(ctx.name),
      subject: s.images,
      durable: EMBED_CONSUMER,
      batch: options.batch,
      ackWaitMs: options.ackWaitMs,
    }, ctx.signal);
    for await (const items of batches) {
      await serveLatest();
      if (items.length > 0) counts.embedded += await embedBatch(ctx, items, served!, config);
    }
  } finally {
    responder.unsubscribe();
    requests.close();
    watching.unsubscribe();
    await stopHeartbeat();
    served?.models.dispose();
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
  return { ...counts, checkpoint: served?.announcement.checkpoint ?? -1 };
}

/** Embed, publish and acknowledge one batch; a malformed message is refused, not retried. */
async function embedBatch(
  ctx: WorkerContext,
  items: readonly WorkItem[],
  served: Served,
  config: ScanConfig,
): Promise<number> {
  const s = subjects(ctx.name);
  const images: ImageMessage[] = [];
  const held: WorkItem[] = [];
  for (const item of items) {
    try {
      images.push(decodeImageMessage(item.message, { size: config.inputSize }));
      held.push(item);
    } catch (error) {
      // Refused, reported once, and terminated: never redelivered.
      const refuser = { bus: ctx.bus, name: ctx.name, log: ctx.log, stage: "embed" };
      await refuseMessage(refuser, item.message, error);
      item.term();
    }
  }
  if (images.length === 0) return 0;
  const stride = config.inputSize * config.inputSize * 3;
  const pixels = new Uint8Array(images.length * stride);
  images.forEach((image, i) => pixels.set(image.pixels, i * stride));
  const dataset: Dataset = {
    n: images.length,
    size: config.inputSize,
    pixels,
    ids: images.map((image) => image.id),
    paths: images.map((image) => image.path),
  };
  const { backbone, projected } = served.models.embeddings(dataset);
  const f = backbone.length / images.length;
  const d = projected.length / images.length;
  const checkpoint = served.announcement.checkpoint;
  for (let i = 0; i < images.length; i++) {
    const { payload, headers } = encodeEmbeddingMessage({
      id: images[i].id,
      path: images[i].path,
      checkpoint,
      worker: ctx.id,
      backbone: backbone.slice(i * f, (i + 1) * f),
      projected: projected.slice(i * d, (i + 1) * d),
    });
    await ctx.bus.publish(s.embeddings, payload, {
      headers,
      msgId: `embedding:${images[i].id}@${checkpoint}`,
    });
  }
  // Acknowledged only once every feature is stored: a crash before this redelivers the batch.
  for (const item of held) item.ack();
  return images.length;
}

/**
 * The reply to a classify request.
 *
 * @throws {Error} (sent back as the requester's `remote` error) for a request too large, bytes
 *   that are not an image, or before the first clustering.
 */
async function classifyBytes(
  bytes: Uint8Array,
  config: ScanConfig,
  current: () => Served | undefined,
  requests: RequestDecoder,
): Promise<ClassifyReply> {
  if (bytes.byteLength > CLASSIFY_MAX_BYTES) {
    throw new RangeError(
      `Cannot classify: a request holds at most ${CLASSIFY_MAX_BYTES} bytes, current size is ` +
        `${bytes.byteLength}`,
    );
  }
  const noClustering = () =>
    new Error("Cannot classify: there is no clustering yet, current model version is 0");
  if ((current()?.announcement.modelVersion ?? 0) === 0) throw noClustering();
  let pixels: Uint8Array;
  try {
    pixels = (await requests.decode(bytes)).pixels;
  } catch (error) {
    throw new Error(`Cannot classify: ${(error as Error).message}`);
  }
  // The checkpoint served now: a newer one may have replaced (and disposed) the one served when
  // the request came, while it was decoded.
  const served = current();
  if (served === undefined || served.announcement.modelVersion === 0) throw noClustering();
  const size = config.inputSize;
  const dataset: Dataset = {
    n: 1,
    size,
    pixels,
    ids: ["request"],
    paths: ["request"],
  };
  const { head, permutation, modelVersion, checkpoint } = served.announcement;
  const probabilities = served.models.probabilities(dataset, head);
  const best = argmaxRows(probabilities, 1, config.clusters);
  return {
    cluster: permutation[best.clusters[0]],
    confidence: Math.min(1, Math.max(0, best.confidence[0])),
    modelVersion,
    checkpoint,
  };
}
