/**
 * `mergeMap` for promises with results kept in input order: up to `concurrency` projections run
 * at once, and a result waits for those started before it. Order matters downstream: the first
 * of two identical files is the one kept, and existing files stay sorted. A slow head holds back
 * at most `concurrency - 1` finished results, so memory stays bounded.
 */
import { Observable, type OperatorFunction } from "rxjs";

/**
 * Map each value through an async `project`, at most `concurrency` at once, emitting results in
 * the order of the inputs. A rejected projection errors the stream (projections that must not
 * stop it resolve to values, as refusals do). Unsubscribing drops results still pending.
 *
 * ```
 * input:     a----b-c-------|
 * settles:   ---------B--A-C
 * output:    ------------AB-C|
 * ```
 *
 * @example
 * ```ts
 * paths$.pipe(mapInOrder((path) => Deno.readFile(path), 4))
 * ```
 * @throws {RangeError} when `concurrency` is not a positive integer.
 */
export function mapInOrder<T, R>(
  project: (value: T) => Promise<R>,
  concurrency: number,
): OperatorFunction<T, R> {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(
      `Cannot map in order: concurrency must be a positive integer, current value is ` +
        `${concurrency}`,
    );
  }
  return (source) =>
    new Observable<R>((subscriber) => {
      const waiting: T[] = [];
      const running: { done: boolean; result?: R }[] = [];
      let sourceDone = false;
      const pump = () => {
        while (running.length > 0 && running[0].done && !subscriber.closed) {
          subscriber.next(running.shift()!.result as R);
        }
        while (running.length < concurrency && waiting.length > 0) {
          const slot: { done: boolean; result?: R } = { done: false };
          running.push(slot);
          project(waiting.shift()!).then(
            (result) => {
              slot.result = result;
              slot.done = true;
              if (!subscriber.closed) pump();
            },
            (error) => subscriber.error(error),
          );
        }
        if (sourceDone && running.length === 0 && waiting.length === 0) subscriber.complete();
      };
      const subscription = source.subscribe({
        next: (value) => {
          waiting.push(value);
          pump();
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          pump();
        },
      });
      return () => subscription.unsubscribe();
    });
}
