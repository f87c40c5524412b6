/**
 * Board requests while the stream trains: the bench starts the board on the stream's own thread
 * (as `deno task stream --board` does) and times its page, its snapshot and thumbnails of stored
 * images, one request of each kind every `everyMs`, until stopped.
 */
import type { RunningStream } from "../pipelines/stream.ts";
import { startBoard } from "../src/board/board_server.ts";
import { streamImageSource } from "../src/board/image_source.ts";
import type { Bus } from "../src/transport/bus.ts";

/** Request times in ms, per kind. */
export interface BoardTimes {
  readonly page: number[];
  readonly snapshot: number[];
  readonly thumbnail: number[];
  readonly failed: number;
}

/** A running probe: `stop` ends it and resolves to the times. */
export interface BoardProbe {
  stop(): Promise<BoardTimes>;
}

/** Start the board for `stream` on `bus` and probe it every `everyMs`. */
export function probeBoard(
  bus: Bus,
  name: string,
  stream: RunningStream,
  clusters: number,
  everyMs = 100,
): BoardProbe {
  const board = startBoard({
    bus,
    name,
    port: 0,
    images: streamImageSource(stream.trainer),
    clusters,
  });
  const times: BoardTimes = { page: [], snapshot: [], thumbnail: [], failed: 0 };
  let running = true;
  const timed = async (url: string, into: number[]) => {
    const started = performance.now();
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) into.push(performance.now() - started);
      else (times as { failed: number }).failed++;
    } catch {
      (times as { failed: number }).failed++;
    }
  };
  const loop = (async () => {
    let i = 0;
    while (running) {
      const ids = stream.trainer.store.view().ids;
      const id = ids[(i++ * 7919) % Math.max(ids.length, 1)];
      await timed(board.url, times.page);
      await timed(`${board.url}api/snapshot`, times.snapshot);
      if (id !== undefined) await timed(`${board.url}thumbs/${id}.png`, times.thumbnail);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await board.close();
      return times;
    },
  };
}
