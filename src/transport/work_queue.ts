/**
 * A JetStream work queue: one durable pull consumer shared by a pool of workers, with explicit
 * acknowledgements sent after the work is done (not, as `Bus.subscribe` does, when the message
 * is handed over). A worker that dies holding messages never acknowledges them, and the server
 * delivers them again to another member once `ackWaitMs` has passed: nothing is lost.
 *
 * Pull rather than a push queue group: each worker asks for a batch only when it has finished
 * the previous one, so a slow or busy worker is never handed more than it can take, an idle one
 * takes the rest, and adding a worker adds capacity without any reconfiguration.
 */
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  JetStreamError,
  jetstreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import type { BusMessage } from "./bus.ts";

/** Options of a work queue. */
export interface WorkQueueOptions {
  /** The JetStream stream that keeps `subject`. */
  readonly stream: string;
  readonly subject: string;
  /** Consumer name, the same for every member of the pool. */
  readonly durable: string;
  /** How long a delivered message may stay unacknowledged before it is redelivered. */
  readonly ackWaitMs?: number;
  /** Deliveries after which a message is given up (a message that kills every worker). */
  readonly maxDeliver?: number;
  /** Messages per batch (default 16). */
  readonly batch?: number;
  /** How long one pull waits for messages before it returns empty (default and least 1000 ms). */
  readonly expiresMs?: number;
}

/** One delivered message and what a worker says about it once done. */
export interface WorkItem {
  readonly message: BusMessage;
  /** How many times it has been delivered, this one included (> 1: a worker died holding it). */
  readonly deliveries: number;
  /** Done: never delivered again. */
  ack(): void;
  /** Cannot be done by anyone (malformed): never delivered again. */
  term(): void;
}

/** Defaults of the options. */
export const WORK_QUEUE_DEFAULTS = Object.freeze({
  ackWaitMs: 30_000,
  maxDeliver: 10,
  batch: 16,
  expiresMs: 1000,
});

/**
 * Create the durable consumer when it does not exist yet, delivering from the first message the
 * stream kept (work published before any worker ran is done too). An existing consumer keeps
 * the configuration it was created with.
 */
export async function ensureWorkQueue(
  nc: NatsConnection,
  options: WorkQueueOptions,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.consumers.info(options.stream, options.durable);
    return;
  } catch (error) {
    if (
      !(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)
    ) {
      throw error;
    }
  }
  const ackWaitMs = options.ackWaitMs ?? WORK_QUEUE_DEFAULTS.ackWaitMs;
  if (!(ackWaitMs > 0)) {
    throw new RangeError(
      `Cannot create work queue ${options.durable}: ackWaitMs must be positive, current value ` +
        `is ${ackWaitMs}`,
    );
  }
  await jsm.consumers.add(options.stream, {
    durable_name: options.durable,
    filter_subject: options.subject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_deliver: options.maxDeliver ?? WORK_QUEUE_DEFAULTS.maxDeliver,
  });
}

/**
 * Batches of work from the queue, until `signal` aborts: each batch is pulled only after the
 * caller has asked for the next one, so a member holds at most one batch at a time. The caller
 * acknowledges each item once its result is published. A pull that found nothing within
 * `expiresMs` yields an empty batch, so an idle caller still gets a turn (to load a model).
 */
export async function* pullBatches(
  nc: NatsConnection,
  options: WorkQueueOptions,
  signal: AbortSignal,
): AsyncGenerator<WorkItem[]> {
  await ensureWorkQueue(nc, options);
  const consumer = await jetstream(nc).consumers.get(options.stream, options.durable);
  const batch = options.batch ?? WORK_QUEUE_DEFAULTS.batch;
  const expires = options.expiresMs ?? WORK_QUEUE_DEFAULTS.expiresMs;
  while (!signal.aborted) {
    const messages = await consumer.fetch({ max_messages: batch, expires });
    const items: WorkItem[] = [];
    try {
      for await (const msg of messages) items.push(toItem(msg));
    } catch (error) {
      // A pull whose idle heartbeats came late (a busy machine stalls this thread or the
      // server for a second) ends like one that expired: the next pull asks again, and
      // anything the server had handed to this one is still held or redelivered after the
      // ack wait. Anything else (the consumer deleted, the connection closed) is a failure.
      if (!isMissedHeartbeats(error)) throw error;
    }
    yield items;
  }
}

function isMissedHeartbeats(error: unknown): boolean {
  return error instanceof JetStreamError && /heartbeats missed/i.test(error.message);
}

function toItem(msg: JsMsg): WorkItem {
  const headers: Record<string, string> = {};
  if (msg.headers !== undefined) {
    for (const key of msg.headers.keys()) headers[key] = msg.headers.get(key);
  }
  return {
    message: { subject: msg.subject, payload: msg.data, headers },
    deliveries: msg.info.deliveryCount,
    ack: () => msg.ack(),
    term: () => msg.term(),
  };
}
