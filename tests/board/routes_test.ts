import assert from "node:assert/strict";
import { BoardState } from "../../src/board/board_state.ts";
import type { BoardImage, ImageSource } from "../../src/board/image_source.ts";
import { boardRoutes } from "../../src/board/routes.ts";
import { SseHub } from "../../src/board/sse.ts";
import { decodeImage } from "../../src/image/decode.ts";
import { assigned, imageId } from "./_helpers.ts";

const SIZE = 4;

/** Two ingested images (1 and 2), image 2 the neighbour of image 1. */
function source(): ImageSource {
  const images = new Map<string, BoardImage>(
    [1, 2].map((n) => [imageId(n), {
      id: imageId(n),
      path: `img_${n}.png`,
      size: SIZE,
      pixels: Uint8Array.from({ length: SIZE * SIZE * 3 }, (_, i) => (i * n * 7) % 256),
    }]),
  );
  return {
    hasNeighbours: true,
    image: (id) => images.get(id),
    neighbours: (id) => id === imageId(1) ? [{ id: imageId(2), similarity: 0.75 }] : undefined,
  };
}

async function withRoutes(
  fn: (
    get: (path: string, init?: RequestInit) => Promise<Response>,
    state: BoardState,
  ) => Promise<void>,
) {
  const state = new BoardState({ name: "t", neighbours: true });
  const hub = new SseHub({ heartbeatMs: 60_000 });
  const handle = boardRoutes({ state, images: source(), hub });
  try {
    await fn((path, init) => handle(new Request(`http://127.0.0.1:8080${path}`, init)), state);
  } finally {
    hub.close();
  }
}

Deno.test("board routes - the page and its script, with a content security policy", async () => {
  await withRoutes(async (get) => {
    const page = await get("/");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type")!, /^text\/html/);
    assert.match(page.headers.get("content-security-policy")!, /script-src 'self'/);
    const html = await page.text();
    assert.match(html, /<script src="\/board.js"><\/script>/);
    const script = await get("/board.js");
    assert.match(script.headers.get("content-type")!, /^text\/javascript/);
    assert.match(await script.text(), /new EventSource\("\/events"\)/);
  });
});

Deno.test("board routes - an id that is not 64 hex digits is refused with 400 before any lookup", async () => {
  await withRoutes(async (get) => {
    for (
      const path of [
        "/thumbs/..%2F..%2Fetc%2Fpasswd.png",
        "/thumbs/%2e%2e.png",
        `/thumbs/${"A".repeat(64)}.png`,
        `/thumbs/${"a".repeat(63)}.png`,
        "/api/images/img_1.png",
        `/api/images/${"a".repeat(65)}`,
      ]
    ) {
      const response = await get(path);
      assert.equal(response.status, 400, path);
      assert.match((await response.json()).error, /64 lower-case hex digits/);
    }
    // Traversal the URL parser resolves leaves the thumbnail routes altogether.
    assert.equal((await get("/thumbs/../../etc/passwd")).status, 404);
  });
});

Deno.test("board routes - a valid id the pipeline did not ingest gets 404, never a file", async () => {
  await withRoutes(async (get) => {
    const thumb = await get(`/thumbs/${imageId(3)}.png`);
    assert.equal(thumb.status, 404);
    assert.match((await thumb.json()).error, /was not ingested/);
    const detail = await get(`/api/images/${imageId(3)}`);
    assert.equal(detail.status, 404);
    await detail.body?.cancel();
  });
});

Deno.test("board routes - the thumbnail of an ingested image is a PNG of its pixels", async () => {
  await withRoutes(async (get) => {
    const response = await get(`/thumbs/${imageId(2)}.png`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "image/png");
    const decoded = await decodeImage(new Uint8Array(await response.arrayBuffer()));
    assert.ok(decoded.ok);
    assert.equal(decoded.width, SIZE);
    assert.deepEqual(decoded.rgb, source().image(imageId(2))!.pixels);
  });
});

Deno.test("board routes - an image's detail has its path, cluster history and neighbours with their clusters", async () => {
  await withRoutes(async (get, state) => {
    state.applyAssignment(assigned(1, 3, 0.9));
    state.applyAssignment(assigned(2, 4, 0.8));
    const response = await get(`/api/images/${imageId(1)}`);
    assert.equal(response.status, 200);
    const detail = await response.json();
    assert.equal(detail.path, "img_1.png");
    assert.equal(detail.member.cluster, 3);
    assert.deepEqual(detail.member.history.map((h: { how: string }) => h.how), ["assigned"]);
    assert.deepEqual(detail.neighbours, [{ id: imageId(2), similarity: 0.75, cluster: 4 }]);
  });
});

Deno.test("board routes - /events is an event stream that starts with the snapshot", async () => {
  await withRoutes(async (get, state) => {
    state.applyAssignment(assigned(1, 0));
    const response = await get("/events");
    assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const reader = response.body!.getReader();
    let text = "";
    while (!text.endsWith("\n\n") || !text.includes("event: snapshot")) {
      text += new TextDecoder().decode((await reader.read()).value);
    }
    await reader.cancel();
    const frame = text.split("\n\n").find((f) => f.startsWith("event: snapshot"))!;
    const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
    const snapshot = JSON.parse(data.join("\n"));
    assert.equal(snapshot.name, "t");
    assert.equal(snapshot.clusters[0].size, 1);
    const api = await (await get("/api/snapshot")).json();
    assert.deepEqual(api, snapshot);
  });
});

Deno.test("board routes - other methods, other paths and foreign Host headers are refused", async () => {
  await withRoutes(async (get) => {
    assert.equal((await get("/", { method: "POST", body: "x" })).status, 405);
    const missing = await get("/etc/passwd");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const foreign = await get("/", { headers: { host: "evil.example:8080" } });
    assert.equal(foreign.status, 421);
    await foreign.body?.cancel();
    const local = await get("/api/snapshot", { headers: { host: "localhost:8080" } });
    assert.equal(local.status, 200);
    await local.body?.cancel();
  });
});
