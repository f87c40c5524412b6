/**
 * Drop images whose content was already seen, so that a file copied twice (or dropped again
 * after a restart) is clustered once.
 */
import { defer, filter, type MonoTypeOperatorFunction } from "rxjs";

/** Options of `dedupeById`. */
export interface DedupeOptions<T> {
  /** Ids already known (for example those in the store, after a restart). */
  seed?: Iterable<string>;
  /** Called with each value dropped as a duplicate (to log it, or record the extra path). */
  onDuplicate?: (value: T) => void;
}

/**
 * Let through the first value of each `id`; values without an `id` (refusals) pass unchanged.
 * The set of seen ids is per subscription and grows with the number of distinct images, as the
 * store does.
 *
 * ```
 * input:   a1--b--a2--r--|     (a1, a2: same id; r: a refusal)
 * output:  a1--b------r--|
 * ```
 *
 * @example
 * ```ts
 * images$.pipe(dedupeById({ seed: store.ids() }))
 * ```
 */
export function dedupeById<T extends object>(
  options: DedupeOptions<T> = {},
): MonoTypeOperatorFunction<T> {
  return (source) =>
    defer(() => {
      const seen = new Set(options.seed ?? []);
      return source.pipe(
        filter((value) => {
          const id = "id" in value && typeof value.id === "string" ? value.id : null;
          if (id === null || !seen.has(id)) {
            if (id !== null) seen.add(id);
            return true;
          }
          options.onDuplicate?.(value);
          return false;
        }),
      );
    });
}
