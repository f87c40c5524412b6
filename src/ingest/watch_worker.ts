/**
 * Worker script that owns one `Deno.watchFs` and forwards its events. The watcher lives in a
 * worker because of two traits of Deno's (2.x) watcher: it opens every path an event names to
 * compare it with the watched one, and an event on a FIFO blocks that open until a writer comes,
 * stalling the watcher thread; closing a watcher stalled this way then deadlocks the isolate that
 * owns it. In a worker, only the worker is lost: the main thread terminates it and starts
 * another. The watcher also drops events when its 16-slot queue is full, and this loop, doing
 * nothing else, drains it promptly even while the main thread is busy.
 *
 * A third trait: an event naming a path that is not valid UTF-8 makes the watcher's iterator
 * throw (`path contains invalid UTF-8 characters`) and end; one such file dropped into the tree
 * used to end the stream. Here the watcher is started again at once and `{ type: "lost" }` tells
 * the main thread that events were lost, so that it walks the tree (which lists the bad name, to
 * be refused once).
 *
 * Protocol: receives `{ dir }` once; posts `{ type: "ready" }` once watching, then
 * `{ type: "event", kind, paths, flag }` per event, `{ type: "lost", message }` when the watcher
 * was restarted after an invalid name, or `{ type: "error", message }` if watching fails.
 */

/** Messages this worker posts. */
export type WatchMessage =
  | { type: "ready" }
  | { type: "event"; kind: Deno.FsEvent["kind"]; paths: string[]; flag: string | null }
  | { type: "lost"; message: string }
  | { type: "error"; message: string };

interface WorkerScope {
  onmessage: ((event: MessageEvent<{ dir: string }>) => void) | null;
  postMessage(message: WatchMessage): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = async (message) => {
  scope.onmessage = null;
  const { dir } = message.data;
  let ready = false;
  while (true) {
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(dir, { recursive: true });
    } catch (error) {
      scope.postMessage({ type: "error", message: (error as Error).message });
      return;
    }
    if (!ready) scope.postMessage({ type: "ready" });
    ready = true;
    try {
      for await (const event of watcher) {
        scope.postMessage({
          type: "event",
          kind: event.kind,
          paths: event.paths,
          flag: event.flag ?? null,
        });
      }
      return;
    } catch (error) {
      if (!isInvalidNameError(error)) {
        scope.postMessage({ type: "error", message: (error as Error).message });
        return;
      }
      try {
        watcher.close();
      } catch {
        // Already closed by the failure.
      }
      scope.postMessage({ type: "lost", message: (error as Error).message });
    }
  }
};

/** Deno's watcher met a path that is not valid UTF-8 (Deno 2.x: a TypeError saying so). */
function isInvalidNameError(error: unknown): boolean {
  return error instanceof Error && /invalid UTF-8/i.test(error.message);
}
