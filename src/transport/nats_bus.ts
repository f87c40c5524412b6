/**
 * The `Bus` over NATS: JetStream for the durable subjects of a pipeline (stream `SCAN_<p>` over
 * every `scan.<p>.*` subject but `classify`), core NATS for request/reply and for live
 * subscriptions.
 *
 * - `publish` on a durable subject is a JetStream publish carrying a `Nats-Msg-Id` (the caller's
 *   `msgId`, or a fresh id per call), so the stream stores it once however often it is retried.
 *   While the server is away it retries with backoff, by default until the bus closes (past
 *   the duplicate window it first checks whether an earlier attempt was stored); at most
 *   `maxPendingPublishes` publishes wait at once, beyond that `publish` fails with a
 *   `buffer-full` BusError instead of queueing without bound. On other subjects it is a core
 *   publish (buffered by the client while reconnecting).
 * - `subscribe` without options is a core subscription (live messages only); with `deliverAll` an
 *   ordered consumer from the first stored message; with `durable` or `queue` a durable pull
 *   consumer named `<name>-<subject with '.' as '_'>`, shared by every subscriber using the name.
 *   Each message is acknowledged once it has been handed to the subscriber (`next` returned):
 *   a crash before that redelivers it, asynchronous work failing after it does not. A message
 *   the server delivers again after this subscription handed it on (an ack lost in a server
 *   restart) is dropped, so within one process each stored message is handed on once. On a subject
 *   the stream does not keep, `queue` is a core queue group.
 * - The connection reconnects forever, and waits for a server that is not up yet on connect.
 */
import {
  ClosedConnectionError,
  connect,
  credsAuthenticator,
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  nanos,
  type NatsConnection,
  nuid,
  RequestError,
  type Status,
  TimeoutError,
} from "@nats-io/transport-node";
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { Observable, type Subscriber } from "rxjs";
import {
  type Bus,
  BusError,
  type BusMessage,
  ERROR_HEADER,
  type PublishOptions,
  type Reply,
  type ReplyOptions,
  type RequestOptions,
  type SubscribeOptions,
  type Unsubscribable,
} from "./bus.ts";
import { printable } from "../util/quote.ts";
import { storedIds } from "./stored_ids.ts";
import { HandedSequences } from "./handed_sequences.ts";
import { durableSubjects, streamName, subjectMatches, validatePipelineName } from "./subjects.ts";

/** One change of a NATS connection, as `NatsBus.connectionChanges` reports it. */
export interface ConnectionChange {
  /** NATS's name for it: `disconnect`, `reconnecting`, `reconnect`, `close`, ... */
  readonly type: string;
  readonly server?: string;
}

