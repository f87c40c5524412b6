/**
 * The board's HTTP routes, as a plain `Request -> Response` function (tested without a socket):
 *
 * | route                  | answer                                                         |
 * | ---------------------- | -------------------------------------------------------------- |
 * | `GET /`                | the page                                                       |
 * | `GET /board.js`        | its script                                                     |
 * | `GET /events`          | Server-Sent Events: a `snapshot` now and after every change    |
 * | `GET /api/snapshot`    | the same snapshot as JSON                                      |
 * | `GET /api/images/<id>` | an image's path, cluster, history and neighbours               |
 * | `GET /thumbs/<id>.png` | its pixels as a PNG                                            |
 *
 * `<id>` must be a SHA-256 hex id (400 otherwise) of an image the pipeline ingested (404
 * otherwise): nothing but ingested pixels is ever served, and no part of a URL names a file.
 */
import type { BoardState } from "./board_state.ts";
import { isImageId } from "./image_id.ts";
import type { ImageSource } from "./image_source.ts";
import { PAGE_HTML } from "./page.ts";
import { PAGE_SCRIPT } from "./page_script.ts";
import { sseFrame, type SseHub } from "./sse.ts";
import { ThumbnailCache } from "./thumbnail.ts";

/** What the routes read. */
export interface BoardRoutesOptions {
  readonly state: BoardState;
  readonly images: ImageSource;
  readonly hub: SseHub;
  readonly thumbnails?: ThumbnailCache;
  /**
   * Answer only requests whose Host is a loopback name (a server bound to loopback), so a page
   * on another site cannot reach it by pointing a DNS name at 127.0.0.1. Default true.
   */
  readonly loopbackOnly?: boolean;
}

/** The current snapshot as an SSE frame. */
export function snapshotFrame(state: BoardState): string {
  return sseFrame("snapshot", JSON.stringify(state.snapshot()));
}

const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; " +
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

function respond(body: BodyInit | null, status: number, type: string, extra = {}): Response {
  return new Response(body, {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": type, ...extra },
  });
}

function json(value: unknown, status = 200): Response {
  return respond(JSON.stringify(value), status, "application/json; charset=utf-8", {
    "cache-control": "no-store",
  });
}

function problem(status: number, message: string): Response {
  return json({ error: message }, status);
}

/** The handler of a board's server. */
export function boardRoutes(options: BoardRoutesOptions): (request: Request) => Promise<Response> {
  const { state, images, hub } = options;
  const thumbnails = options.thumbnails ?? new ThumbnailCache();
  const loopbackOnly = options.loopbackOnly ?? true;

  const detail = (id: string): Response => {
    const image = images.image(id);
    if (image === undefined) return problem(404, `Cannot show image ${id}: it was not ingested`);
    const neighbours = images.neighbours(id)?.map((n) => ({
      id: n.id,
      similarity: n.similarity,
      cluster: state.clusterOf(n.id),
    }));
    return json({
      id,
      path: image.path,
      size: image.size,
      member: state.member(id) ?? null,
      neighbours: neighbours ?? null,
    });
  };

  const thumbnail = async (id: string): Promise<Response> => {
    const image = images.image(id);
    if (image === undefined) return problem(404, `Cannot serve image ${id}: it was not ingested`);
    const png = await thumbnails.png(image);
    // An id names fixed content, so the browser may keep it.
    return respond(png as Uint8Array<ArrayBuffer>, 200, "image/png", {
      "cache-control": "private, max-age=31536000, immutable",
    });
  };

  return async (request) => {
    const url = new URL(request.url);
    if (loopbackOnly) {
      const host = (request.headers.get("host") ?? url.host).replace(/:\d+$/, "");
      if (!LOOPBACK_HOSTS.has(host)) {
        return problem(421, `Cannot answer for host ${JSON.stringify(host)}: loopback only`);
      }
    }
    if (request.method !== "GET") {
      return respond(null, 405, "text/plain", { allow: "GET" });
    }
    const path = url.pathname;
    if (path === "/" || path === "/index.html") {
      return respond(PAGE_HTML, 200, "text/html; charset=utf-8", { "cache-control": "no-store" });
    }
    if (path === "/board.js") {
      return respond(PAGE_SCRIPT, 200, "text/javascript; charset=utf-8", {
        "cache-control": "no-store",
      });
    }
    if (path === "/favicon.ico") return respond(null, 204, "image/x-icon");
    if (path === "/events") return hub.connect([snapshotFrame(state)]);
    if (path === "/api/snapshot") return json(state.snapshot());
    const api = /^\/api\/images\/([^/]*)$/.exec(path);
    if (api !== null) {
      const id = api[1];
      return isImageId(id) ? detail(id) : problem(400, invalidId(id));
    }
    const thumb = /^\/thumbs\/([^/]*)\.png$/.exec(path);
    if (thumb !== null) {
      const id = thumb[1];
      return isImageId(id) ? await thumbnail(id) : problem(400, invalidId(id));
    }
    return problem(404, `Cannot find ${path}: the board serves /, /events, /api and /thumbs`);
  };
}

function invalidId(id: string): string {
  return `Cannot look up image: an id is 64 lower-case hex digits (SHA-256), current value is ` +
    JSON.stringify(id.slice(0, 80));
}
