/**
 * The ingest stage in its own process: watch a directory, publish each distinct image on
 * `scan.<p>.images` (for the embed pool and the cluster stage) and each refusal on
 * `scan.<p>.errors`. Stateless: on a restart the images the assignments bucket already holds
 * are skipped, and JetStream's duplicate window drops the re-publication of any other.
 *
 * ```
 * ingest(dir) ─ divertRefusals ─────────────▶ errors
 *      └─ publishEach ───────────────────────▶ images
 * ```
 */
import { fromEvent, lastValueFrom, takeUntil, tap } from "rxjs";
import {
  ingest,
  type IngestedImage,
  type IngestOptions,
  type IngestRefusal,
  isIngestRefusal,
} from "../../src/ingest/ingest.ts";
import { divertRefusals } from "../../src/operators/divert_refusals.ts";
import { publishEach } from "../../src/operators/publish_each.ts";
import { refusalEvent } from "../../src/stream/events.ts";
import { publishJson } from "../../src/transport/bus.ts";
import { hashedMessageId } from "../../src/transport/message_id.ts";
import { isPermanentPublishError } from "../../src/transport/outbox.ts";
import { startHeartbeat } from "../../src/transport/pipeline_state.ts";
import { encodeImageMessage } from "../../src/transport/stage_messages.ts";
import { subjects } from "../../src/transport/subjects.ts";
import { printable, quote } from "../../src/util/quote.ts";
import { waitForConfig, type WorkerContext } from "./worker_context.ts";

/** Options of the ingest worker. */
export interface IngestWorkerOptions {
  /** The directory to watch; only ever read. */
  readonly watch: string;
  readonly ingest?: Omit<Partial<IngestOptions>, "size" | "knownIds">;
}

/** Counts of what the worker published. */
export interface IngestSummary {
  readonly published: number;
  readonly refused: number;
}

/**
 * Run `publish`; one that can never succeed (`isPermanentPublishError`) is logged and dropped,
 * so one bad message cannot stop the worker, nor stop it again on every restart.
 *
 * @returns whether it was published.
 */
async function dropPermanent(ctx: WorkerContext, publish: () => Promise<void>): Promise<boolean> {
  try {
    await publish();
    return true;
  } catch (error) {
    if (!isPermanentPublishError(error)) throw error;
    ctx.log(`dropped a message that can never be published: ${printable(String(error))}`);
    return false;
  }
}

/** Run until `ctx.signal` aborts (or the directory goes away). */
export async function runIngestWorker(
  ctx: WorkerContext,
  options: IngestWorkerOptions,
): Promise<IngestSummary> {
  const config = await waitForConfig(ctx);
  if (config === undefined) return { published: 0, refused: 0 };
  const s = subjects(ctx.name);
  const counts = { published: 0, refused: 0 };
  const started = new Date().toISOString();
  const stopHeartbeat = startHeartbeat(ctx.state, () => ({
    id: ctx.id,
    stage: "ingest",
    host: Deno.hostname(),
    pid: Deno.pid,
    startedAt: started,
    processed: counts.published,
  }));
  const known: string[] = [];
  for await (const id of await ctx.state.assignments.keys()) known.push(id);

  // The id never holds the path: NATS refuses CR and LF in headers (see `hashedMessageId`).
  const publishRefusal = async (refusal: IngestRefusal) => {
    const event = refusalEvent({ path: refusal.path, reason: refusal.reason });
    const published = await dropPermanent(
      ctx,
      () => publishJson(ctx.bus, s.errors, event, hashedMessageId("refusal", refusal.path)),
    );
    if (published) counts.refused++;
    ctx.log(`refused ${quote(refusal.path)}: ${printable(refusal.reason)}`);
  };
  const publishImage = async (image: IngestedImage) => {
    await dropPermanent(ctx, () => {
      const { payload, headers } = encodeImageMessage({ ...image, size: config.inputSize });
      return ctx.bus.publish(s.images, payload, { headers, msgId: `image:${image.id}` });
    });
  };
  try {
    await lastValueFrom(
      ingest(options.watch, { ...options.ingest, size: config.inputSize, knownIds: known }).pipe(
        takeUntil(fromEvent(ctx.signal, "abort")),
        divertRefusals<IngestedImage, IngestRefusal>(isIngestRefusal, publishRefusal),
        publishEach(publishImage),
        tap(() => counts.published++),
      ),
      { defaultValue: undefined },
    );
  } finally {
    await stopHeartbeat();
  }
  return counts;
}
