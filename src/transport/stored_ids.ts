/**
 * The message ids a JetStream stream holds from a sequence on: how a publisher learns, after a
 * restart or an outage longer than the duplicate window, which of its messages are already
 * stored. JetStream drops a repeated `Nats-Msg-Id` only within its duplicate window; this reads
 * the ids themselves (headers only, no payloads), so the answer holds whatever the gap.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";

/** The header JetStream deduplicates by. */
export const MSG_ID_HEADER = "Nats-Msg-Id";

/** What the stream held from `fromSeq` when it was read. */
export interface StoredIds {
  readonly ids: Set<string>;
  /** The stream's last sequence when reading began (0: empty). */
  readonly lastSeq: number;
}

/** The stream's last sequence now (0 when empty). */
export async function lastSequence(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(stream)).state.last_seq;
}

/**
 * The `Nats-Msg-Id` of every message of `stream` from sequence `fromSeq` to the last one now.
 *
 * @param timeoutMs longest wait for one message (a stream being read is never idle that long).
 */
export async function storedIds(
  nc: NatsConnection,
  stream: string,
  fromSeq: number,
  timeoutMs = 5000,
): Promise<StoredIds> {
  const lastSeq = await lastSequence(nc, stream);
  const ids = new Set<string>();
  const start = Math.max(1, fromSeq);
  if (lastSeq < start) return { ids, lastSeq };
  const consumer = await jetstream(nc).consumers.get(stream, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: start,
    headers_only: true,
  });
  try {
    while (true) {
      const msg = await consumer.next({ expires: timeoutMs });
      if (msg === null) {
        throw new Error(
          `Cannot read the message ids of ${stream}: no message within ${timeoutMs} ms before ` +
            `sequence ${lastSeq}`,
        );
      }
      const id = msg.headers?.get(MSG_ID_HEADER);
      if (id) ids.add(id);
      if (msg.seq >= lastSeq) break;
    }
  } finally {
    await consumer.delete().catch(() => {});
  }
  return { ids, lastSeq };
}
