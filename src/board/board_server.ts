/**
 * A running board: its state fed from the bus, its routes served with `Deno.serve` (loopback
 * by default), and a snapshot pushed to every open page after each change, at most once per
 * `pushEveryMs` so a burst of events costs one push.
 */
import type { Observable, Subscription } from "rxjs";
import type { Bus } from "../transport/bus.ts";
import type { ConnectionChange } from "../transport/nats_bus.ts";
import { BoardState } from "./board_state.ts";
import { feedBoard } from "./feed.ts";
import { ImageCache } from "./image_cache.ts";
import type { ImageSource } from "./image_source.ts";
import { boardRoutes, snapshotFrame } from "./routes.ts";
import { SseHub } from "./sse.ts";

/** Options of `startBoard`. */
export interface BoardOptions {
  readonly bus: Bus;
  /** Pipeline name: subjects `scan.<name>.*`. */
  readonly name: string;
  /**
   * Where pixels and neighbours come from: the running stream when the board runs inside it.
   * Without it, the board keeps the images of the `images` subject (and has no neighbours).
   */
  readonly images?: ImageSource;
  /** Port to listen on; 0 picks a free one. */
  readonly port: number;
  /** Address to listen on. Default 127.0.0.1. */
  readonly hostname?: string;
  /** Connection changes of a NATS bus; without them the bus counts as in-process. */
  readonly connection?: Observable<ConnectionChange>;
  /** The pipeline's cluster count: higher cluster ids are refused. Default 65,536. */
  readonly clusters?: number;
  /** Shortest pause between two pushes. Default 250 ms. */
  readonly pushEveryMs?: number;
  /** Most event streams open at once (one more gets 503). Default 64. */
  readonly maxConnections?: number;
  /** Most bytes waiting for one event stream before it is dropped. Default 1 MiB. */
  readonly maxBufferedBytes?: number;
  readonly log?: (line: string) => void;
}

/** A board being served. */
export interface RunningBoard {
  /** `http://<host>:<port>/`. */
  readonly url: string;
  readonly port: number;
  readonly state: BoardState;
  /** Stop serving and unsubscribe. Safe to call twice. */
  close(): Promise<void>;
}

/** What the board shows for a change of the NATS connection; undefined for other changes. */
export function connectionStateOf(
  change: ConnectionChange,
): "connected" | "disconnected" | "reconnecting" | undefined {
  switch (change.type) {
    case "disconnect":
    case "close":
      return "disconnected";
    case "reconnecting":
      return "reconnecting";
    case "reconnect":
      return "connected";
    default:
      return undefined;
  }
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

/** Start a board for pipeline `options.name`. */
export function startBoard(options: BoardOptions): RunningBoard {
  const log = options.log ?? (() => {});
  const hostname = options.hostname ?? "127.0.0.1";
  const cache = options.images === undefined ? new ImageCache() : undefined;
  const images = options.images ?? cache!;
  const state = new BoardState({
    name: options.name,
    neighbours: images.hasNeighbours,
    connection: options.connection === undefined ? "in-process" : "connected",
  });
  const hub = new SseHub({
    maxConnections: options.maxConnections,
    maxBufferedBytes: options.maxBufferedBytes,
  });
  const pushEveryMs = options.pushEveryMs ?? 250;
  let pending: ReturnType<typeof setTimeout> | undefined;
  const stopListening = state.onChange(() => {
    pending ??= setTimeout(() => {
      pending = undefined;
      if (hub.size > 0) hub.broadcast(snapshotFrame(state));
    }, pushEveryMs);
  });
  const subscriptions: Subscription[] = [
    feedBoard(options.bus, options.name, state, {
      images: cache,
      log,
      clusters: options.clusters,
    }),
  ];
  if (options.connection !== undefined) {
    subscriptions.push(options.connection.subscribe({
      next: (change) => {
        const next = connectionStateOf(change);
        if (next === undefined || next === state.connection.state) return;
        // Repeated reconnect attempts are one outage: keep when it started.
        if (next === "reconnecting" && state.connection.state === "disconnected") return;
        state.setConnection(next, change.server);
        log(`board: NATS ${next}${change.server ? ` (${change.server})` : ""}`);
      },
      error: (error) => log(`board: connection status failed: ${(error as Error).message}`),
    }));
  }
  const server = Deno.serve({
    port: options.port,
    hostname,
    onListen: () => {},
  }, boardRoutes({ state, images, hub, loopbackOnly: LOOPBACK.has(hostname) }));
  const port = server.addr.port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}/`,
    port,
    state,
    close() {
      closing ??= (async () => {
        stopListening();
        if (pending !== undefined) clearTimeout(pending);
        for (const subscription of subscriptions) subscription.unsubscribe();
        // Event streams never end by themselves: close them so shutdown can finish.
        hub.close();
        await server.shutdown();
      })();
      return closing;
    },
  };
}
