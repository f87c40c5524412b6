/**
 * Worker for `deno task soak`: writes files in its own thread, so a burst lands at once however
 * busy the stream keeps the main thread (a write awaited there waits for each training step).
 *
 * Protocol: receives `{ dir, files: [name, bytes][] }`; writes them in order; posts
 * `{ type: "done", seconds }` or `{ type: "error", message }`.
 */

/** What the soak sends. */
export interface WriteRequest {
  dir: string;
  files: [string, Uint8Array][];
}

/** What this worker posts back. */
export type WriteReply = { type: "done"; seconds: number } | { type: "error"; message: string };

interface WorkerScope {
  onmessage: ((event: MessageEvent<WriteRequest>) => void) | null;
  postMessage(message: WriteReply): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (message) => {
  const { dir, files } = message.data;
  const started = performance.now();
  try {
    for (const [name, bytes] of files) Deno.writeFileSync(`${dir}/${name}`, bytes);
    scope.postMessage({ type: "done", seconds: (performance.now() - started) / 1000 });
  } catch (error) {
    scope.postMessage({ type: "error", message: (error as Error).message });
  }
};
