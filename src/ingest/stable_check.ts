/**
 * The fallback test of "this file is complete", for files whose writer never reports a close (a
 * hard link, a file written over a network mount, systems without close events): the file must
 * stay the same, size and mtime, for a quiet period with no events. Every event on the path
 * re-arms its timer, so a steady writer is never read half-way.
 */
import type { TreeEntry } from "./scan_tree.ts";

/** How the check looks at a path; null when the path is gone. */
export type StatEntry = (relative: string) => Promise<TreeEntry | null>;

/** Quiet periods, in ms. */
export interface StableCheckOptions {
  /** Quiet period of a path that was created, linked or moved but not written to. */
  quietMs: number;
  /**
   * Quiet period of a path that was written to, where the system reports a close after writing
   * (Linux): there the close is the signal, and this is only the last resort for a writer that
   * never closes, so a slow writer pausing longer than `quietMs` is not read half-way.
   */
  writtenQuietMs: number;
}

interface Pending {
  timer: ReturnType<typeof setTimeout>;
  written: boolean;
  last: string | null;
}

/** One timer per path still settling; `close()` clears them all. */
export class StableCheck {
  readonly #pending = new Map<string, Pending>();
  readonly #stat: StatEntry;
  readonly #options: StableCheckOptions;
  readonly #onStable: (entry: TreeEntry) => void;
  #closed = false;

  /**
   * @param onStable called once per settled path with what was seen; a path that disappears is
   *   dropped silently (its remove event says so).
   * @throws {RangeError} for a negative or non-finite quiet period.
   */
  constructor(stat: StatEntry, options: StableCheckOptions, onStable: (entry: TreeEntry) => void) {
    for (const key of ["quietMs", "writtenQuietMs"] as const) {
      const value = options[key];
      if (!Number.isFinite(value) || value < 0) {
        throw new RangeError(
          `Cannot check files for completion: ${key} must be a finite number >= 0, current value ` +
            `is ${value}`,
        );
      }
    }
    this.#stat = stat;
    this.#options = { ...options };
    this.#onStable = onStable;
  }

  /** Paths still settling. */
  get size(): number {
    return this.#pending.size;
  }

  /** Whether `relative` is being watched for completion now. */
  has(relative: string): boolean {
    return this.#pending.has(relative);
  }

  /** An event on `relative`: (re)start its quiet period; `written` marks data written to it. */
  touch(relative: string, written: boolean): void {
    if (this.#closed) return;
    const pending = this.#pending.get(relative);
    if (pending) clearTimeout(pending.timer);
    const next = {
      written: written || (pending?.written ?? false),
      last: pending?.last ?? null,
    } as Pending;
    next.timer = setTimeout(() => this.#check(relative, next), this.#quiet(next));
    this.#pending.set(relative, next);
  }

  /** Forget `relative` (it completed by another signal, or it was removed). */
  cancel(relative: string): void {
    const pending = this.#pending.get(relative);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.#pending.delete(relative);
  }

  /** Clear every timer; later calls do nothing. */
  close(): void {
    this.#closed = true;
    for (const { timer } of this.#pending.values()) clearTimeout(timer);
    this.#pending.clear();
  }

  #quiet(pending: Pending): number {
    return pending.written ? this.#options.writtenQuietMs : this.#options.quietMs;
  }

  async #check(relative: string, pending: Pending): Promise<void> {
    const entry = await this.#stat(relative);
    // A newer event re-armed the path, or it was cancelled, while stat ran.
    if (this.#closed || this.#pending.get(relative) !== pending) return;
    if (entry === null) {
      this.#pending.delete(relative);
      return;
    }
    const quiet = this.#quiet(pending);
    const age = Date.now() - entry.mtimeMs;
    const same = pending.last === null || pending.last === entry.signature;
    // An mtime in the future (clock skew, a copied timestamp) says nothing: then only an
    // unchanged signature across a whole quiet period counts.
    const settled = age >= 0 ? same && age >= quiet : pending.last === entry.signature;
    if (settled) {
      this.#pending.delete(relative);
      this.#onStable(entry);
      return;
    }
    pending.last = entry.signature;
    const wait = age >= 0 ? Math.max(quiet - age, Math.min(quiet, 250)) : quiet;
    pending.timer = setTimeout(() => this.#check(relative, pending), wait);
  }
}
