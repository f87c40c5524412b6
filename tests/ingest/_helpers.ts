import type { Observable, Subscription } from "rxjs";

export const fixtures = new URL("../../fixtures/", import.meta.url).pathname;

/** A fresh temporary directory, removed (with anything left in it) after `body`. */
export async function withTempDir(
  prefix: string,
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: `scanstream_${prefix}_` });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Values of a subscription as they come, with a way to wait for a condition on them. */
export class Recorder<T> {
  readonly values: T[] = [];
  error: unknown = null;
  readonly #subscription: Subscription;

  constructor(source: Observable<T>) {
    this.#subscription = source.subscribe({
      next: (value) => this.values.push(value),
      error: (error) => (this.error = error),
    });
  }

  /** Poll until `done(values)` holds; throws after `timeoutMs` with what was seen. */
  async until(done: (values: T[]) => boolean, timeoutMs = 5000): Promise<void> {
    const start = Date.now();
    while (!done(this.values)) {
      if (this.error) throw this.error;
      if (Date.now() - start > timeoutMs) {
        throw new Error(`timed out after ${timeoutMs} ms; seen: ${JSON.stringify(this.values)}`);
      }
      await delay(20);
    }
  }

  /** Unsubscribe; the test sanitizers then check that the teardown left nothing running. */
  stop(): void {
    this.#subscription.unsubscribe();
  }
}

export async function mkfifo(path: string): Promise<void> {
  const { code, stderr } = await new Deno.Command("mkfifo", { args: [path] }).output();
  if (code !== 0) throw new Error(`mkfifo failed: ${new TextDecoder().decode(stderr)}`);
}

/**
 * Deno 2 runs tests without the op and resource sanitizers unless asked; these tests ask, since
 * leaving no watcher, timer or pending read behind after unsubscribing is part of what they test.
 */
export const SANITIZE = { sanitizeOps: true, sanitizeResources: true } as const;
