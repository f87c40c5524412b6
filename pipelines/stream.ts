/**
 * The streaming form of SCAN (DESIGN.md, "The streaming form"): images dropped into a directory
 * are ingested, stored, published, embedded into the neighbour index and, once a clustering
 * exists, assigned; a background trainer runs bounded rounds and publishes a cluster update for
 * each round that changed something. Every event goes out on the pipeline's subjects.
 *
 * ```
 * ingest(dir) ─ divertRefusals ──────────────────────────────────▶ errors
 *      └─ batchWithin ─ store + index (trainer.add) ─ publishEach ▶ images
 *                            └─ assignPending ─ publishEach ─────▶ assignments
 * trainer rounds ─ cluster update ─────────────────────────────────▶ clusters
 *      ├─ pseudo-labels accepted by self-labelling ──────────────────▶ labels
 *      └─ assignPending (the first clustering assigns everything seen so far) ▶ assignments
 * ```
 *
 * `stop()` drains: ingestion stops taking files, the images already read are stored, published
 * and assigned, the running round is abandoned at its next step, and the state is saved.
 *
 * Backpressure is explicit: at most `maxBuffered` decoded images wait between the decoder and the
 * store (ingest credits), and at most `maxPendingPublishes` events wait for the bus (the outbox),
 * so a NATS outage does not stop storing and assigning until the outbox is full, and then stops
 * the decoder instead of growing a queue. An assignment counts as published in the saved state
 * only once the bus has it, so a crash during an outage loses no assignment event.
 */
import { JSON_HEADERS } from "../src/transport/bus.ts";
import { concatMap, from, lastValueFrom, Subject, takeUntil } from "rxjs";
import type { ScanConfig } from "../src/config.ts";
import {
  ingest,
  type IngestedImage,
  type IngestOptions,
  type IngestRefusal,
  isIngestRefusal,
} from "../src/ingest/ingest.ts";
import { Credits } from "../src/ingest/credits.ts";
import { batchWithin } from "../src/operators/batch_within.ts";
import { divertRefusals } from "../src/operators/divert_refusals.ts";
import { publishEach } from "../src/operators/publish_each.ts";
import {
  type AssignmentEvent,
  type ClusterUpdateEvent,
  encodeEvent,
  type LabelEvent,
  refusalEvent,
} from "../src/stream/events.ts";
import type { RoundConfig } from "../src/stream/round_config.ts";
import type { StoredImage } from "../src/stream/store.ts";
import { type RoundReport, StreamTrainer } from "../src/stream/trainer.ts";
import { trainingLoop } from "../src/stream/training_loop.ts";
import type { Unpublished } from "../src/stream/trainer_state.ts";
import type { Bus } from "../src/transport/bus.ts";
import { hashedMessageId } from "../src/transport/message_id.ts";
import { Outbox } from "../src/transport/outbox.ts";
import { PublishLedger } from "../src/transport/publish_ledger.ts";
import { subjects } from "../src/transport/subjects.ts";
import { encodeImageMessage } from "../src/transport/stage_messages.ts";
import { printable, quote } from "../src/util/quote.ts";

/** What a stream needs. */
export interface StreamOptions {
  /** The directory to watch; only ever read. */
  readonly watch: string;
  /** Where events go. The stream does not close it. */
  readonly bus: Bus;
  /** Pipeline name: subjects `scan.<name>.*`. */
  readonly name: string;
  readonly config: ScanConfig;
  readonly rounds: RoundConfig;
  /** Where the state lives (see `StreamTrainer`); without it nothing survives a restart. */
  readonly stateDir?: string;
  /** Ground truth, file (relative to `watch`) -> class name; only for the metrics of updates. */
  readonly labels?: ReadonlyMap<string, string>;
  /**
   * Ingestion settings (quiet periods, workers; 8 files per worker unless given); `size` comes
   * from the config.
   */
  readonly ingest?: Omit<Partial<IngestOptions>, "size" | "knownIds">;
  /**
   * Images per serving batch (default 32) and longest wait for a batch to fill (default
   * `SERVING_WINDOW_MS`).
   */
  readonly batchSize?: number;
  readonly batchWaitMs?: number;
  /** Most decoded images waiting to be stored (default 4 batches). */
  readonly maxBuffered?: number;
  /** Most events waiting for the bus, e.g. during a NATS outage (default 512). */
  readonly maxPendingPublishes?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
  /** Training threads (default: all cores but one, at least one). */
  readonly threads?: number;
}

