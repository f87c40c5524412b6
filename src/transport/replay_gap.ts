/**
 * Whether a replay from the first stored message still sees the whole history. The JetStream
 * stream keeps messages for a bounded time and size (7 days, 1 GiB by default) and drops the
 * oldest; the mine and cluster stages rebuild by replaying from the first stored message. Past
 * the retention that replay starts later than the pipeline did, and a rebuild from it is
 * incomplete: the stage says so, once, in its log and on `errors`, instead of going on silently
 * (docs/protocol.md, "Retention and rebuild").
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Bus } from "./bus.ts";
import { publishJson } from "./bus.ts";
import { streamName, subjects } from "./subjects.ts";

/** The first sequence the stream still holds, and whether older ones were removed. */
export interface ReplayStart {
  readonly firstSeq: number;
  /** Messages removed from the head of the stream (retention, a purge). */
  readonly dropped: number;
}

/** Where a replay of pipeline `name`'s stream starts now. */
export async function replayStart(nc: NatsConnection, name: string): Promise<ReplayStart> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(streamName(name));
  const firstSeq = info.state.first_seq;
  return { firstSeq, dropped: Math.max(0, firstSeq - 1) };
}

/**
 * Check the replay of stage `stage` and report a gap: a log line and one `errors` event.
 *
 * @returns the replay's start (for tests and summaries).
 */
export async function reportReplayGap(
  bus: Bus & { readonly connection: NatsConnection },
  name: string,
  stage: string,
  log: (line: string) => void,
): Promise<ReplayStart> {
  const start = await replayStart(bus.connection, name);
  if (start.dropped > 0) {
    const reason = `${stage}: the replay starts at message ${start.firstSeq}: ` +
      `${start.dropped} older messages were removed (retention or purge), so what this stage ` +
      "rebuilds from the subjects is incomplete (docs/protocol.md, Retention and rebuild)";
    log(reason);
    await publishJson(bus, subjects(name).errors, {
      path: `${streamName(name)} (stream)`,
      reason,
      at: new Date().toISOString(),
    }, `replay-gap:${stage}:${start.firstSeq}`);
  }
  return start;
}
