/**
 * The mine stage in its own process: SCAN's mining step served to clients. It reads every
 * feature on `scan.<p>.embeddings` in stream order and keeps the neighbour lists of the newest
 * checkpoint's features incrementally (`CheckpointNeighbours`: a new image gets its K
 * neighbours and enters the lists it is now closer to; a newer checkpoint starts a fresh index;
 * features of an older one arriving after it are ignored). Each new list and each list a new
 * image entered goes out on `scan.<p>.neighbours` and into the neighbours KV bucket, where any
 * client (the board, `deno task status`, anyone) reads an image's current neighbours.
 *
 * It does not feed training: the cluster stage re-mines its own lists from its own re-embedding
 * after every backbone change, so what it trains on does not depend on this process.
 *
 * An ordered consumer from the first stored feature, not a durable one with acks: the index is
 * derived state held in memory, so a (re)started worker must see every feature again to rebuild
 * it, and every worker needs all of them (a work queue would split them, and a kNN index of part
 * of the images is wrong). Replays republish lists under the same message ids, which JetStream
 * drops within its duplicate window.
 *
 * ```
 * embeddings (ordered, from the start) ─ batchWithin ─ CheckpointNeighbours.add ─▶ neighbours, KV
 * ```
 */
import { concatMap, filter, lastValueFrom, Observable, takeUntil } from "rxjs";
import { sha256Hex } from "../../src/image/hash.ts";
import { type ChangedList, CheckpointNeighbours } from "../../src/mining/checkpoint_neighbours.ts";
import { BACKBONES } from "../../src/models/resnet.ts";
import { batchWithin } from "../../src/operators/batch_within.ts";
import { announcementSchema } from "../../src/protocol/models.ts";
import { refuseMessage } from "../../src/protocol/refuse.ts";
import { featureWidths } from "../../src/protocol/stage_messages.ts";
import type { BusMessage } from "../../src/transport/bus.ts";
import {
  PipelineState,
  startHeartbeat,
  type StoredNeighbours,
} from "../../src/transport/pipeline_state.ts";
import {
  decodeEmbeddingMessage,
  type EmbeddingMessage,
  encodeNeighbourListMessage,
} from "../../src/transport/stage_messages.ts";
import { reportReplayGap } from "../../src/transport/replay_gap.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { printable } from "../../src/util/quote.ts";
import { MODEL_KEY } from "./embed_worker.ts";
import { now, waitForConfig, type WorkerContext } from "./worker_context.ts";

/** Options of the mine worker. */
export interface MineWorkerOptions {
  /** Features per index update (default 64) and longest wait for a batch (default 100 ms). */
  readonly batchSize?: number;
  readonly batchWaitMs?: number;
}

/** What the mine stage did this run. */
export interface MineSummary {
  /** Feature messages read. */
  readonly processed: number;
  /** Images in the newest checkpoint's index. */
  readonly images: number;
  /** Lists published (new and updated). */
  readonly lists: number;
  /** Features of an older checkpoint than the newest seen. */
  readonly ignored: number;
  /** Malformed or unusable feature messages. */
  readonly refused: number;
  /** The newest checkpoint seen (-1: none). */
  readonly checkpoint: number;
}

