/**
 * `work`, or a rejection once `ms` have passed without it settling. For client calls that can
 * wait forever on a message that never comes (a JetStream watcher that missed its last entry):
 * the caller gets an error it can log and retry instead of a stage that hangs. The abandoned
 * `work` is left to settle on its own; its late failure is not reported as unhandled.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  work.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DeadlineError(`${what} did not finish within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** What `withDeadline` rejects with. */
export class DeadlineError extends Error {
  override name = "DeadlineError";
}
