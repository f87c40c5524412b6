import {
  asyncScheduler,
  bufferTime,
  filter,
  type OperatorFunction,
  pipe,
  type SchedulerLike,
} from "rxjs";

/**
 * Groups values into batches of at most `maxSize`, emitted when full or `maxWaitMs` after the
 * batch was opened (when the previous one was emitted), whichever comes first; what is buffered
 * is flushed when the source completes, and empty batches are never emitted. A stream that trickles in then pays at most `maxWaitMs` of latency,
 * and one that floods in is served `maxSize` at a time (one model call per batch).
 *
 * ```
 * source:                  -a-b-c-d---------e--|
 * batchWithin(3, 10ms):    -----x---------y----(z|)   x = [a,b,c], y = [d], z = [e]
 * ```
 *
 * @param maxSize most values per batch (>= 1).
 * @param maxWaitMs longest a value waits for its batch to fill (> 0).
 * @param scheduler timing (tests pass a virtual-time scheduler).
 * @throws {RangeError} when `maxSize` is not a positive integer or `maxWaitMs` not positive.
 * @example
 * images$.pipe(batchWithin(32, 100)).subscribe((batch) => embedAll(batch));
 */
export function batchWithin<T>(
  maxSize: number,
  maxWaitMs: number,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<T, T[]> {
  if (!Number.isInteger(maxSize) || maxSize < 1) {
    throw new RangeError(
      `Cannot batch: maxSize must be a positive integer, current value is ${maxSize}`,
    );
  }
  if (!(maxWaitMs > 0)) {
    throw new RangeError(`Cannot batch: maxWaitMs must be positive, current value is ${maxWaitMs}`);
  }
  return pipe(
    bufferTime<T>(maxWaitMs, null, maxSize, scheduler),
    filter((batch) => batch.length > 0),
  );
}