/** Run until `ctx.signal` aborts; the batch held then is finished first. */
export async function runMineWorker(
  ctx: WorkerContext,
  options: MineWorkerOptions = {},
): Promise<MineSummary> {
  const config = await waitForConfig(ctx);
  const counts = { processed: 0, lists: 0, ignored: 0, refused: 0 };
  if (config === undefined) return { ...counts, images: 0, checkpoint: -1 };
  const s = subjects(ctx.name);
  const miner = new CheckpointNeighbours(config.neighbours);
  const widths = { projected: featureWidths(BACKBONES[config.backbone]?.widths).projected };
  const announced = announcedCheckpoint(ctx);
  const stopping = new Observable<void>((subscriber) => {
    const stop = () => subscriber.next();
    if (ctx.signal.aborted) stop();
    else ctx.signal.addEventListener("abort", stop, { once: true });
    return () => ctx.signal.removeEventListener("abort", stop);
  });

  const publishList = async (list: ChangedList) => {
    const { payload, headers } = encodeNeighbourListMessage(list);
    const digest = await sha256Hex(new TextEncoder().encode(list.ids.join(",")));
    await Promise.all([
      ctx.bus.publish(s.neighbours, payload, {
        headers,
        msgId: `neighbours:${list.id}@${list.checkpoint}:${digest.slice(0, 16)}`,
      }),
      PipelineState.write(
        ctx.state.neighbours,
        list.id,
        {
          checkpoint: list.checkpoint,
          ids: list.ids,
          similarities: Array.from(list.similarities),
        } satisfies StoredNeighbours,
      ),
    ]);
    counts.lists++;
  };

  // A replay that no longer starts at the pipeline's first message rebuilds part of the index.
  await reportReplayGap(ctx.bus, ctx.name, "mine", ctx.log);
  const started = now();
  const stopHeartbeat = startHeartbeat(ctx.state, () => ({
    id: ctx.id,
    stage: "mine",
    host: Deno.hostname(),
    pid: Deno.pid,
    startedAt: started,
    processed: counts.processed,
    checkpoint: miner.checkpoint < 0 ? undefined : miner.checkpoint,
  }));

  try {
    await lastValueFrom(
      ctx.bus.subscribe(s.embeddings, { deliverAll: true }).pipe(
        takeUntil(stopping),
        concatMap((msg) => checked(msg, ctx, counts, widths, announced)),
        filter((features): features is EmbeddingMessage => features !== undefined),
        batchWithin(options.batchSize ?? 64, options.batchWaitMs ?? 100),
        concatMap(async (batch) => {
          const step = miner.add(
            batch.map((f) => ({ id: f.id, checkpoint: f.checkpoint, feature: f.projected })),
          );
          counts.processed += batch.length;
          counts.ignored += step.ignored;
          counts.refused += step.refused.length;
          for (const checkpoint of step.started) {
            ctx.log(`mining checkpoint ${checkpoint}: a fresh index, older features ignored`);
          }
          for (const { reason } of step.refused) ctx.log(`skipped a feature: ${reason}`);
          // In order: an image's last list in a batch is the one the bucket must keep.
          for (const list of step.lists) await publishList(list);
        }),
      ),
      { defaultValue: undefined },
    );
  } finally {
    await stopHeartbeat();
    miner.dispose();
  }
  return { ...counts, images: miner.size, checkpoint: miner.checkpoint };
}

/**
 * The highest checkpoint the state bucket has announced, read again only when a feature claims a
 * newer one: the bucket is the authority, so a forged checkpoint number on the embeddings
 * subject is refused instead of making every real feature after it "older" (docs/protocol.md).
 */
function announcedCheckpoint(ctx: WorkerContext): (claimed: number) => Promise<boolean> {
  let known = -1;
  return async (claimed) => {
    if (claimed <= known) return true;
    try {
      const model = await PipelineState.read(ctx.state.state, MODEL_KEY, announcementSchema());
      known = Math.max(known, model?.checkpoint ?? -1);
    } catch (error) {
      ctx.log(`mine: the announced model is unreadable: ${printable((error as Error).message)}`);
    }
    return claimed <= known;
  };
}

/**
 * The features a message carries, or undefined when it is malformed or claims a checkpoint that
 * was never announced: then it is counted, logged and reported on `errors`, and skipped.
 */
async function checked(
  msg: BusMessage,
  ctx: WorkerContext,
  counts: { processed: number; refused: number },
  widths: { projected: number },
  announced: (claimed: number) => Promise<boolean>,
): Promise<EmbeddingMessage | undefined> {
  let features: EmbeddingMessage;
  try {
    features = decodeEmbeddingMessage(msg, widths);
    if (!(await announced(features.checkpoint))) {
      throw new RangeError(
        `Cannot mine features of ${features.id}: checkpoint ${features.checkpoint} was never ` +
          "announced in the state bucket",
      );
    }
  } catch (error) {
    counts.processed++;
    counts.refused++;
    await refuseMessage({ bus: ctx.bus, name: ctx.name, log: ctx.log, stage: "mine" }, msg, error);
    return undefined;
  }
  return features;
}