/** Options of `NatsBus.connect`. */
export interface NatsBusOptions {
  /** Server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** The pipeline name: subjects `scan.<name>.*`, stream `SCAN_<name>`. */
  name: string;
  user?: string;
  pass?: string;
  token?: string;
  /** A `.creds` file (JWT + nkey seed) for decentralised auth. */
  credsFile?: string;
  /** How long the stream keeps messages. Default 7 days. */
  maxAgeMs?: number;
  /** Most bytes the stream keeps; the oldest messages go first. Default 1 GiB. */
  maxBytes?: number;
  /** How long the stream remembers a msgId for deduplication. Default 2 minutes (or maxAgeMs). */
  duplicateWindowMs?: number;
  /**
   * How long a publish keeps retrying while the server is away. Default `Infinity`: a stream or
   * worker keeps retrying through any outage (its outbox, or its one publish at a time, bounds
   * what waits). A retry later than `duplicateWindowMs` after the first attempt, which JetStream
   * would no longer recognise, first reads the message ids stored since that attempt
   * (`storedIds`), so a publish whose ack was lost is still stored once. A finite value must not
   * exceed `duplicateWindowMs` (checked).
   */
  publishRetryMs?: number;
  /** Most publishes waiting for a server at once. Default 1024. */
  maxPendingPublishes?: number;
  /** Pause between reconnect attempts. Default 1000 ms. */
  reconnectTimeWaitMs?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const ATTEMPT_TIMEOUT_MS = 5000;

function toRecord(hdrs: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (hdrs === undefined) return out;
  for (const key of hdrs.keys()) out[key] = hdrs.get(key);
  return out;
}

function toHeaders(record: Record<string, string> | undefined): MsgHdrs | undefined {
  if (record === undefined || Object.keys(record).length === 0) return undefined;
  const hdrs = natsHeaders();
  for (const [key, value] of Object.entries(record)) hdrs.set(key, value);
  return hdrs;
}

function toBusMessage(msg: Msg | JsMsg): BusMessage {
  return { subject: msg.subject, payload: msg.data, headers: toRecord(msg.headers) };
}

/** Failures that mean "the server or JetStream is not reachable right now". */
function isTransient(error: unknown): boolean {
  if (error instanceof TimeoutError || error instanceof RequestError) return true;
  if (error instanceof JetStreamApiError) return false;
  return error instanceof Error &&
    ["JetStreamNotEnabled", "ConnectionError", "NoRespondersError"].includes(error.name);
}

function consumerName(name: string, subject: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new RangeError(
      `Cannot subscribe to ${subject}: a durable or queue name may only hold letters, digits, ` +
        `'_' and '-', current value is ${JSON.stringify(name)}`,
    );
  }
  return `${name}-${subject.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

/** An open subscription, as `close()` needs to see it. */
interface Active {
  subscriber: Subscriber<BusMessage>;
  stop(): Promise<void>;
}

/** The NATS bus of one pipeline. */
export class NatsBus implements Bus {
  /**
   * Connect (waiting for the server if it is not up yet) and make sure the pipeline's stream
   * exists with the configured limits.
   */
  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const pipeline = validatePipelineName(options.name);
    const limits = resolveLimits(options);
    const authenticator = options.credsFile === undefined
      ? undefined
      : credsAuthenticator(await Deno.readFile(options.credsFile));
    const nc = await connect({
      servers: options.servers,
      name: `scanstream-${pipeline}`,
      user: options.user,
      pass: options.pass,
      token: options.token,
      authenticator,
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
      reconnectTimeWait: options.reconnectTimeWaitMs ?? 1000,
    });
    try {
      const jsm = await jetstreamManager(nc);
      const lastSeq = await ensureStream(jsm, pipeline, limits);
      return new NatsBus(nc, jsm, pipeline, limits, lastSeq);
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #js: JetStreamClient;
  readonly #stream: string;
  readonly #durable: string[];
  readonly #publishRetryMs: number;
  readonly #duplicateWindowMs: number;
  readonly #maxPending: number;
  /** The highest stream sequence this bus has seen stored (a lower bound of the stream's). */
  #lastSeq: number;
  #pending = 0;
  readonly #active = new Set<Active>();
  readonly #wakeups = new Set<() => void>();
  readonly #work = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  private constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    pipeline: string,
    limits: Limits,
    lastSeq: number,
  ) {
    this.#nc = nc;
    this.#lastSeq = lastSeq;
    this.#duplicateWindowMs = limits.duplicateWindowMs;
    this.#jsm = jsm;
    this.#js = jetstream(nc);
    this.#stream = streamName(pipeline);
    this.#durable = durableSubjects(pipeline);
    this.#publishRetryMs = limits.publishRetryMs;
    this.#maxPending = limits.maxPendingPublishes;
    this.#track(
      nc.closed().then((error) => {
        if (this.#closing !== undefined) return;
        const closed = new BusError("closed", "NATS connection closed", { cause: error });
        for (const active of this.#active) active.subscriber.error(closed);
      }),
    );
  }

  /** The JetStream stream holding this pipeline's durable subjects. */
  get stream(): string {
    return this.#stream;
  }

  /**
   * Changes of the connection as they happen (`disconnect`, `reconnecting`, `reconnect`, ...),
   * for a display of whether the server is reachable; completes when the connection closes.
   */
  connectionChanges(): Observable<ConnectionChange> {
    return new Observable<ConnectionChange>((subscriber) => {
      const changes = this.#nc.status() as AsyncIterable<Status> & { stop(): void };
      (async () => {
        for await (const change of changes) {
          subscriber.next({
            type: change.type,
            server: "server" in change ? String(change.server) : undefined,
          });
        }
        subscriber.complete();
      })().catch((error) => subscriber.error(error));
      // An idle iterator never ends by itself: stopping it is the teardown.
      return () => changes.stop();
    });
  }

  /**
   * The connection, for the JetStream features the bus does not wrap (work queues with acks
   * after processing, KV buckets, the Object Store). Closed by `close()`.
   */
  get connection(): NatsConnection {
    return this.#nc;
  }

  #isDurable(subject: string): boolean {
    return this.#durable.some((pattern) => subjectMatches(pattern, subject));
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#work.add(work);
    const forget = () => this.#work.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** Sleep that `close()` cuts short. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakeups.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakeups.add(wake);
    });
  }

  async publish(subject: string, payload: Uint8Array, options: PublishOptions = {}): Promise<void> {
    if (this.#closing !== undefined) {
      throw new BusError("closed", `Cannot publish to ${subject}: bus is closed`);
    }
    const headers = toHeaders(options.headers);
    if (!this.#isDurable(subject)) {
      this.#nc.publish(subject, payload, { headers });
      return;
    }
    if (this.#pending >= this.#maxPending) {
      throw new BusError(
        "buffer-full",
        `Cannot publish to ${subject}: ${this.#pending} publishes already wait for the server ` +
          `(maxPendingPublishes is ${this.#maxPending})`,
      );
    }
    this.#pending++;
    try {
      await this.#track(this.#publishDurable(subject, payload, headers, options.msgId));
    } finally {
      this.#pending--;
    }
  }

  async #publishDurable(
    subject: string,
    payload: Uint8Array,
    headers: MsgHdrs | undefined,
    msgId: string | undefined,
  ): Promise<void> {
    const msgID = msgId ?? nuid.next();
    const firstAttempt = Date.now();
    const deadline = firstAttempt + this.#publishRetryMs;
    // Every message stored from here on has a higher sequence than this.
    const since = this.#lastSeq + 1;
    for (let attempt = 0;; attempt++) {
      try {
        // Past the duplicate window an earlier attempt that was stored (its ack lost) would be
        // stored again: look for it first.
        if (attempt > 0 && Date.now() - firstAttempt >= this.#duplicateWindowMs * 0.9) {
          const stored = await storedIds(this.#nc, this.#stream, since);
          if (stored.ids.has(msgID)) return;
        }
        const timeout = Math.max(1, Math.min(ATTEMPT_TIMEOUT_MS, deadline - Date.now()));
        const ack = await this.#js.publish(subject, payload, { msgID, headers, timeout });
        this.#lastSeq = Math.max(this.#lastSeq, ack.seq);
        return;
      } catch (error) {
        if (this.#closing !== undefined || error instanceof ClosedConnectionError) {
          throw new BusError("closed", `Cannot publish to ${subject}: bus is closed`, {
            cause: error,
          });
        }
        if (!isTransient(error)) throw error;
        if (Date.now() >= deadline) {
          throw new BusError(
            "timeout",
            `Cannot publish to ${subject}: the server did not store it within ` +
              `${this.#publishRetryMs} ms`,
            { cause: error },
          );
        }
        await this.#sleep(Math.min(2000, 100 * 2 ** attempt));
      }
    }
  }

  subscribe(subject: string, options: SubscribeOptions = {}): Observable<BusMessage> {
    return new Observable<BusMessage>((subscriber) => {
      if (this.#closing !== undefined) {
        subscriber.error(new BusError("closed", `Cannot subscribe to ${subject}: bus is closed`));
        return;
      }
      let active: Active;
      try {
        active = this.#open(subject, options, subscriber);
      } catch (error) {
        subscriber.error(error);
        return;
      }
      this.#active.add(active);
      return () => {
        this.#active.delete(active);
        this.#track(active.stop());
      };
    });
  }

  #open(subject: string, options: SubscribeOptions, subscriber: Subscriber<BusMessage>): Active {
    if (
      options.durable !== undefined && options.queue !== undefined &&
      options.durable !== options.queue
    ) {
      throw new TypeError(
        `Cannot subscribe to ${subject}: durable (${options.durable}) and queue ` +
          `(${options.queue}) name one consumer, so they must be equal when both are given`,
      );
    }
    const name = options.durable ?? options.queue;
    const durable = this.#isDurable(subject);
    if ((options.durable !== undefined || options.deliverAll) && !durable) {
      throw new RangeError(
        `Cannot subscribe to ${subject} with durable or deliverAll: stream ${this.#stream} does ` +
          "not keep that subject",
      );
    }
    if (durable && (name !== undefined || options.deliverAll)) {
      return this.#consume(subject, options, name, subscriber);
    }
    const sub = this.#nc.subscribe(subject, {
      queue: name,
      callback: (error, msg) => {
        if (error) subscriber.error(error);
        else subscriber.next(toBusMessage(msg));
      },
    });
    return {
      subscriber,
      stop: () => {
        if (!sub.isClosed()) sub.unsubscribe();
        return Promise.resolve();
      },
    };
  }

  #consume(
    subject: string,
    options: SubscribeOptions,
    name: string | undefined,
    subscriber: Subscriber<BusMessage>,
  ): Active {
    const durableName = name === undefined ? undefined : consumerName(name, subject);
    let stopped = false;
    let messages: ConsumerMessages | undefined;
    const loop = (async () => {
      const consumer = durableName === undefined
        ? await this.#js.consumers.get(this.#stream, {
          filter_subjects: subject,
          deliver_policy: DeliverPolicy.All,
        })
        : await this.#durableConsumer(durableName, subject, options.deliverAll ?? false);
      if (stopped) return;
      messages = await consumer.consume({ max_messages: 256 });
      if (stopped) {
        await messages.close();
        return;
      }
      const handed = durableName === undefined ? undefined : new HandedSequences();
      for await (const msg of messages) {
        // A redelivery of a message this process already handed on (its ack was lost when the
        // server restarted) is acknowledged again and not handed on twice.
        if (handed?.check(msg.info.streamSequence)) {
          msg.ack();
          continue;
        }
        subscriber.next(toBusMessage(msg));
        if (durableName !== undefined) msg.ack();
      }
    })().then(
      () => {
        if (!stopped) subscriber.complete();
      },
      (error) => {
        if (!stopped) subscriber.error(error);
      },
    );
    this.#track(loop);
    return {
      subscriber,
      stop: async () => {
        stopped = true;
        await messages?.close();
        await loop;
      },
    };
  }

  /** The durable consumer `name`, created on first use (its config then stays as created). */
  async #durableConsumer(name: string, subject: string, deliverAll: boolean) {
    try {
      await this.#jsm.consumers.info(this.#stream, name);
    } catch (error) {
      if (
        !(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)
      ) {
        throw error;
      }
      await this.#jsm.consumers.add(this.#stream, {
        durable_name: name,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: deliverAll ? DeliverPolicy.All : DeliverPolicy.New,
        ack_wait: nanos(30_000),
      });
    }
    return this.#js.consumers.get(this.#stream, name);
  }

  async request(
    subject: string,
    payload: Uint8Array,
    options: RequestOptions = {},
  ): Promise<BusMessage> {
    if (this.#closing !== undefined) {
      throw new BusError("closed", `Cannot request ${subject}: bus is closed`);
    }
    const timeoutMs = options.timeoutMs ?? 5000;
    let reply: Msg;
    try {
      reply = await this.#track(
        this.#nc.request(subject, payload, {
          timeout: timeoutMs,
          headers: toHeaders(options.headers),
        }),
      );
    } catch (error) {
      if (error instanceof TimeoutError) {
        throw new BusError(
          "timeout",
          `Cannot request ${subject}: no reply within ${timeoutMs} ms`,
          {
            cause: error,
          },
        );
      }
      if (error instanceof RequestError && error.isNoResponders()) {
        throw new BusError("no-responders", `Cannot request ${subject}: no responders`, {
          cause: error,
        });
      }
      if (error instanceof ClosedConnectionError) {
        throw new BusError("closed", `Cannot request ${subject}: bus is closed`, { cause: error });
      }
      throw error;
    }
    const msg = toBusMessage(reply);
    const remote = msg.headers[ERROR_HEADER];
    if (remote !== undefined) {
      throw new BusError("remote", `Request to ${subject} failed in the responder: ${remote}`);
    }
    return msg;
  }

  reply(
    subject: string,
    handler: (msg: BusMessage) => Promise<Reply>,
    options: ReplyOptions = {},
  ): Unsubscribable {
    if (this.#closing !== undefined) {
      throw new BusError("closed", `Cannot reply on ${subject}: bus is closed`);
    }
    const sub = this.#nc.subscribe(subject, {
      queue: options.queue ?? "responders",
      callback: (error, msg) => {
        if (!error) this.#track(this.#answer(msg, handler));
      },
    });
    return {
      unsubscribe: () => {
        if (!sub.isClosed()) sub.unsubscribe();
      },
    };
  }

  async #answer(msg: Msg, handler: (msg: BusMessage) => Promise<Reply>): Promise<void> {
    let reply: Reply;
    try {
      reply = await handler(toBusMessage(msg));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      // A header value is one line: a reason repeating a file name may hold CR or LF.
      reply = { payload: new Uint8Array(0), headers: { [ERROR_HEADER]: printable(reason) } };
    }
    if (this.#closing !== undefined || this.#nc.isClosed()) return;
    msg.respond(reply.payload, { headers: toHeaders(reply.headers) });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const wake of this.#wakeups) wake();
      const active = [...this.#active];
      this.#active.clear();
      await Promise.allSettled(active.map((a) => a.stop()));
      for (const a of active) a.subscriber.complete();
      if (!this.#nc.isClosed()) await this.#nc.close();
      while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
    })();
    return this.#closing;
  }
}