/** Counts of what a stream did, for its last progress line and for tests. */
export interface StreamSummary {
  /** Images stored (new ones, this run). */
  readonly ingested: number;
  /** Refusals published this run. */
  readonly refused: number;
  /** Assignment events published this run. */
  readonly assigned: number;
  /** Cluster updates published this run. */
  readonly updates: number;
  /** Model version at the end. */
  readonly version: number;
  /** Images in the store at the end. */
  readonly images: number;
}

/**
 * The default longest wait of an image for its serving batch to fill. Short, since this thread
 * only serves: a batch of one or two images costs a few milliseconds, and training never holds
 * the thread (it runs in the pool). It bounds the latency from file to assignment.
 */
export const SERVING_WINDOW_MS = 50;

/** A running stream. */
export interface RunningStream {
  readonly trainer: StreamTrainer;
  /** Resolves when the stream has stopped (after `stop()`), rejects when it failed. */
  readonly done: Promise<StreamSummary>;
  /** The bounds of the backpressure, to watch their fill (soak, tests). */
  readonly credits: Credits;
  readonly outbox: Outbox;
  /** Drain, save the state, and stop; resolves like `done`. Safe to call twice. */
  stop(): Promise<StreamSummary>;
}

/**
 * Start a stream on `options.watch`; resumes from `options.stateDir` when it holds a state.
 *
 * @throws {Error} when the state cannot be resumed with this config.
 */
