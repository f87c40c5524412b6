/**
 * The files of a directory tree as a stream: those already there, then each new one once it is
 * complete. Complete means closed after writing (an `access` event) or moved in (a `rename`);
 * failing both (hard links, network mounts, systems without close events), unchanged for a quiet
 * period. Hidden and temporary names are never emitted; their final name is.
 *
 * Events can be lost: the kernel's queue overflows (a `rescan` flag), Deno's watcher drops events
 * when its own queue is full, and it stalls on FIFOs (see `watch_worker.ts`). Each loss is healed
 * the same way: walk the tree and emit what differs from what was emitted (`diffTree`). A walk
 * also runs every `rescanIntervalMs`, since a drop or a stall gives no signal; a walk that finds
 * a new FIFO or other special file, or a file the watcher never reported (a stall on a FIFO that
 * was already there when a walk first saw it), restarts the watcher.
 */
import { Observable, type Subscriber } from "rxjs";
import { isCandidate, isVisiblePath } from "./candidate.ts";
import { diffTree, scanTree, statEntry, type TreeEntry } from "./scan_tree.ts";
import { StableCheck } from "./stable_check.ts";
import type { WatchMessage } from "./watch_worker.ts";

/** When a file counts as complete, and how often the tree is walked. */
export interface WatchOptions {
  /**
   * Quiet period, in ms, after which a file with no close or rename event counts as complete
   * (default 1000). Files found by a walk with an older mtime are complete at once.
   */
  stableMs?: number;
  /**
   * Quiet period, in ms, for a file that was written to, on systems that report a close after
   * writing (Linux): there the close is awaited, and this is the last resort for a writer that
   * never closes (default 30000; elsewhere it is `stableMs`).
   */
  writtenStableMs?: number;
  /** Interval, in ms, of the safety walk of the whole tree; 0 turns it off (default 30000). */
  rescanIntervalMs?: number;
  /**
   * Called after each walk of the whole tree that healed lost events, with why it ran (`rescan`:
   * the kernel's queue overflowed; `interval`: the safety walk) and how many files it found
   * that had not been emitted: how often events are lost, for soaks and logs.
   */
  onWalk?: (walk: { reason: "rescan" | "interval"; missed: number }) => void;
}

/** A file that is complete and should be read. */
export interface FileEvent {
  /** `dir` joined with `relative`. */
  path: string;
  /**
   * Path relative to the watched directory, "/"-separated. A name that is not valid UTF-8 has
   * U+FFFD in place of each bad byte (what Deno gives), and `invalidName` is set.
   */
  relative: string;
  /** The name is not valid UTF-8: the file cannot be opened by any name Deno accepts. */
  invalidName?: true;
  /** When the file was seen complete, ms since the epoch. */
  receivedAt: number;
}

const HAS_CLOSE_EVENTS = Deno.build.os === "linux";

/**
 * A file this much older than a walk that the watcher never reported is a lost event, not one on
 * its way: events arrive within milliseconds.
 */
const LOST_AFTER_MS = 1000;

/**
 * Watch `dir` recursively. Existing files come first, sorted by relative path (if some were
 * modified within the last `stableMs`, after a pause until they have been quiet that long; one
 * still changing then waits alone); then new and changed files as they complete. A path is emitted again only when its size, mtime or inode changed. Names that are
 * not images by extension are ignored; folders, FIFOs and broken links named like images are
 * emitted, for the reader to refuse, and so is every name that is not valid UTF-8 (once, with
 * `invalidName` set). Unsubscribing terminates the watcher and clears all timers.
 *
 * ```
 * existing:  a.png b.jpg
 * events:    --------c.png(closed)----d.png.part--d.png.part->d.png--
 * output:    a---b---c------------------------------------d----------
 * ```
 *
 * @example
 * ```ts
 * watchDirectory("/data/inbox").subscribe((file) => console.log(file.relative));
 * ```
 * @throws {RangeError} for invalid options. A missing directory or a watcher that cannot start
 *   errors the stream.
 */
export function watchDirectory(dir: string, options: WatchOptions = {}): Observable<FileEvent> {
  const stableMs = options.stableMs ?? 1000;
  const { onWalk } = options;
  const resolved = {
    stableMs,
    writtenStableMs: options.writtenStableMs ?? (HAS_CLOSE_EVENTS ? 30_000 : stableMs),
    rescanIntervalMs: options.rescanIntervalMs ?? 30_000,
  };
  for (const [key, value] of Object.entries(resolved)) {
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(
        `Cannot watch ${dir}: ${key} must be a finite number >= 0, current value is ${value}`,
      );
    }
  }
  return new Observable<FileEvent>((subscriber) => {
    const session = new WatchSession(dir, { ...resolved, onWalk }, subscriber);
    session.start();
    return () => session.close();
  });
}

/**
 * Walk `dir` and list what differs from `seen` (relative path -> signature of what was emitted):
 * what a watcher must emit after losing events.
 */
