/**
 * The cluster stage in its own process: the trainer of the stream (`StreamTrainer`), fed by the
 * other stages over NATS instead of by an ingest in the same process. It reads every image on
 * `scan.<p>.images` and every feature on `scan.<p>.embeddings` (ordered consumers from the first
 * stored message: a restart replays and skips what its state holds), joins them by id, stores
 * the image with the features the embed pool computed and assigns it.
 *
 * Features carry the checkpoint that made them. Only those of the checkpoint serving now are
 * used as they are; older ones are refreshed: the serving networks embed that image again here.
 * After each round the new checkpoint goes to the Object Store and is announced on
 * `scan.<p>.models` and in the state bucket, for the embed pool to load.
 *
 * Assignments go out as events (`scan.<p>.assignments`, one per image) and into the assignments
 * KV bucket, which cluster updates keep current for images that moved. They and cluster updates
 * are on the bus exactly once across restarts, whatever the gap (the publish ledger, as in the
 * stream): a restart republishes what its checkpoint did not cover, and what is already stored
 * is skipped.
 *
 * ```
 * images ─┐
 *         ├─ join by id ─ batchWithin ─ store + index (trainer.add) ─ assign ─▶ assignments, KV
 * embeddings ┘
 * trainer rounds ─▶ clusters, KV (moves) ─ checkpoint ─ Object Store ─▶ models, KV "model"
 * ```
 */
import { join } from "node:path";
import {
  concatMap,
  filter,
  from,
  lastValueFrom,
  map,
  merge,
  mergeMap,
  Subject,
  takeUntil,
} from "rxjs";
import type { ScanConfig } from "../../src/config.ts";
import { BACKBONES } from "../../src/models/resnet.ts";
import { batchWithin } from "../../src/operators/batch_within.ts";
import { JoinById } from "../../src/operators/join_by_id.ts";
import { storedAssignmentSchema } from "../../src/protocol/kv.ts";
import { refuseMessage } from "../../src/protocol/refuse.ts";
import { featureWidths } from "../../src/protocol/stage_messages.ts";
import { publishEach } from "../../src/operators/publish_each.ts";
import {
  type AssignmentEvent,
  type ClusterUpdateEvent,
  encodeEvent,
  type LabelEvent,
} from "../../src/stream/events.ts";
import type { RoundConfig } from "../../src/stream/round_config.ts";
import type { StoredImage } from "../../src/stream/store.ts";
import { StreamTrainer } from "../../src/stream/trainer.ts";
import { trainingLoop } from "../../src/stream/training_loop.ts";
import { type BusMessage, JSON_HEADERS, publishJson } from "../../src/transport/bus.ts";
import {
  type CheckpointAnnouncement,
  PipelineState,
  type PipelineSummary,
  startHeartbeat,
  type StoredAssignment,
} from "../../src/transport/pipeline_state.ts";
import {
  decodeEmbeddingMessage,
  decodeImageMessage,
  type EmbeddingMessage,
  type ImageMessage,
} from "../../src/transport/stage_messages.ts";
import { PublishLedger } from "../../src/transport/publish_ledger.ts";
import { reportReplayGap } from "../../src/transport/replay_gap.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { concatFloat32 } from "../../src/util/concat.ts";
import { printable, quote } from "../../src/util/quote.ts";
import { describeRound, SERVING_WINDOW_MS } from "../stream.ts";
import { MODEL_KEY } from "./embed_worker.ts";
import { now, shareConfig, type WorkerContext } from "./worker_context.ts";

