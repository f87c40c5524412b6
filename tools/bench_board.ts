/**
 * What one board request costs on the serving thread at N images (issue 13, finding 8): a
 * thumbnail's image lookup, a detail request, and a snapshot (SSE connect, /api/snapshot, each
 * push). Prints one JSON line of milliseconds per request (mean over repeats).
 *
 * `deno run --allow-read --allow-env tools/bench_board.ts [N=100000] [clusters=10]`
 */
import { BoardState } from "../src/board/board_state.ts";
import { streamImageSource } from "../src/board/image_source.ts";
import { boardRoutes } from "../src/board/routes.ts";
import { SseHub } from "../src/board/sse.ts";
import { assignmentEvent } from "../src/stream/events.ts";
import { ImageStore } from "../src/stream/store.ts";
import { Random } from "../src/util/random.ts";

const n = Number(Deno.args[0] ?? 100_000);
const clusters = Number(Deno.args[1] ?? 10);
const size = 8;
const store = new ImageStore(size);
const pixels = new Uint8Array(size * size * 3);
const rng = new Random(1);
const ids: string[] = [];
const state = new BoardState({ name: "bench" });
const at = new Date().toISOString();
for (let i = 0; i < n; i++) {
  const id = i.toString(16).padStart(64, "0");
  ids.push(id);
  store.add({ id, path: `inbox/sub/image_${i}.png`, pixels });
  state.applyAssignment(assignmentEvent({
    id,
    path: `inbox/sub/image_${i}.png`,
    cluster: i % clusters,
    confidence: rng.next(),
    modelVersion: 1,
    at,
  }));
}
const source = streamImageSource({ store, neighboursOf: () => [] });
const hub = new SseHub();
const routes = boardRoutes({ state, images: source, hub });

async function mean(repeats: number, fn: () => unknown): Promise<number> {
  await fn();
  const started = performance.now();
  for (let r = 0; r < repeats; r++) await fn();
  return (performance.now() - started) / repeats;
}

const pick = () => ids[Math.floor(rng.next() * n)];
const request = (path: string) => new Request(`http://127.0.0.1${path}`);
const figures = {
  n,
  clusters,
  imageLookupMs: await mean(200, () => source.image(pick())),
  thumbnailRequestMs: await mean(200, () => routes(request(`/thumbs/${pick()}.png`))),
  detailRequestMs: await mean(200, () => routes(request(`/api/images/${pick()}`))),
  snapshotMs: await mean(20, () => state.snapshot()),
  snapshotRequestMs: await mean(
    20,
    async () => await (await routes(request("/api/snapshot"))).text(),
  ),
  // A change between snapshots: what each push after an assignment costs.
  snapshotAfterChangeMs: await mean(20, () => {
    state.applyAssignment(assignmentEvent({
      id: (n + Math.floor(rng.next() * 1e9)).toString(16).padStart(64, "0"),
      path: "new.png",
      cluster: 0,
      confidence: rng.next(),
      modelVersion: 1,
      at,
    }));
    return state.snapshot();
  }),
};
hub.close();
console.log(
  JSON.stringify(figures, (_, v) => typeof v === "number" ? Math.round(v * 1000) / 1000 : v),
);
