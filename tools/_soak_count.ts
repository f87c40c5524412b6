/**
 * For `deno task soak --hostile`: what the JetStream stream holds, counted by a consumer of its
 * own from the first message, after the faults are over. The soak's live subscriber saw the
 * events as they came; this is what a late reader gets, and what "exactly once on the bus" is
 * about.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type * as v from "valibot";
import { parseJson } from "../src/protocol/parse.ts";

/** How often each key is stored, and how many messages failed the schema (forged ones). */
export interface StoredCount {
  readonly counts: Map<string, number>;
  readonly refused: number;
}

/**
 * Every message of `stream` on `subject` parsed by `schema`, counted by `key` of the value.
 *
 * @throws {Error} when a message does not come within 10 s of the last one.
 */
export async function countStored<T>(
  nc: NatsConnection,
  stream: string,
  subject: string,
  schema: v.GenericSchema<unknown, T>,
  key: (value: T) => string,
): Promise<StoredCount> {
  const counts = new Map<string, number>();
  let refused = 0;
  const consumer = await jetstream(nc).consumers.get(stream, {
    deliver_policy: DeliverPolicy.All,
    filter_subjects: subject,
  });
  try {
    const pending = (await consumer.info()).num_pending;
    for (let i = 0; i < pending; i++) {
      const msg = await consumer.next({ expires: 10_000 });
      if (msg === null) {
        throw new Error(
          `Cannot count ${subject}: message ${i + 1} of ${pending} did not come within 10 s`,
        );
      }
      let value: T;
      try {
        value = parseJson(schema, msg.data, subject);
      } catch {
        refused++;
        continue;
      }
      const k = key(value);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  } finally {
    await consumer.delete().catch(() => {});
  }
  return { counts, refused };
}
