/**
 * A managed `nats-server` child process with JetStream on a loopback port, for tests and for
 * running the pipeline on one machine without an external server.
 */

/** A running server. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Where JetStream keeps its files. */
  readonly storeDir: string;
  /** The server process's id (tests pause it with SIGSTOP to stand for a stalled server). */
  readonly pid: number;
  /** What the server has written to stderr (its log), the last 16 KiB. */
  log(): string;
  /** SIGTERM, wait for exit (SIGKILL after 5 s), remove the store dir if it was created here. */
  stop(): Promise<void>;
}

/** Options of `startNatsServer`. */
export interface NatsServerOptions {
  /** JetStream store directory; kept on stop. Default: a fresh temporary one, removed on stop. */
  storeDir?: string;
  /** Port to listen on (to restart a server where clients expect it). Default: a free one. */
  port?: number;
  /** The binary. Default: `findNatsServer()`. */
  binary?: string;
  /** How long to wait for the server to accept connections. Default 10 000 ms. */
  startTimeoutMs?: number;
  /**
   * Require this user and password of every client. They go to the server in a config file
   * (mode 0600, in the store dir), never on its command line, which other users can read.
   */
  auth?: { user: string; pass: string };
}

const LOG_LIMIT = 16 * 1024;

/** Where `nats-server` is: a PATH entry, or Debian's `/usr/sbin/nats-server`; null if absent. */
export async function findNatsServer(): Promise<string | null> {
  const path = Deno.env.get("PATH") ?? "";
  const candidates = [
    ...path.split(":").filter((dir) => dir !== "").map((dir) => `${dir}/nats-server`),
    "/usr/sbin/nats-server",
    "/usr/local/bin/nats-server",
  ];
  for (const candidate of candidates) {
    try {
      const info = await Deno.stat(candidate);
      if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) return candidate;
    } catch (error) {
      // A candidate this process may not read (a narrow --allow-read) is as good as absent.
      const absent = error instanceof Deno.errors.NotFound ||
        error instanceof Deno.errors.NotADirectory || error instanceof Deno.errors.NotCapable ||
        error instanceof Deno.errors.PermissionDenied;
      if (!absent) throw error;
    }
  }
  return null;
}

/** A loopback port nothing listens on now (bind port 0, read it, release it). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function acceptsConnections(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Start `nats-server -a 127.0.0.1 -p <port> -js -sd <storeDir>` and wait until it has logged
 * "Server is ready" and accepts connections.
 *
 * @throws {Error} when the binary is missing, the server exits early, or it does not accept
 * connections within `startTimeoutMs` (the message includes the server's log).
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = options.binary ?? await findNatsServer();
  if (binary === null) {
    throw new Error(
      "Cannot start nats-server: no binary on PATH or at /usr/sbin/nats-server (Debian: apt " +
        "install nats-server)",
    );
  }
  const ownStore = options.storeDir === undefined;
  const storeDir = options.storeDir ?? await Deno.makeTempDir({ prefix: "scanstream-nats-" });
  const port = options.port ?? freePort();
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;

  const args = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir];
  if (options.auth !== undefined) {
    await Deno.mkdir(storeDir, { recursive: true });
    const config = `${storeDir}/auth.conf`;
    // JSON strings are valid NATS config strings.
    const text = `authorization {\n  user: ${JSON.stringify(options.auth.user)}\n  password: ${
      JSON.stringify(options.auth.pass)
    }\n}\n`;
    await Deno.writeTextFile(config, text, { mode: 0o600 });
    await Deno.chmod(config, 0o600);
    args.push("-c", config);
  }

  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(binary, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (cause) {
    if (ownStore) await Deno.remove(storeDir, { recursive: true });
    throw new Error(`Cannot start nats-server: ${binary} could not be run`, { cause });
  }
  let log = "";
  // The log is read continuously so a chatty server never blocks on a full pipe.
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      log = (log + decoder.decode(chunk, { stream: true })).slice(-LOG_LIMIT);
    }
  })();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => {
          if (!exited) child.kill("SIGKILL");
        }, 5000);
        await status;
        clearTimeout(timer);
      }
      await reading;
      if (ownStore) await Deno.remove(storeDir, { recursive: true });
    })();
    return stopping;
  };

  // The port alone does not prove readiness: another process may hold it while this child fails
  // to bind, so the child must also have logged that it is ready.
  const ready = async () =>
    !exited && log.includes("Server is ready") && await acceptsConnections(port);
  const deadline = Date.now() + startTimeoutMs;
  while (!(await ready())) {
    if (exited || Date.now() > deadline) {
      const why = exited
        ? `it exited with code ${(await status).code}`
        : `it did not accept connections within ${startTimeoutMs} ms`;
      await stop();
      throw new Error(`Cannot start nats-server on 127.0.0.1:${port}: ${why}. Its log:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `nats://127.0.0.1:${port}`, port, pid: child.pid, storeDir, log: () => log, stop };
}
