/**
 * An in-process `Bus` with the semantics of `NatsBus`, for unit tests and runs without a
 * server: live delivery to current subscribers, a bounded replay log for durable subjects
 * (`deliverAll`, durable and queue consumers resume from it), msgId deduplication on durable
 * subjects, queue groups delivering each message to one member, and request/reply.
 *
 * Delivery is asynchronous (a microtask per message), as over a network: a handler that
 * publishes does not re-enter the publisher.
 */
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
import { durableSubjects, subjectMatches } from "./subjects.ts";

/** Options of `MemoryBus`. */
export interface MemoryBusOptions {
  /** Subject patterns kept in the replay log (as a JetStream stream would). Default none. */
  durable?: Iterable<string>;
  /**
   * Most messages kept in the replay log; older ones are dropped (and their msgIds forgotten), as
   * a stream drops by its limits. Default 10 000.
   */
  replayLimit?: number;
}

interface Entry {
  seq: number;
  msg: BusMessage;
  msgId?: string;
}

/** A durable (or queue) consumer: a cursor into the log shared by its members. */
interface Consumer {
  subject: string;
  delivered: number;
  members: Subscriber<BusMessage>[];
  next: number;
}

interface LiveSubscription {
  subject: string;
  queue?: string;
  subscriber: Subscriber<BusMessage>;
}

interface Responder {
  subject: string;
  queue: string;
  handler: (msg: BusMessage) => Promise<Reply>;
}

/** The message id header, as JetStream names it. */
const MSG_ID_HEADER = "Nats-Msg-Id";

function copyMessage(msg: BusMessage): BusMessage {
  return { subject: msg.subject, payload: msg.payload.slice(), headers: { ...msg.headers } };
}

function deliver(subscriber: Subscriber<BusMessage>, msg: BusMessage): void {
  queueMicrotask(() => {
    if (!subscriber.closed) subscriber.next(copyMessage(msg));
  });
}

function checkPublishSubject(action: string, subject: string): void {
  if (
    typeof subject !== "string" || subject === "" || /[\s*>]/.test(subject) ||
    subject.split(".").includes("")
  ) {
    throw new RangeError(
      `Cannot ${action}: the subject must be non-empty dot-separated tokens without wildcards ` +
        `or whitespace, current value is ${JSON.stringify(subject)}`,
    );
  }
}

/** The in-process bus. */
export class MemoryBus implements Bus {
  /** A bus whose durable subjects are those JetStream keeps for `pipeline`. */
  static forPipeline(pipeline: string, options: Omit<MemoryBusOptions, "durable"> = {}): MemoryBus {
    return new MemoryBus({ ...options, durable: durableSubjects(pipeline) });
  }

  readonly #durable: string[];
  readonly #replayLimit: number;
  readonly #log: Entry[] = [];
  readonly #msgIds = new Set<string>();
  #seq = 0;
  #anonymous = 0;
  #inboxes = 0;
  readonly #live = new Set<LiveSubscription>();
  readonly #consumers = new Map<string, Consumer>();
  readonly #responders = new Set<Responder>();
  readonly #queueTurn = new Map<string, number>();
  readonly #pendingRequests = new Set<(error: BusError) => void>();
  #closed = false;

  constructor(options: MemoryBusOptions = {}) {
    const replayLimit = options.replayLimit ?? 10_000;
    if (!Number.isInteger(replayLimit) || replayLimit < 1) {
      throw new RangeError(
        `Cannot create MemoryBus: replayLimit must be a positive integer, current value is ` +
          `${replayLimit}`,
      );
    }
    this.#durable = [...(options.durable ?? [])];
    this.#replayLimit = replayLimit;
  }

