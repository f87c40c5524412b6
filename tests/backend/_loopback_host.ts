/**
 * A download host on 127.0.0.1 for install scripts under test: it records every path asked for
 * and answers from a table, 404 for the rest, so a test can see which downloads an install
 * attempted without any of them leaving the machine.
 */

/** A running loopback host. */
export interface LoopbackHost {
  /** `http://127.0.0.1:PORT/`, with the trailing slash the install scripts expect. */
  readonly url: string;
  /** Paths requested so far, in order. */
  readonly paths: string[];
  /** Serve `body` at `path` from now on. */
  serve(path: string, body: Uint8Array): void;
  close(): Promise<void>;
}

export function startLoopbackHost(): LoopbackHost {
  const paths: string[] = [];
  const files = new Map<string, Uint8Array>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const path = new URL(request.url).pathname;
      paths.push(path);
      const body = files.get(path);
      if (body === undefined) return new Response(`not here: ${path}\n`, { status: 404 });
      // content-length: tfjs-node's progress bar reads it.
      return new Response(body.slice(), { headers: { "content-length": String(body.length) } });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    paths,
    serve: (path, body) => void files.set(path, body),
    close: () => server.shutdown(),
  };
}
