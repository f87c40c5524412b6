/**
 * The message bus the pipeline talks to: the one interface between stages and the network.
 * `NatsBus` implements it over NATS and JetStream, `MemoryBus` in process with the same
 * semantics (for unit tests and runs without a server).
 */
import type { Observable } from "rxjs";

/** One message as delivered to a subscriber or a responder. */
export interface BusMessage {
  readonly subject: string;
  readonly payload: Uint8Array;
  /** Header names as sent (NATS keeps their case); one value per name. */
  readonly headers: Record<string, string>;
}

/** Options of `Bus.publish`. */
export interface PublishOptions {
  headers?: Record<string, string>;
  /**
   * Identifies the message for deduplication: a durable subject stores a message with an id it
   * has already seen (within the duplicate window) only once, so a retried publish does not
   * duplicate. Use a content id (an image hash, `<id>@<model version>`).
   */
  msgId?: string;
}

/** Options of `Bus.subscribe`. Without any, a subscriber sees live messages only. */
export interface SubscribeOptions {
  /**
   * A named durable consumer: it remembers what it has delivered, so a subscriber that comes back
   * under the same name resumes where it left off. Durable subjects only.
   */
  durable?: string;
  /**
   * Start from the first stored message (late subscribers replay), then go on live. With
   * `durable`/`queue` this applies when the consumer is first created.
   */
  deliverAll?: boolean;
  /**
   * Share the messages among all subscribers with the same queue name: each goes to exactly one.
   * On a durable subject this is a durable consumer (messages wait while no member is subscribed).
   */
  queue?: string;
}

/** Options of `Bus.request`. */
export interface RequestOptions {
  /** How long to wait for the reply. Default 5000 ms. */
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/** What a responder returns. */
export interface Reply {
  payload: Uint8Array;
  headers?: Record<string, string>;
}

/** Options of `Bus.reply`. */
export interface ReplyOptions {
  /** Responders with the same queue share requests, each going to one. Default `"responders"`. */
  queue?: string;
}

/** Something that can be stopped. */
export interface Unsubscribable {
  unsubscribe(): void;
}

/**
 * The transport. Subscriptions are cold Observables: each subscription opens its own
 * subscription or consumer on the bus, and unsubscribing closes it. Closing the bus completes
 * every open subscription.
 */
export interface Bus {
  /**
   * Publish a message; resolves once the bus holds it (on a durable subject: stored).
   *
   * @throws {BusError} `closed` after `close()`, `buffer-full` when too many publishes wait for a
   * server that is away, `timeout` when the server stays away longer than the bus retries.
   */
  publish(subject: string, payload: Uint8Array, options?: PublishOptions): Promise<void>;
  /** Messages on `subject` (NATS wildcards allowed for plain subscriptions). */
  subscribe(subject: string, options?: SubscribeOptions): Observable<BusMessage>;
  /**
   * Send a request and wait for one reply.
   *
   * @throws {BusError} `no-responders`, `timeout`, `remote` (the responder threw; its message is
   * in the error's message), `closed`.
   */
  request(subject: string, payload: Uint8Array, options?: RequestOptions): Promise<BusMessage>;
  /**
   * Answer requests on `subject`. A handler that throws sends an error reply, which the requester
   * sees as a `remote` BusError.
   */
  reply(
    subject: string,
    handler: (msg: BusMessage) => Promise<Reply>,
    options?: ReplyOptions,
  ): Unsubscribable;
  /** Stop every subscription and responder, and release the connection. Safe to call twice. */
  close(): Promise<void>;
}

/** Why a bus operation failed, for callers that handle the cases differently. */
export type BusErrorCode = "closed" | "timeout" | "no-responders" | "remote" | "buffer-full";

/** A bus operation failed for a reason a caller can act on (retry, report, exit code). */
export class BusError extends Error {
  override name = "BusError";
  readonly code: BusErrorCode;

  constructor(code: BusErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Header carrying a responder's error message back to the requester. */
export const ERROR_HEADER = "scan-error";

/** Headers of a message whose payload is UTF-8 JSON (frozen: one object shared by every sender). */
export const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-type": "application/json",
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Publish `value` as UTF-8 JSON (with a `content-type` header). */
export function publishJson(
  bus: Bus,
  subject: string,
  value: unknown,
  msgId?: string,
): Promise<void> {
  const payload = encoder.encode(JSON.stringify(value));
  return bus.publish(subject, payload, {
    headers: JSON_HEADERS,
    msgId,
  });
}

/**
 * The JSON value a message carries, unchecked: for tests and tools that know what they sent.
 * Readers of the pipeline's messages parse with a schema of src/protocol instead.
 *
 * @throws {TypeError} when the payload is not valid JSON (the parse error is the cause).
 */
export function json<T>(msg: BusMessage): T {
  const text = decoder.decode(msg.payload);
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new TypeError(
      `Cannot parse message on ${msg.subject} as JSON: payload of ${msg.payload.byteLength} ` +
        `bytes starts with ${JSON.stringify(text.slice(0, 40))}`,
      { cause },
    );
  }
}