  #isDurable(subject: string): boolean {
    return this.#durable.some((pattern) => subjectMatches(pattern, subject));
  }

  publish(subject: string, payload: Uint8Array, options: PublishOptions = {}): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new BusError("closed", `Cannot publish to ${subject}: bus is closed`));
    }
    checkPublishSubject("publish", subject);
    const headers = { ...options.headers };
    if (options.msgId !== undefined) headers[MSG_ID_HEADER] = options.msgId;
    const msg: BusMessage = { subject, payload: payload.slice(), headers };
    const seq = ++this.#seq;
    const duplicate = options.msgId !== undefined && this.#msgIds.has(options.msgId);
    if (this.#isDurable(subject) && !duplicate) {
      this.#append({ seq, msg, msgId: options.msgId });
      for (const consumer of this.#consumers.values()) {
        if (consumer.members.length > 0 && subjectMatches(consumer.subject, subject)) {
          this.#deliverToConsumer(consumer, seq, msg);
        }
      }
    }
    // Live subscribers see duplicates too: in NATS the stream deduplicates what it stores, not
    // what the subject routes.
    const groups = new Map<string, Subscriber<BusMessage>[]>();
    for (const live of this.#live) {
      if (!subjectMatches(live.subject, subject)) continue;
      if (live.queue === undefined) deliver(live.subscriber, msg);
      else {
        const key = `${live.queue}\u0000${live.subject}`;
        groups.set(key, [...(groups.get(key) ?? []), live.subscriber]);
      }
    }
    for (const [key, members] of groups) deliver(this.#pick(key, members), msg);
    return Promise.resolve();
  }

  #append(entry: Entry): void {
    this.#log.push(entry);
    if (entry.msgId !== undefined) this.#msgIds.add(entry.msgId);
    while (this.#log.length > this.#replayLimit) {
      const dropped = this.#log.shift()!;
      if (dropped.msgId !== undefined) this.#msgIds.delete(dropped.msgId);
    }
  }

  /** Round-robin member of a group (consumer or queue). */
  #pick<T>(key: string, members: T[]): T {
    const turn = this.#queueTurn.get(key) ?? 0;
    this.#queueTurn.set(key, turn + 1);
    return members[turn % members.length];
  }

  #deliverToConsumer(consumer: Consumer, seq: number, msg: BusMessage): void {
    deliver(consumer.members[consumer.next++ % consumer.members.length], msg);
    consumer.delivered = seq;
  }

  subscribe(subject: string, options: SubscribeOptions = {}): Observable<BusMessage> {
    return new Observable<BusMessage>((subscriber) => {
      if (this.#closed) {
        subscriber.error(new BusError("closed", `Cannot subscribe to ${subject}: bus is closed`));
        return;
      }
      if (
        options.durable !== undefined && options.queue !== undefined &&
        options.durable !== options.queue
      ) {
        subscriber.error(
          new TypeError(
            `Cannot subscribe to ${subject}: durable (${options.durable}) and queue ` +
              `(${options.queue}) name one consumer, so they must be equal when both are given`,
          ),
        );
        return;
      }
      const name = options.durable ?? options.queue;
      const durable = this.#isDurable(subject);
      if ((options.durable !== undefined || options.deliverAll) && !durable) {
        subscriber.error(
          new RangeError(
            `Cannot subscribe to ${subject} with durable or deliverAll: the subject is not kept ` +
              "by the bus",
          ),
        );
        return;
      }
      if (name !== undefined && durable) {
        return this.#joinConsumer(`${name}\u0000${subject}`, subject, options, subscriber);
      }
      if (options.deliverAll) {
        // Like an ordered consumer: replays and then follows the log, so it sees no duplicates.
        const key = `\u0000ordered\u0000${++this.#anonymous}`;
        const leave = this.#joinConsumer(key, subject, options, subscriber);
        return () => {
          leave();
          this.#consumers.delete(key);
        };
      }
      const live: LiveSubscription = { subject, queue: name, subscriber };
      this.#live.add(live);
      return () => this.#live.delete(live);
    });
  }

  #joinConsumer(
    key: string,
    subject: string,
    options: SubscribeOptions,
    subscriber: Subscriber<BusMessage>,
  ): () => void {
    let consumer = this.#consumers.get(key);
    if (consumer === undefined) {
      consumer = {
        subject,
        delivered: options.deliverAll ? 0 : this.#seq,
        members: [],
        next: 0,
      };
      this.#consumers.set(key, consumer);
    }
    consumer.members.push(subscriber);
    for (const entry of this.#log) {
      if (entry.seq > consumer.delivered && subjectMatches(subject, entry.msg.subject)) {
        this.#deliverToConsumer(consumer, entry.seq, entry.msg);
      }
    }
    const joined = consumer;
    return () => {
      joined.members = joined.members.filter((member) => member !== subscriber);
    };
  }

  async request(
    subject: string,
    payload: Uint8Array,
    options: RequestOptions = {},
  ): Promise<BusMessage> {
    if (this.#closed) throw new BusError("closed", `Cannot request ${subject}: bus is closed`);
    checkPublishSubject("request", subject);
    const timeoutMs = options.timeoutMs ?? 5000;
    const groups = new Map<string, Responder[]>();
    for (const responder of this.#responders) {
      if (!subjectMatches(responder.subject, subject)) continue;
      const key = `${responder.queue}\u0000${responder.subject}`;
      groups.set(key, [...(groups.get(key) ?? []), responder]);
    }
    if (groups.size === 0) {
      throw new BusError("no-responders", `Cannot request ${subject}: no responders`);
    }
    const request: BusMessage = {
      subject,
      payload: payload.slice(),
      headers: { ...options.headers },
    };
    const answers = [...groups].map(([key, members]) =>
      this.#answer(this.#pick(key, members), request)
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    let cancel: ((error: BusError) => void) | undefined;
    const stopped = new Promise<never>((_, reject) => {
      cancel = reject;
      timer = setTimeout(
        () =>
          reject(
            new BusError("timeout", `Cannot request ${subject}: no reply within ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
    });
    this.#pendingRequests.add(cancel!);
    try {
      const reply = await Promise.race([Promise.race(answers), stopped]);
      const remote = reply.headers[ERROR_HEADER];
      if (remote !== undefined) {
        throw new BusError("remote", `Request to ${subject} failed in the responder: ${remote}`);
      }
      return reply;
    } finally {
      clearTimeout(timer);
      this.#pendingRequests.delete(cancel!);
    }
  }

  async #answer(responder: Responder, request: BusMessage): Promise<BusMessage> {
    await Promise.resolve();
    const inbox = `_INBOX.memory.${++this.#inboxes}`;
    try {
      const reply = await responder.handler(copyMessage(request));
      return { subject: inbox, payload: reply.payload.slice(), headers: { ...reply.headers } };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { subject: inbox, payload: new Uint8Array(0), headers: { [ERROR_HEADER]: reason } };
    }
  }

  reply(
    subject: string,
    handler: (msg: BusMessage) => Promise<Reply>,
    options: ReplyOptions = {},
  ): Unsubscribable {
    if (this.#closed) throw new BusError("closed", `Cannot reply on ${subject}: bus is closed`);
    const responder: Responder = { subject, queue: options.queue ?? "responders", handler };
    this.#responders.add(responder);
    return { unsubscribe: () => this.#responders.delete(responder) };
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const live of this.#live) live.subscriber.complete();
    for (const consumer of this.#consumers.values()) {
      for (const member of consumer.members) member.complete();
    }
    this.#live.clear();
    this.#consumers.clear();
    this.#responders.clear();
    for (const cancel of this.#pendingRequests) {
      cancel(new BusError("closed", "Cannot wait for a reply: bus is closed"));
    }
    return Promise.resolve();
  }
}