export async function startStream(options: StreamOptions): Promise<RunningStream> {
  const { config, labels } = options;
  const log = options.log ?? (() => {});
  // Exactly once on the bus across restarts, whatever the gap: what is already stored is skipped.
  const ledger = await PublishLedger.open(options.bus, options.stateDir);
  const bus = ledger.bus;
  const s = subjects(options.name);
  const trainer = await StreamTrainer.open({
    config,
    rounds: options.rounds,
    stateDir: options.stateDir,
    threads: options.threads,
  });
  const counts = { ingested: 0, refused: 0, assigned: 0, updates: 0 };
  const batchSize = options.batchSize ?? 32;
  const credits = new Credits(options.maxBuffered ?? 4 * batchSize);
  const outbox = new Outbox(options.maxPendingPublishes ?? 512, {
    onDropped: (error) => log(`dropped a message that can never be published: ${describe(error)}`),
  });
  /** Ids whose assignment is made but not yet on the bus: not saved as published. */
  const unconfirmed = new Set<string>();
  /**
   * Everything else handed to the bus and not confirmed yet: a checkpoint saves it, and the next
   * start publishes it again (the same message ids), so a crash during an outage loses nothing.
   * Refusals are noted as reported only once confirmed: a restart meets the file again.
   */
  const pendingImages = new Set<string>();
  const pendingEvents = new Map<string, Unpublished["events"][number]>();
  const pendingRefusals = new Set<string>();
  const unpublished = (): Unpublished => ({
    images: [...pendingImages],
    events: [...pendingEvents.values()],
  });
  const stopping = new Subject<void>();
  const abort = new AbortController();
  const trainingRounds = trainingLoop(trainer, abort.signal);
  const wakeTrainer = () => trainingRounds.wake();

  // Message ids name the event, so a publish retried (or repeated after a crash) within the
  // stream's duplicate window is stored once. An image is assigned once in its life (moves go in
  // cluster updates), so its assignment's id is the image id alone: with the model version in it,
  // a restart that re-assigns under another version would store a second assignment.
  const publishRefusal = async (refusal: IngestRefusal) => {
    try {
      const { path } = refusal;
      if (trainer.refusalReported(path) || pendingRefusals.has(path)) return;
      pendingRefusals.add(path);
      const event = refusalEvent({ path, reason: refusal.reason });
      await outbox.send(
        () =>
          bus.publish(s.errors, encodeEvent(event), {
            headers: JSON_HEADERS,
            msgId: hashedMessageId("refusal", path),
          }),
        () => {
          trainer.reportRefusal(path);
          pendingRefusals.delete(path);
          counts.refused++;
        },
      );
      log(`refused ${quote(refusal.path)}: ${printable(refusal.reason)}`);
    } finally {
      credits.release();
    }
  };
  const publishImage = (image: StoredImage) => {
    const { payload, headers } = encodeImageMessage({ ...image, size: config.inputSize });
    pendingImages.add(image.id);
    return outbox.send(
      () => bus.publish(s.images, payload, { headers, msgId: `image:${image.id}` }),
      () => pendingImages.delete(image.id),
    );
  };
  const publishAssignment = (event: AssignmentEvent) => {
    unconfirmed.add(event.id);
    return outbox.send(
      () =>
        bus.publish(s.assignments, encodeEvent(event), {
          headers: JSON_HEADERS,
          msgId: `assignment:${event.id}`,
        }),
      () => {
        unconfirmed.delete(event.id);
        counts.assigned++;
      },
    );
  };
  /** A cluster update or labels, encoded, until the bus has it (see `pendingEvents`). */
  const publishPendingEvent = (pending: Unpublished["events"][number]) => {
    pendingEvents.set(pending.msgId, pending);
    return outbox.send(
      () =>
        bus.publish(s[pending.subject], new TextEncoder().encode(pending.event), {
          headers: JSON_HEADERS,
          msgId: pending.msgId,
        }),
      () => {
        pendingEvents.delete(pending.msgId);
        if (pending.subject === "clusters") counts.updates++;
      },
    );
  };
  const publishUpdate = (event: ClusterUpdateEvent) =>
    publishPendingEvent({
      subject: "clusters",
      msgId: `clusters:${event.version}`,
      event: new TextDecoder().decode(encodeEvent(event)),
    });
  const publishLabels = (event: LabelEvent, round: number) =>
    publishPendingEvent({
      subject: "labels",
      msgId: `labels:${round}`,
      event: new TextDecoder().decode(encodeEvent(event)),
    });
  /** What the last checkpoint saw unconfirmed, published again (the ledger skips what arrived). */
  const republish = async () => {
    const { images, events } = trainer.unpublished;
    for (const id of images) {
      if (!trainer.store.has(id)) continue;
      const i = trainer.store.indexOf(id);
      await publishImage({ id, path: trainer.store.pathOf(i), pixels: trainer.store.pixelsOf(i) });
    }
    for (const event of events) await publishPendingEvent(event);
  };
  const publishPending = () =>
    lastValueFrom(
      from(trainer.assignPending()).pipe(publishEach(publishAssignment)),
      { defaultValue: undefined },
    );

  const toStored = (image: IngestedImage): StoredImage => ({
    id: image.id,
    path: image.path,
    pixels: image.pixels,
    receivedAt: image.receivedAt,
    label: labels?.get(image.path),
  });

  // Images on the path from ingestion to their assignment.
  const serving = lastValueFrom(
    ingest(options.watch, {
      // Files queued per decode worker: the worker keeps decoding while a training step holds the
      // main thread (2 gave a third of the burst throughput of 8 in the soak, BENCHMARKS.md).
      perWorker: 8,
      ...options.ingest,
      size: config.inputSize,
      knownIds: trainer.store.view().ids,
      credits,
    }).pipe(
      takeUntil(stopping),
      divertRefusals<IngestedImage, IngestRefusal>(isIngestRefusal, publishRefusal),
      batchWithin(batchSize, options.batchWaitMs ?? SERVING_WINDOW_MS),
      concatMap(async (batch) => {
        let added: StoredImage[];
        try {
          added = trainer.add(batch.map(toStored));
        } finally {
          credits.release(batch.length);
        }
        counts.ingested += added.length;
        await lastValueFrom(from(added).pipe(publishEach(publishImage)), {
          defaultValue: undefined,
        });
        await publishPending();
        if (added.length > 0) wakeTrainer();
      }),
    ),
    { defaultValue: undefined },
  );

  // The background trainer: a round, its update, the assignments it made possible, a checkpoint.
  const training = (async () => {
    await republish();
    await publishPending();
    await trainingRounds.run(async (report) => {
      log(describeRound(report));
      if (report.update !== null) await publishUpdate(report.update);
      if (report.labels !== null) await publishLabels(report.labels, report.round);
      await publishPending();
      await ledger.mark();
      await trainer.checkpoint(true, unconfirmed, unpublished);
    });
  })();

  let failure: unknown;
  const failed = new Promise<void>((resolve) => {
    const fail = (error: unknown) => {
      failure ??= error;
      stopping.next();
      abort.abort();
      resolve();
    };
    serving.catch(fail);
    training.catch(fail);
    outbox.failed.catch(fail);
  });
  let requestStop!: () => void;
  const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));

  // A failure finishes the stream by itself; a clean stop waits for `stop()`.
  const done = Promise.race([stopRequested, failed]).then(async () => {
    await Promise.allSettled([serving, training]);
    try {
      if (failure === undefined) {
        await publishPending();
        await outbox.flush();
        await ledger.mark();
        await trainer.checkpoint(false, unconfirmed, unpublished);
      }
    } finally {
      await trainer.dispose();
    }
    if (failure !== undefined) throw failure;
    const summary: StreamSummary = { ...counts, version: trainer.version, images: trainer.store.n };
    log(
      `stopped: ${summary.images} images, version ${summary.version}; this run ingested ` +
        `${summary.ingested}, refused ${summary.refused}, assigned ${summary.assigned}, ` +
        `published ${summary.updates} updates`,
    );
    return summary;
  });
  done.catch(() => {});

  return {
    trainer,
    credits,
    outbox,
    done,
    stop() {
      stopping.next();
      abort.abort();
      requestStop();
      return done;
    },
  };
}

