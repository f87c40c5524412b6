/**
 * The board's subscriptions: the pipeline's assignments, cluster updates and refusals (and its
 * images, for a board in another process) from the first stored message on, folded into a
 * `BoardState`. A malformed event is logged and skipped; a subscription that fails is opened
 * again after a pause (the state ignores what it replays).
 */
import { retry, Subscription, timer } from "rxjs";
import {
  assignmentEvent,
  clusterUpdateEvent,
  decodeEvent,
  refusalEvent,
} from "../stream/events.ts";
import type { Bus, BusMessage } from "../transport/bus.ts";
import { subjects } from "../transport/subjects.ts";
import type { BoardState } from "./board_state.ts";
import type { ImageCache } from "./image_cache.ts";

/** Options of `feedBoard`. */
export interface FeedOptions {
  /** Where the images of the `images` subject go; without it that subject is not read. */
  readonly images?: ImageCache;
  /** Pause before a failed subscription is opened again. Default 2000 ms. */
  readonly retryMs?: number;
  /** Where skipped messages and subscription failures are reported. Default: nowhere. */
  readonly log?: (line: string) => void;
}

/** Subscribe `state` to pipeline `name`'s events on `bus`; unsubscribe to stop. */
export function feedBoard(
  bus: Bus,
  name: string,
  state: BoardState,
  options: FeedOptions = {},
): Subscription {
  const s = subjects(name);
  const log = options.log ?? (() => {});
  const retryMs = options.retryMs ?? 2000;
  const handlers: [string, (msg: BusMessage) => void][] = [
    [s.assignments, (msg) => state.applyAssignment(decodeEvent(msg.payload, assignmentEvent))],
    [s.clusters, (msg) => state.applyUpdate(decodeEvent(msg.payload, clusterUpdateEvent))],
    [s.errors, (msg) => state.applyRefusal(decodeEvent(msg.payload, refusalEvent))],
  ];
  const cache = options.images;
  if (cache !== undefined) handlers.push([s.images, (msg) => void cache.add(msg)]);
  const all = new Subscription();
  for (const [subject, handle] of handlers) {
    all.add(
      bus.subscribe(subject, { deliverAll: true }).pipe(
        retry({
          delay: (error) => {
            log(`board: subscription to ${subject} failed (${error.message}); resubscribing`);
            return timer(retryMs);
          },
        }),
      ).subscribe((msg) => {
        try {
          handle(msg);
        } catch (error) {
          log(`board: skipped a message on ${subject}: ${(error as Error).message}`);
        }
      }),
    );
  }
  return all;
}
