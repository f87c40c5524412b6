/**
 * Server-Sent Events (the WHATWG `text/event-stream` format): framing, and a hub that keeps the
 * open streams and sends each frame to all of them. A frame is built once and shared by every
 * browser, so a push costs the same however many pages are open.
 *
 * Both what the hub holds and for whom are bounded: at most `maxConnections` streams (one more
 * is answered 503), and at most `maxBufferedBytes` waiting for one browser; a browser that falls
 * that far behind (or never reads) is dropped, its buffer freed, and reconnects when it can.
 * Without the bounds, 200 idle connections grew the board from 75 to 480 MB in 300 pushes.
 */

const encoder = new TextEncoder();

/**
 * One event: `event:` names it, each line of `data` goes in its own `data:` field (a browser
 * joins them with newlines), and a blank line ends it.
 *
 * @throws {RangeError} when the event name holds a line break or a colon-free field would break
 *   the frame (a name with `\r` or `\n`).
 */
export function sseFrame(event: string, data: string): string {
  if (/[\r\n]/.test(event) || event === "") {
    throw new RangeError(
      `Cannot frame server-sent event: the name must be one non-empty line, current value is ` +
        `${JSON.stringify(event)}`,
    );
  }
  const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`).join("");
  return `event: ${event}\n${lines}\n`;
}

/** A comment line: ignored by browsers, it keeps idle connections (and proxies) open. */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, " ")}\n\n`;
}

/** Options of `SseHub`. */
export interface SseHubOptions {
  /** Pause between keep-alive comments. Default 15 000 ms. */
  heartbeatMs?: number;
  /** How long a browser waits before reconnecting after the stream breaks. Default 2000 ms. */
  retryMs?: number;
  /** Most streams open at once; one more is answered 503. Default 64. */
  maxConnections?: number;
  /** Most bytes waiting for one browser before it is dropped as too slow. Default 1 MiB. */
  maxBufferedBytes?: number;
}

/** The open event streams of one server. */
export class SseHub {
  readonly #streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  readonly #retryMs: number;
  readonly #maxConnections: number;
  readonly #maxBufferedBytes: number;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #dropped = 0;
  #closed = false;

  /** @throws {RangeError} when a bound is not a positive integer. */
  constructor(options: SseHubOptions = {}) {
    this.#retryMs = options.retryMs ?? 2000;
    this.#maxConnections = options.maxConnections ?? 64;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    for (
      const [name, value] of [
        ["maxConnections", this.#maxConnections],
        ["maxBufferedBytes", this.#maxBufferedBytes],
      ] as const
    ) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(
          `Cannot create SSE hub: ${name} must be a positive integer, current value is ${value}`,
        );
      }
    }
    this.#heartbeat = setInterval(
      () => this.#send(sseComment("keep-alive")),
      options.heartbeatMs ?? 15_000,
    );
  }

  /** Browsers connected now. */
  get size(): number {
    return this.#streams.size;
  }

  /** Browsers dropped so far because they fell `maxBufferedBytes` behind. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * A response that streams `first` (frames for this browser only), then every broadcast; or a
   * 503 when `maxConnections` streams are open.
   */
  connect(first: readonly string[]): Response {
    if (this.#streams.size >= this.#maxConnections) {
      return new Response(
        `Cannot open an event stream: ${this.#streams.size} are open, the most this board serves\n`,
        {
          status: 503,
          headers: {
            "content-type": "text/plain; charset=utf-8",
            "retry-after": String(Math.ceil(this.#retryMs / 1000)),
            "x-content-type-options": "nosniff",
          },
        },
      );
    }
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
        c.enqueue(encoder.encode(`retry: ${this.#retryMs}\n\n${first.join("")}`));
        if (this.#closed) c.close();
        else this.#streams.add(c);
      },
      cancel: () => {
        this.#streams.delete(controller);
      },
    }, new ByteLengthQueuingStrategy({ highWaterMark: this.#maxBufferedBytes }));
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      },
    });
  }

  /** Send `frame` to every connected browser. */
  broadcast(frame: string): void {
    this.#send(frame);
  }

  #send(text: string): void {
    const bytes = encoder.encode(text);
    for (const stream of this.#streams) {
      // desiredSize: the bound less what waits for this browser.
      if ((stream.desiredSize ?? 0) < bytes.length) {
        // Too slow, or not reading at all: drop it and free what it holds (`error` discards the
        // queue; `close` would keep it until the browser read it). It reconnects later.
        this.#streams.delete(stream);
        this.#dropped++;
        try {
          // Deno's server logs this message when it aborts the response.
          stream.error(
            new Error(
              `board: an event stream fell over ${this.#maxBufferedBytes} bytes behind its ` +
                "reader and was dropped (maxBufferedBytes)",
            ),
          );
        } catch {
          // Already gone.
        }
        continue;
      }
      try {
        stream.enqueue(bytes);
      } catch {
        // The browser went away between two pushes.
        this.#streams.delete(stream);
      }
    }
  }

  /** End every stream and stop the heartbeat. Safe to call twice. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const stream of this.#streams) {
      try {
        stream.close();
      } catch {
        // Already cancelled by the browser.
      }
    }
    this.#streams.clear();
  }
}
