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
import { encodeEvent, refusalEvent } from "../../src/stream/events.ts";
import { StreamModels } from "../../src/stream/stream_models.ts";
import { json, JSON_HEADERS, publishJson, type Reply } from "../../src/transport/bus.ts";
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

  // Announcements are watched before the bucket is read, so none falls between the two.
  let announced: CheckpointAnnouncement | undefined;
  const watching = ctx.bus.subscribe(s.models).subscribe((msg) => {
    try {
      const a = json<CheckpointAnnouncement>(msg);
      if (announced === undefined || a.checkpoint > announced.checkpoint) announced = a;
    } catch (error) {
      ctx.log(`skipped a malformed announcement: ${(error as Error).message}`);
    }
  });
  let served: Served | undefined;
  const serveLatest = async () => {
    const latest = announced;
    if (latest === undefined) return;
    if (served !== undefined && latest.checkpoint <= served.announcement.checkpoint) return;
    const dir = join(scratch, latest.prefix);
    try {
      await ctx.state.downloadCheckpoint(latest.prefix, dir);
    } catch (error) {
      // Replaced while we looked: the next announcement names a newer one.
      ctx.log(`could not load checkpoint ${latest.checkpoint}: ${(error as Error).message}`);
      return;
    }
    const models = await StreamModels.load(dir);
    served?.models.dispose();
    served = { announcement: latest, models };
    await Deno.remove(dir, { recursive: true });
    ctx.log(`serving checkpoint ${latest.checkpoint} (model version ${latest.modelVersion})`);
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
    const reply = await classifyBytes(msg.payload, config, served, requests);
    counts.classified++;
    return { payload: encodeEvent(reply), headers: JSON_HEADERS };
  }, { queue: "classify" });

  try {
    while (served === undefined && !ctx.signal.aborted) {
      const stored = await PipelineState.read<CheckpointAnnouncement>(ctx.state.state, MODEL_KEY);
      if (stored !== undefined && (announced?.checkpoint ?? -1) < stored.checkpoint) {
        announced = stored;
      }
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
      const image = decodeImageMessage(item.message);
      if (image.size !== config.inputSize) {
        throw new TypeError(
          `Cannot embed image ${image.id}: it is ${image.size} px, the pipeline uses ` +
            `${config.inputSize} px`,
        );
      }
      images.push(image);
      held.push(item);
    } catch (error) {
      const reason = (error as Error).message;
      ctx.log(`refused a message on ${item.message.subject}: ${reason}`);
      await publishJson(
        ctx.bus,
        s.errors,
        refusalEvent({ path: item.message.headers["scan-path"] ?? "?", reason }),
      );
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
  served: Served | undefined,
  requests: RequestDecoder,
): Promise<ClassifyReply> {
  if (bytes.byteLength > CLASSIFY_MAX_BYTES) {
    throw new RangeError(
      `Cannot classify: a request holds at most ${CLASSIFY_MAX_BYTES} bytes, current size is ` +
        `${bytes.byteLength}`,
    );
  }
  if (served === undefined || served.announcement.modelVersion === 0) {
    throw new Error("Cannot classify: there is no clustering yet, current model version is 0");
  }
  let pixels: Uint8Array;
  try {
    pixels = (await requests.decode(bytes)).pixels;
  } catch (error) {
    throw new Error(`Cannot classify: ${(error as Error).message}`);
  }
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