/** Options of the cluster worker. */
export interface ClusterWorkerOptions {
  readonly config: ScanConfig;
  readonly rounds: RoundConfig;
  /** Where the trainer's state lives (required: checkpoints are uploaded from there). */
  readonly stateDir: string;
  /** Ground truth, path -> class name; only for the metrics of updates. */
  readonly labels?: ReadonlyMap<string, string>;
  /** Images per add (default 32) and longest wait for a batch (default `SERVING_WINDOW_MS`). */
  readonly batchSize?: number;
  readonly batchWaitMs?: number;
  /** Training threads (default: all cores but one, at least one). */
  readonly threads?: number;
  /**
   * Most images (and features) waiting for their other half, and the longest wait (default
   * 4096, 10 minutes); an image whose features never come is dropped with an `errors` event.
   */
  readonly maxWaiting?: number;
  readonly maxWaitMs?: number;
}

/** What the cluster stage did this run. */
export interface ClusterSummary {
  readonly stored: number;
  /** Of them, stored with features from the embed pool (the rest were refreshed here). */
  readonly pooled: number;
  /** Of them, images whose features did not come in time (embedded here). */
  readonly orphans: number;
  readonly assigned: number;
  readonly updates: number;
  readonly version: number;
  readonly checkpoint: number;
  readonly images: number;
}

/** An image with the features the pool computed for it. */
interface Joined {
  readonly image: ImageMessage;
  /** Absent for an image whose features did not come in time: it is embedded here. */
  readonly features?: EmbeddingMessage;
}

const STATE_KEY_SUMMARY = "summary";

