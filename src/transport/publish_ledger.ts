/**
 * Exactly once on the bus across a restart, whatever the gap (issue 13, finding 10). A stream
 * that restarts from its last checkpoint publishes again what it did after that checkpoint
 * (images, refusals, assignments, with the same message ids); JetStream drops a repeated id only
 * within its duplicate window (2 minutes), so a restart later than that stored them twice.
 *
 * The ledger remembers the stream sequence just before each checkpoint (`mark`, the last two, in
 * `<state>/bus-ledger.json`). On start it reads the message ids stored from the older of the two
 * on (headers only: `storedIds`), and its bus skips a publish whose id is among them. Everything
 * a crash can make the stream repeat was published after that mark: a checkpoint covers what
 * was confirmed before it, and the mark is taken before the checkpoint. Without a ledger file
 * (a first run, or a crash before the first checkpoint) it reads from the stream's start.
 */
import { join } from "node:path";
import * as v from "valibot";
import { count } from "../protocol/fields.ts";
import { readJsonIfExists, writeJsonAtomic } from "../util/atomic_write.ts";
import type { Bus, PublishOptions } from "./bus.ts";
import { NatsBus } from "./nats_bus.ts";
import { lastSequence, storedIds } from "./stored_ids.ts";

/** The ledger's file in a state directory. */
export const LEDGER_FILE = "bus-ledger.json";

const ledgerSchema = () => v.object({ marks: v.array(count(), "an array") }, "an object");

/** What the ledger of a stream knows, and the bus that uses it. */
export class PublishLedger {
  /** The bus to publish on: `options.bus`, skipping ids already stored. */
  readonly bus: Bus;
  /** Ids found stored at start (skipped when published again). */
  readonly stored: ReadonlySet<string>;
  /** Publishes skipped so far. */
  skipped = 0;
  readonly #path: string | undefined;
  readonly #inner: Bus;
  #marks: number[];

  private constructor(inner: Bus, stored: Set<string>, path: string | undefined, marks: number[]) {
    this.#inner = inner;
    this.stored = stored;
    this.#path = path;
    this.#marks = marks;
    const skip = (options: PublishOptions | undefined) =>
      options?.msgId !== undefined && stored.has(options.msgId);
    this.bus = {
      publish: (subject, payload, options) => {
        if (skip(options)) {
          this.skipped++;
          return Promise.resolve();
        }
        return inner.publish(subject, payload, options);
      },
      subscribe: (subject, options) => inner.subscribe(subject, options),
      request: (subject, payload, options) => inner.request(subject, payload, options),
      reply: (subject, handler, options) => inner.reply(subject, handler, options),
      close: () => inner.close(),
    };
  }

  /**
   * The ledger of the stream whose state is in `stateDir`, on `bus`. Only a NATS bus with a
   * state directory has one; otherwise the bus is used as it is.
   */
  static async open(bus: Bus, stateDir: string | undefined): Promise<PublishLedger> {
    if (!(bus instanceof NatsBus) || stateDir === undefined) {
      return new PublishLedger(bus, new Set(), undefined, []);
    }
    const path = join(stateDir, LEDGER_FILE);
    const saved = await readJsonIfExists(path, ledgerSchema());
    const marks = saved?.marks.slice(-2) ?? [];
    const from = marks.length === 0 ? 1 : marks[0] + 1;
    const { ids } = await storedIds(bus.connection, bus.stream, from);
    return new PublishLedger(bus, ids, path, marks);
  }

  /**
   * Record where the stream is now; call just before a checkpoint is saved. While the server
   * is away the marks stay as they were: older marks only make the next start read more.
   */
  async mark(): Promise<void> {
    if (this.#path === undefined || !(this.#inner instanceof NatsBus)) return;
    let seq: number;
    try {
      seq = await lastSequence(this.#inner.connection, this.#inner.stream);
    } catch {
      return;
    }
    this.#marks = [...this.#marks, seq].slice(-2);
    await Deno.mkdir(join(this.#path, ".."), { recursive: true });
    await writeJsonAtomic(this.#path, { marks: this.#marks });
  }
}
