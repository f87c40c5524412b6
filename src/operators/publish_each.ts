import {
  concatMap,
  from,
  last,
  map,
  type MonoTypeOperatorFunction,
  type ObservableInput,
} from "rxjs";

/**
 * Publishes each value and passes it on once the publish has completed, in order: what comes
 * out downstream is known to be on the bus. A publish that fails errors the stream.
 *
 * ```
 * source:            --a-----b--|
 * publish(v):          --|     --|
 * publishEach(p):    ----a-------b|
 * ```
 *
 * @param publish sends one value (e.g. `(e) => bus.publish(subject, encode(e))`); it must
 *   complete; its values are ignored.
 * @example
 * assignments$.pipe(publishEach((event) => publishJson(bus, s.assignments, event)));
 */
export function publishEach<T>(
  publish: (value: T) => ObservableInput<unknown>,
): MonoTypeOperatorFunction<T> {
  return concatMap((value) =>
    from(publish(value)).pipe(
      // A publish that completes without a value (a Promise<void> does emit one) still counts.
      last(null, undefined),
      map(() => value),
    )
  );
}
