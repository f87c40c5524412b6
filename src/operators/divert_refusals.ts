import {
  concatMap,
  from,
  ignoreElements,
  type ObservableInput,
  of,
  type OperatorFunction,
} from "rxjs";

/**
 * Sends refusals to a handler and lets everything else through: a bad input is an event, not
 * the end of the stream. Values are handled in order; an item waits until the handling of the
 * refusals before it has completed, so a refusal is reported before what came after it.
 *
 * ```
 * source:                  --a--r--b--|      (r: a refusal)
 * handle(r):                    --x|
 * divertRefusals(is, h):   --a------b-|
 * ```
 *
 * A handler that errors errors the stream.
 *
 * @param isRefusal tells refusals from the values to keep.
 * @param handle reports one refusal (e.g. publishes it); its values are ignored.
 * @example
 * ingest(dir, { size: 32 }).pipe(divertRefusals(isIngestRefusal, (r) => publishRefusal(r)));
 */
export function divertRefusals<T, R>(
  isRefusal: (value: T | R) => value is R,
  handle: (refusal: R) => ObservableInput<unknown>,
): OperatorFunction<T | R, T> {
  return concatMap((value) =>
    isRefusal(value) ? from(handle(value)).pipe(ignoreElements()) : of(value as T)
  );
}