/** Run until `ctx.signal` aborts; then drain, save the state and return. */
export async function runClusterWorker(
  ctx: WorkerContext,
  options: ClusterWorkerOptions,
): Promise<ClusterSummary> {
  const { config, stateDir, labels } = options;
  const s = subjects(ctx.name);
  // Exactly once on the bus across restarts, whatever the gap: what is already stored is skipped.
  const ledger = await PublishLedger.open(ctx.bus, stateDir);
  /** Ids assigned but not yet on the bus and in KV: saved as unassigned by a checkpoint. */
  const unconfirmed = new Set<string>();
  const trainer = await StreamTrainer.open({
    config,
    rounds: options.rounds,
    stateDir,
    threads: options.threads,
  });
  await shareConfig(ctx.state, config);
  const counts = { stored: 0, pooled: 0, assigned: 0, updates: 0, orphans: 0 };
  const clusterOf = new Map<string, number>();
  const assignmentSchema = storedAssignmentSchema(config.clusters);
  const readAssignment = async (id: string) => {
    try {
      return await PipelineState.read(ctx.state.assignments, id, assignmentSchema);
    } catch (error) {
      ctx.log(`cluster: skipped a stored assignment: ${printable((error as Error).message)}`);
      return undefined;
    }
  };
  for await (const id of await ctx.state.assignments.keys()) {
    const stored = await readAssignment(id);
    if (stored !== undefined) clusterOf.set(id, stored.cluster);
  }
  const waiting = new JoinById<ImageMessage, EmbeddingMessage>({
    limit: options.maxWaiting ?? 4096,
    maxWaitMs: options.maxWaitMs ?? 10 * 60_000,
  });
  const refuser = { bus: ctx.bus, name: ctx.name, log: ctx.log, stage: "cluster" };
  // Images past the stream's retention that the store does not hold cannot come back.
  await reportReplayGap(ctx.bus, ctx.name, "cluster", ctx.log);
  const stopping = new Subject<void>();
  const abort = new AbortController();
  const trainingRounds = trainingLoop(trainer, abort.signal);
  ctx.signal.addEventListener("abort", () => {
    stopping.next();
    abort.abort();
  }, { once: true });

  const writeSummary = () =>
    PipelineState.write(
      ctx.state.state,
      STATE_KEY_SUMMARY,
      {
        images: trainer.store.n,
        modelVersion: trainer.version,
        checkpoint: trainer.serving.round,
        sizes: sizesOf(clusterOf, config.clusters, trainer.version),
        waiting: waiting.waiting.left,
        at: now(),
      } satisfies PipelineSummary,
    );

  const announce = async () => {
    const serving = trainer.serving;
    await ledger.mark();
    await trainer.checkpoint(true, unconfirmed);
    const prefix = await ctx.state.uploadCheckpoint(
      serving.round,
      join(stateDir, `models-${serving.round}`),
    );
    const announcement: CheckpointAnnouncement = {
      checkpoint: serving.round,
      prefix,
      modelVersion: serving.version,
      head: serving.head,
      permutation: serving.permutation,
      at: now(),
    };
    await PipelineState.write(ctx.state.state, MODEL_KEY, announcement);
    await publishJson(ctx.bus, s.models, announcement);
  };

  const publishAssignment = async (event: AssignmentEvent) => {
    await ledger.bus.publish(s.assignments, encodeEvent(event), {
      headers: JSON_HEADERS,
      msgId: `assignment:${event.id}`,
    });
    await PipelineState.write(
      ctx.state.assignments,
      event.id,
      {
        path: event.path,
        cluster: event.cluster,
        confidence: event.confidence,
        modelVersion: event.modelVersion,
      } satisfies StoredAssignment,
    );
    clusterOf.set(event.id, event.cluster);
    unconfirmed.delete(event.id);
    counts.assigned++;
  };
  // The pseudo-labels self-labelling accepted, as the stream publishes them (once per round).
  const publishLabels = (event: LabelEvent, round: number) =>
    ledger.bus.publish(s.labels, encodeEvent(event), {
      headers: JSON_HEADERS,
      msgId: `labels:${round}`,
    });
  const publishUpdate = async (event: ClusterUpdateEvent) => {
    await ledger.bus.publish(s.clusters, encodeEvent(event), {
      headers: JSON_HEADERS,
      msgId: `clusters:${event.version}`,
    });
    for (const move of event.moved) {
      const stored = await readAssignment(move.id);
      if (stored === undefined) continue;
      await PipelineState.write(
        ctx.state.assignments,
        move.id,
        {
          ...stored,
          cluster: move.to,
          modelVersion: event.version,
        } satisfies StoredAssignment,
      );
      clusterOf.set(move.id, move.to);
    }
    counts.updates++;
  };
  const publishPending = () => {
    // All of them at once: a checkpoint taken while the first is published must not count the
    // rest as published.
    const events = trainer.assignPending();
    for (const event of events) unconfirmed.add(event.id);
    return lastValueFrom(from(events).pipe(publishEach(publishAssignment)), {
      defaultValue: undefined,
    });
  };

  const toStored = (image: ImageMessage): StoredImage => ({
    id: image.id,
    path: image.path,
    pixels: image.pixels,
    label: labels?.get(image.path),
  });

  // Both subjects from their first message; each side waits for the other (bounded). A message
  // is checked whole (id grammar, image side, feature widths, finite features) before anything
  // is stored; a refused one is one `errors` event.
  const widths = featureWidths(BACKBONES[config.backbone]?.widths);
  const decoded = <T>(decode: (m: BusMessage) => T) =>
    concatMap(async (msg: BusMessage) => {
      try {
        return [decode(msg)];
      } catch (error) {
        await refuseMessage(refuser, msg, error);
        return [];
      }
    });
  const images = ctx.bus.subscribe(s.images, { deliverAll: true }).pipe(
    decoded((msg) => decodeImageMessage(msg, { size: config.inputSize })),
    mergeMap((list) => list),
    map((image): Joined | undefined => {
      if (trainer.store.has(image.id)) return undefined;
      const features = waiting.left(image.id, image);
      return features === undefined ? undefined : { image, features };
    }),
  );
  const embeddings = ctx.bus.subscribe(s.embeddings, { deliverAll: true }).pipe(
    decoded((msg) => decodeEmbeddingMessage(msg, widths)),
    mergeMap((list) => list),
    map((features): Joined | undefined => {
      if (trainer.store.has(features.id)) return undefined;
      const image = waiting.right(
        features.id,
        features,
        (known) => known.checkpoint < features.checkpoint,
      );
      return image === undefined ? undefined : { image, features };
    }),
  );
  // An image whose features did not come in time (or that was pushed out by newer ones) is not
  // kept waiting: it is embedded here, as stale features are, and the wait is logged.
  const orphans = new Subject<Joined>();
  const expiry = setInterval(() => {
    for (const dropped of waiting.expire()) {
      const seconds = Math.round(dropped.waitedMs / 1000);
      if (dropped.side === "right") {
        ctx.log(`cluster: dropped the features of ${dropped.id}: no image came in ${seconds} s`);
        continue;
      }
      const image = dropped.value as ImageMessage;
      counts.orphans++;
      ctx.log(
        `cluster: ${quote(image.path)} waited ${seconds} s for its features (${
          dropped.why === "expired" ? "they did not come" : "too many images wait"
        }); embedding it here`,
      );
      if (!trainer.store.has(image.id)) orphans.next({ image });
    }
  }, Math.min(5_000, options.maxWaitMs ?? 5_000));

  const serving = lastValueFrom(
    merge(images, embeddings, orphans).pipe(
      takeUntil(stopping),
      filter((joined): joined is Joined => joined !== undefined),
      batchWithin(options.batchSize ?? 32, options.batchWaitMs ?? SERVING_WINDOW_MS),
      concatMap(async (batch) => {
        // Checked now, in this synchronous section: a round may have ended since they arrived.
        const round = trainer.serving.round;
        const fresh = batch.filter((j) => j.features?.checkpoint === round);
        const stale = batch.filter((j) => j.features?.checkpoint !== round);
        const pooled = trainer.add(fresh.map((j) => toStored(j.image)), {
          projected: concatFloat32(fresh.map((j) => j.features!.projected)),
          backbone: concatFloat32(fresh.map((j) => j.features!.backbone)),
        });
        const refreshed = trainer.add(stale.map((j) => toStored(j.image)));
        counts.pooled += pooled.length;
        counts.stored += pooled.length + refreshed.length;
        await publishPending();
        await writeSummary();
        if (pooled.length + refreshed.length > 0) trainingRounds.wake();
      }),
    ),
    { defaultValue: undefined },
  );

  const training = (async () => {
    await announce();
    await publishPending();
    await writeSummary();
    await trainingRounds.run(async (report) => {
      ctx.log(describeRound(report));
      if (report.update !== null) await publishUpdate(report.update);
      if (report.labels !== null) await publishLabels(report.labels, report.round);
      await publishPending();
      await announce();
      await writeSummary();
    });
  })();

  const started = now();
  const stopHeartbeat = startHeartbeat(ctx.state, () => ({
    id: ctx.id,
    stage: "cluster",
    host: Deno.hostname(),
    pid: Deno.pid,
    startedAt: started,
    processed: counts.stored,
    checkpoint: trainer.serving.round,
  }));

  let failure: unknown;
  const fail = (error: unknown) => {
    failure ??= error;
    stopping.next();
    abort.abort();
  };
  serving.catch(fail);
  training.catch(fail);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    ctx.signal.addEventListener("abort", () => resolve(), { once: true });
    serving.catch(() => resolve());
    training.catch(() => resolve());
  });
  await Promise.allSettled([serving, training]);
  clearInterval(expiry);
  try {
    await stopHeartbeat();
    if (failure === undefined) {
      await publishPending();
      await writeSummary();
      await ledger.mark();
      await trainer.checkpoint(false, unconfirmed);
    }
  } finally {
    await trainer.dispose();
  }
  if (failure !== undefined) throw failure;
  return {
    ...counts,
    version: trainer.version,
    checkpoint: trainer.serving.round,
    images: trainer.store.n,
  };
}

/** Images per cluster from the current assignments; empty before the first clustering. */
function sizesOf(clusterOf: ReadonlyMap<string, number>, clusters: number, version: number) {
  if (version === 0) return [];
  const sizes = new Array<number>(clusters).fill(0);
  for (const c of clusterOf.values()) sizes[c]++;
  return sizes;
}
