/**
 * The board's subscriptions: the pipeline's assignments, cluster updates and refusals (and its
 * images, for a board in another process) from the first stored message on, folded into a
 * `BoardState`. A malformed event is logged and skipped; a subscription that fails is opened
 * again after a pause (the state ignores what it replays).
 */
import { retry, Subscription, timer } from "rxjs";
import { assignmentSchema, clusterUpdateSchema, refusalSchema } from "../protocol/events.ts";
import { parseJson } from "../protocol/parse.ts";
import { printable } from "../util/quote.ts";
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
  /**
   * The pipeline's cluster count: an event naming a cluster id at or above it is refused, so one
   * forged id cannot make the board allocate per id up to it. Default 65,536.
   */
  readonly clusters?: number;
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
  const assignment = assignmentSchema(options.clusters);
  const update = clusterUpdateSchema(options.clusters);
  const refusal = refusalSchema();
  const handlers: [string, (msg: BusMessage) => void][] = [
    [
      s.assignments,
      (msg) => state.applyAssignment(parseJson(assignment, msg.payload, "assignment")),
    ],
    [s.clusters, (msg) => state.applyUpdate(parseJson(update, msg.payload, "cluster update"))],
    [s.errors, (msg) => state.applyRefusal(parseJson(refusal, msg.payload, "refusal"))],
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
          log(`board: skipped a message on ${subject}: ${printable((error as Error).message)}`);
        }
      }),
    );
  }
  return all;
}