function describe(error: unknown): string {
  return printable(error instanceof Error ? error.message : String(error));
}

/** A round as one progress line (the cluster worker logs the same). */
export function describeRound(report: RoundReport): string {
  const l = report.losses;
  const parts = [
    `round ${report.round}: ${report.images} images, ${report.seconds.toFixed(1)}s`,
    l.pretext !== undefined ? `simclr ${l.pretext.toFixed(3)}` : "",
    l.total !== undefined
      ? `scan ${l.total.toFixed(3)} (consistency ${l.consistency!.toFixed(3)}, entropy ${
        l.entropy!.toFixed(3)
      })`
      : "",
    l.selflabel !== undefined ? `self-label ${l.selflabel.toFixed(3)}` : "",
    report.learningRateScale < 1 ? `rates x${report.learningRateScale.toFixed(2)}` : "",
  ];
  const u = report.update;
  if (u !== null) {
    parts.push(`-> version ${u.version}, sizes [${u.sizes.join(", ")}], ${u.moved.length} moved`);
    if (u.accuracy !== undefined) {
      parts.push(
        `accuracy ${u.accuracy.toFixed(3)} nmi ${u.nmi!.toFixed(3)} ari ${u.ari!.toFixed(3)}`,
      );
    }
  } else if (report.moved !== null) {
    parts.push(`${report.moved} would move: not published`);
  }
  return parts.filter((p) => p !== "").join(", ");
}
