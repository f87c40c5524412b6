/**
 * Saying that the bus is away (issue 13, finding 10): a stream or worker no longer exits when
 * the NATS server stays away (publishes retry, bounded), so it must say so instead. While the
 * connection is down it logs when it went away; when it is back it logs for how long and
 * publishes one `errors` event about the outage, which the board and `deno task events` show.
 */
import type { Subscription } from "rxjs";
import { publishJson } from "./bus.ts";
import type { NatsBus } from "./nats_bus.ts";
import { subjects } from "./subjects.ts";

/** Watch `bus`'s connection as `who`; unsubscribe to stop. */
export function reportBusAway(
  bus: NatsBus,
  name: string,
  who: string,
  log: (line: string) => void,
  now: () => number = Date.now,
): Subscription {
  let awaySince: number | undefined;
  return bus.connectionChanges().subscribe((change) => {
    if (change.type === "disconnect" && awaySince === undefined) {
      awaySince = now();
      log(
        `${who}: bus away since ${new Date(awaySince).toISOString()}: publishes wait and retry ` +
          "(bounded), work goes on",
      );
    } else if (change.type === "reconnect" && awaySince !== undefined) {
      const since = awaySince;
      awaySince = undefined;
      const seconds = ((now() - since) / 1000).toFixed(1);
      const reason = `${who}: the bus was away from ${new Date(since).toISOString()} for ` +
        `${seconds} s; publishes waited and were retried`;
      log(`${who}: bus back after ${seconds} s`);
      publishJson(bus, subjects(name).errors, {
        path: "nats (connection)",
        reason,
        at: new Date().toISOString(),
      }, `bus-away:${who}:${since}`).catch(() => {});
    }
  });
}
