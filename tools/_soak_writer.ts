/**
 * Worker for `deno task soak`: writes files in its own thread, so a burst lands at once and a
 * trickle keeps its rate however busy the stream keeps the main thread (a write awaited there
 * waits for each training step).
 *
 * Protocol: receives a `WriteRequest`; writes the files in order, `intervalMs` apart (none: at
 * once); with `fifoAt`, a FIFO `stall.fifo` is made after that many files (Deno's watcher stalls
 * on it, so the events of the files after it are lost for real, see
 * `src/ingest/watch_worker.ts`). Posts `{ type: "wrote", index, at }` per file when paced (`at`:
 * `Date.now()` after the write), then `{ type: "done", seconds }`, or `{ type: "error", message }`.
 */

/** What the soak sends. */
export interface WriteRequest {
  dir: string;
  files: [string, Uint8Array][];
  intervalMs?: number;
  fifoAt?: number;
}

/** What this worker posts back. */
export type WriteReply =
  | { type: "wrote"; index: number; at: number }
  | { type: "done"; seconds: number }
  | { type: "error"; message: string };

interface WorkerScope {
  onmessage: ((event: MessageEvent<WriteRequest>) => void) | null;
  postMessage(message: WriteReply): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = async (message) => {
  const { dir, files, intervalMs, fifoAt } = message.data;
  const started = performance.now();
  try {
    for (let i = 0; i < files.length; i++) {
      if (i === fifoAt) mkfifo(`${dir}/stall.fifo`);
      const [name, bytes] = files[i];
      if (intervalMs === undefined) {
        Deno.writeFileSync(`${dir}/${name}`, bytes);
        continue;
      }
      // Paced from the start, so a slow write does not lower the rate.
      const due = started + i * intervalMs;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
      Deno.writeFileSync(`${dir}/${name}`, bytes);
      scope.postMessage({ type: "wrote", index: i, at: Date.now() });
    }
    scope.postMessage({ type: "done", seconds: (performance.now() - started) / 1000 });
  } catch (error) {
    scope.postMessage({ type: "error", message: (error as Error).message });
  }
};

function mkfifo(path: string): void {
  const { code, stderr } = new Deno.Command("mkfifo", { args: [path] }).outputSync();
  if (code !== 0) throw new Error(`mkfifo ${path} failed: ${new TextDecoder().decode(stderr)}`);
}
