/**
 * Worker script that owns one `Deno.watchFs` and forwards its events. The watcher lives in a
 * worker because of two traits of Deno's (2.x) watcher: it opens every path an event names to
 * compare it with the watched one, and an event on a FIFO blocks that open until a writer comes,
 * stalling the watcher thread; closing a watcher stalled this way then deadlocks the isolate that
 * owns it. In a worker, only the worker is lost: the main thread terminates it and starts
 * another. The watcher also drops events when its 16-slot queue is full, and this loop, doing
 * nothing else, drains it promptly even while the main thread is busy.
 *
 * Protocol: receives `{ dir }` once; posts `{ type: "ready" }` once watching, then
 * `{ type: "event", kind, paths, flag }` per event, or `{ type: "error", message }` if watching
 * fails.
 */

/** Messages this worker posts. */
export type WatchMessage =
  | { type: "ready" }
  | { type: "event"; kind: Deno.FsEvent["kind"]; paths: string[]; flag: string | null }
  | { type: "error"; message: string };

interface WorkerScope {
  onmessage: ((event: MessageEvent<{ dir: string }>) => void) | null;
  postMessage(message: WatchMessage): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = async (message) => {
  scope.onmessage = null;
  let watcher: Deno.FsWatcher;
  try {
    watcher = Deno.watchFs(message.data.dir, { recursive: true });
  } catch (error) {
    scope.postMessage({ type: "error", message: (error as Error).message });
    return;
  }
  scope.postMessage({ type: "ready" });
  try {
    for await (const event of watcher) {
      scope.postMessage({
        type: "event",
        kind: event.kind,
        paths: event.paths,
        flag: event.flag ?? null,
      });
    }
  } catch (error) {
    scope.postMessage({ type: "error", message: (error as Error).message });
  }
};
