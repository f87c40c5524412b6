/**
 * Server-Sent Events (the WHATWG `text/event-stream` format): framing, and a hub that keeps the
 * open streams and sends each frame to all of them. A frame is built once and shared by every
 * browser, so a push costs the same however many pages are open.
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
}

/** The open event streams of one server. */
export class SseHub {
  readonly #streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  readonly #retryMs: number;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(options: SseHubOptions = {}) {
    this.#retryMs = options.retryMs ?? 2000;
    this.#heartbeat = setInterval(
      () => this.#send(sseComment("keep-alive")),
      options.heartbeatMs ?? 15_000,
    );
  }

  /** Browsers connected now. */
  get size(): number {
    return this.#streams.size;
  }

  /** A response that streams `first` (frames for this browser only), then every broadcast. */
  connect(first: readonly string[]): Response {
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
    });
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
