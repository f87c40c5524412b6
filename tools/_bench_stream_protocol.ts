/** Messages between the stream benchmark and its driver worker (`_bench_stream_driver.ts`). */
import type { ClusterUpdateEvent } from "../src/stream/events.ts";

/** Where the benchmark's images come from: an IDX data set (written as PNG) or a folder. */
export type ImageSource =
  | { readonly kind: "idx"; readonly prefix: string; readonly limit: number }
  | { readonly kind: "dir"; readonly dir: string; readonly limit: number };

/** What the benchmark asks of the driver. */
export type DriverRequest =
  /** Load (and encode) the images, to be written into `watch`. */
  | { type: "prepare"; source: ImageSource; watch: string }
  /**
   * Subscribe to the assignments and cluster updates of pipeline `name` at `url`, with the
   * managed server's credential when there is one.
   */
  | { type: "subscribe"; url: string; name: string; user?: string; pass?: string }
  /** Write images `from`..`from + count - 1`, `rate` per second (0: all at once). */
  | { type: "drop"; from: number; count: number; rate: number }
  | { type: "close" };

/** What the driver answers and reports; `at` and `times` are ms since the epoch. */
export type DriverReply =
  /** File names (relative to the watched directory) and labels, where the source has them. */
  | { type: "prepared"; names: string[]; labels: (string | undefined)[] }
  | { type: "subscribed" }
  /** Time of each rename; how far the writes fell behind their schedule at worst. */
  | { type: "dropped"; times: number[]; maxLagMs: number }
  | { type: "assignment"; path: string; version: number; at: number }
  | { type: "update"; event: ClusterUpdateEvent; at: number }
  | { type: "closed" }
  | { type: "failed"; message: string };