type Limits = Required<
  Pick<
    NatsBusOptions,
    "maxAgeMs" | "maxBytes" | "duplicateWindowMs" | "publishRetryMs" | "maxPendingPublishes"
  >
>;

/** Defaults filled in and checked against each other, before anything touches the server. */
function resolveLimits(options: NatsBusOptions): Limits {
  const maxAgeMs = options.maxAgeMs ?? 7 * DAY_MS;
  const duplicateWindowMs = options.duplicateWindowMs ?? Math.min(120_000, maxAgeMs);
  const publishRetryMs = options.publishRetryMs ?? Infinity;
  const limits: Limits = {
    maxAgeMs,
    maxBytes: options.maxBytes ?? 1024 ** 3,
    duplicateWindowMs,
    publishRetryMs,
    maxPendingPublishes: options.maxPendingPublishes ?? 1024,
  };
  for (const [key, value] of Object.entries(limits)) {
    const infinite = key === "publishRetryMs" && value === Infinity;
    if (!(Number.isFinite(value) || infinite) || value <= 0) {
      throw new RangeError(
        `Cannot connect the NATS bus: ${key} must be a positive number, current value is ${value}`,
      );
    }
  }
  if (duplicateWindowMs > maxAgeMs) {
    throw new RangeError(
      `Cannot connect the NATS bus: duplicateWindowMs must not exceed maxAgeMs (${maxAgeMs}), ` +
        `current value is ${duplicateWindowMs}`,
    );
  }
  if (Number.isFinite(publishRetryMs) && publishRetryMs > duplicateWindowMs) {
    throw new RangeError(
      "Cannot connect the NATS bus: publishRetryMs must not exceed duplicateWindowMs " +
        `(${duplicateWindowMs}), or a retry could be stored twice, current value is ` +
        `${publishRetryMs}`,
    );
  }
  return limits;
}

async function ensureStream(jsm: JetStreamManager, pipeline: string, limits: Limits) {
  const name = streamName(pipeline);
  const config = {
    subjects: durableSubjects(pipeline),
    max_age: nanos(limits.maxAgeMs),
    max_bytes: limits.maxBytes,
    duplicate_window: nanos(limits.duplicateWindowMs),
    discard: DiscardPolicy.Old,
  };
  try {
    await jsm.streams.info(name);
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) {
      throw error;
    }
    const added = await jsm.streams.add({
      name,
      ...config,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
    });
    return added.state.last_seq;
  }
  return (await jsm.streams.update(name, config)).state.last_seq;
}