export async function diffDirectory(
  dir: string,
  seen: ReadonlyMap<string, string>,
): Promise<TreeEntry[]> {
  return diffTree(await scanTree(dir), seen);
}

/** The state of one subscription. */
class WatchSession {
  readonly #dir: string;
  readonly #options: Required<Omit<WatchOptions, "onWalk">> & Pick<WatchOptions, "onWalk">;
  readonly #subscriber: Subscriber<FileEvent>;
  readonly #stable: StableCheck;
  /** Relative path -> signature of what was emitted: the state `diffTree` compares against. */
  readonly #seen = new Map<string, string>();
  /** Special files (FIFOs, sockets, devices) known to be in the tree, whatever their names. */
  #specials = new Set<string>();
  /** Paths named by events that came during the first walk; handled after it. */
  readonly #early = new Set<string>();
  #root = "";
  #worker: Worker | null = null;
  #interval: ReturnType<typeof setInterval> | undefined;
  #sleeping: { timer: ReturnType<typeof setTimeout>; wake: () => void } | null = null;
  #started = false;
  #closed = false;
  #walking = false;
  #walkAgain = false;
  /** A rescan was asked for before the first walk was over. */
  #walkAfterStart = false;

  constructor(
    dir: string,
    options: Required<Omit<WatchOptions, "onWalk">> & Pick<WatchOptions, "onWalk">,
    subscriber: Subscriber<FileEvent>,
  ) {
    this.#dir = dir;
    this.#options = options;
    this.#subscriber = subscriber;
    this.#stable = new StableCheck(
      (relative) => statEntry(this.#root, relative),
      { quietMs: options.stableMs, writtenQuietMs: options.writtenStableMs },
      (entry) => this.#emit(entry),
    );
  }

  async start(): Promise<void> {
    try {
      this.#root = await Deno.realPath(this.#dir);
      if (!(await Deno.stat(this.#root)).isDirectory) {
        throw new TypeError("it is not a directory");
      }
      await this.#startWatcher();
      if (this.#closed) return;
      let entries = await scanTree(this.#root);
      // Files modified just before the start may still be written to: wait once until the
      // newest has been quiet for stableMs, so that existing files still come out sorted (at
      // most stableMs: an mtime in the future must not hold the start back).
      const { stableMs } = this.#options;
      const wait = Math.min(stableMs - (Date.now() - newestMtime(entries)), stableMs);
      if (wait > 0 && !this.#closed) {
        await this.#sleep(wait);
        if (this.#closed) return;
        entries = await scanTree(this.#root);
      }
      if (this.#closed) return;
      this.#specials = new Set(entries.filter((e) => e.kind === "special").map((e) => e.relative));
      for (const entry of entries) this.#offer(entry);
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#started = true;
    for (const relative of this.#early) this.#recheck(relative);
    this.#early.clear();
    if (this.#walkAfterStart) this.#walk("rescan");
    if (this.#options.rescanIntervalMs > 0) {
      this.#interval = setInterval(() => this.#walk("interval"), this.#options.rescanIntervalMs);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#interval);
    if (this.#sleeping) {
      clearTimeout(this.#sleeping.timer);
      this.#sleeping.wake();
    }
    this.#stable.close();
    this.#worker?.terminate();
    this.#worker = null;
  }

  /** A pause that `close()` cuts short. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.#sleeping = null;
        resolve();
      };
      this.#sleeping = { timer: setTimeout(wake, ms), wake };
    });
  }

  #fail(error: unknown): void {
    if (this.#closed) return;
    this.close();
    const message = error instanceof Error ? error.message : String(error);
    this.#subscriber.error(new Error(`Cannot watch ${this.#dir}: ${message}`, { cause: error }));
  }

  /** Start a watcher worker; resolves once it watches, rejects if it cannot. */
  #startWatcher(): Promise<void> {
    this.#worker?.terminate();
    const worker = new Worker(new URL("./watch_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#worker = worker;
    return new Promise<void>((resolve, reject) => {
      worker.onerror = (event) => {
        event.preventDefault();
        const error = new Error(`the watcher worker failed: ${event.message}`);
        reject(error);
        if (this.#worker === worker) this.#fail(error);
      };
      worker.onmessage = (event: MessageEvent<WatchMessage>) => {
        if (this.#closed || this.#worker !== worker) return;
        const message = event.data;
        if (message.type === "ready") resolve();
        else if (message.type === "lost") this.#walk("rescan");
        else if (message.type === "error") {
          reject(new Error(message.message));
          this.#fail(new Error(message.message));
        } else this.#onEvent(message.kind, message.paths, message.flag);
      };
      worker.postMessage({ dir: this.#root });
    });
  }

  #relative(path: string): string | null {
    return path.startsWith(`${this.#root}/`) ? path.slice(this.#root.length + 1) : null;
  }

  #onEvent(kind: Deno.FsEvent["kind"], paths: string[], flag: string | null): void {
    if (flag === "rescan") this.#walk("rescan");
    let relatives = paths.map((path) => this.#relative(path));
    if (kind === "rename" && relatives.length === 2) {
      this.#forget(relatives[0]);
      relatives = [relatives[1]];
    }
    for (const relative of relatives) {
      if (relative === null || !isVisiblePath(relative)) continue;
      if (kind === "remove") {
        this.#forget(relative);
      } else if (!this.#started) {
        this.#early.add(relative);
      } else if (kind === "access" || kind === "rename") {
        this.#complete(relative);
      } else if (kind === "modify") {
        if (isCandidate(relative)) this.#stable.touch(relative, true);
      } else {
        this.#recheck(relative, kind === "create");
      }
    }
  }

  #forget(relative: string | null): void {
    if (relative === null) return;
    this.#seen.delete(relative);
    this.#stable.cancel(relative);
    this.#early.delete(relative);
  }

  /** A close after writing, or a move into the tree: complete now. */
  async #complete(relative: string): Promise<void> {
    this.#stable.cancel(relative);
    const entry = await statEntry(this.#root, relative);
    if (this.#closed || entry === null) return;
    if (entry.kind === "directory") await this.#walkUnder(relative);
    if (entry.image) this.#emit(entry);
  }

  /**
   * Something appeared or changed without a completion signal: look at what it is.
   *
   * @param created the event was a creation. Where closes are reported (Linux), a regular file
   *   with a single link was created by opening it for writing, so its close will come: it waits
   *   for that close (or `writtenStableMs`), not for a quiet `stableMs`, because a writer may
   *   pause longer than that between creating the file and writing to it. Only a hard link (more
   *   than one link) has no close to wait for.
   */
  async #recheck(relative: string, created = false): Promise<void> {
    const entry = await statEntry(this.#root, relative);
    if (this.#closed || entry === null) return;
    if (entry.kind === "directory") {
      // Files written into a new folder before its watch was added raise no events.
      await this.#walkUnder(relative);
      if (entry.image) this.#emit(entry);
    } else if (entry.image) {
      const writing = created && HAS_CLOSE_EVENTS && entry.kind === "file" && entry.links === 1;
      if (writing && this.#seen.get(entry.relative) !== entry.signature) {
        this.#stable.touch(entry.relative, true);
      } else this.#offer(entry);
    }
  }

  /** A file found by a walk or a recheck: emit it if it has settled, else wait until it does. */
  #offer(entry: TreeEntry): void {
    if (!entry.image || this.#seen.get(entry.relative) === entry.signature) return;
    if (entry.kind === "file" && Date.now() - entry.mtimeMs < this.#options.stableMs) {
      this.#stable.touch(entry.relative, false);
    } else {
      this.#emit(entry);
    }
  }

  #emit(entry: TreeEntry): void {
    if (this.#closed || this.#seen.get(entry.relative) === entry.signature) return;
    this.#seen.set(entry.relative, entry.signature);
    const relative = entry.relative;
    const path = this.#dir.endsWith("/") ? this.#dir + relative : `${this.#dir}/${relative}`;
    const event: FileEvent = { path, relative, receivedAt: Date.now() };
    if (entry.kind === "invalid-name") event.invalidName = true;
    this.#subscriber.next(event);
  }

  async #walkUnder(relative: string): Promise<void> {
    const entries = await scanTree(this.#root, relative);
    if (this.#closed) return;
    for (const entry of diffTree(entries, this.#seen)) this.#offer(entry);
  }

  /**
   * Walk the whole tree and emit what was missed; one walk at a time, and a request during a walk
   * runs one more after it. A new special file means the watcher may be stalled: restart it,
   * then walk again for what it missed.
   */
  async #walk(reason: "rescan" | "interval"): Promise<void> {
    if (!this.#started) {
      this.#walkAfterStart = true;
      return;
    }
    if (this.#walking) {
      this.#walkAgain = true;
      return;
    }
    this.#walking = true;
    try {
      do {
        this.#walkAgain = false;
        const now = Date.now();
        const entries = await scanTree(this.#root);
        if (this.#closed) return;
        const specials = entries.filter((e) => e.kind === "special").map((e) => e.relative);
        const stalled = specials.some((relative) => !this.#specials.has(relative));
        this.#specials = new Set(specials);
        const missed = diffTree(entries, this.#seen).filter((e) => e.image);
        // Complete files the watcher said nothing about: it is stalled or dropped them.
        const lost = missed.some((e) =>
          e.kind === "file" && !this.#stable.has(e.relative) && now - e.mtimeMs > LOST_AFTER_MS
        );
        for (const entry of missed) this.#offer(entry);
        this.#options.onWalk?.({ reason, missed: missed.length });
        if (stalled || lost) {
          await this.#startWatcher();
          this.#walkAgain = true;
        }
      } while (this.#walkAgain && !this.#closed);
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#walking = false;
    }
  }
}

function newestMtime(entries: readonly TreeEntry[]): number {
  let newest = 0;
  for (const entry of entries) if (entry.kind === "file") newest = Math.max(newest, entry.mtimeMs);
  return newest;
}
