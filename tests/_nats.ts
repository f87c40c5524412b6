/**
 * Test harness for tests that need a real `nats-server`: each test starts its own on a free
 * loopback port and stops it in `finally`. Without the binary the test is registered as ignored
 * with a visible message, unless `SCANSTREAM_REQUIRE_NATS=1`, where it fails instead (for CI
 * machines that must run them). `SCANSTREAM_NATS_SERVER=<path>` picks the binary.
 */
import { findNatsServer, type NatsServer, startNatsServer } from "../src/transport/nats_server.ts";
import { DeadlineError, withDeadline } from "../src/util/deadline.ts";

/** `SCANSTREAM_NATS_SERVER` names the binary explicitly (an unusable path counts as missing). */
async function locate(): Promise<string | null> {
  const explicit = Deno.env.get("SCANSTREAM_NATS_SERVER");
  if (explicit === undefined) return await findNatsServer();
  try {
    return ((await Deno.stat(explicit)).mode ?? 0) & 0o111 ? explicit : null;
  } catch {
    return null;
  }
}

const binary = await locate();
const required = Deno.env.get("SCANSTREAM_REQUIRE_NATS") === "1";

/** Whether `natsTest` runs its tests here. */
export const natsAvailable = binary !== null;

/** The context a NATS test gets: its server and the binary (to start more servers). */
export interface NatsTestContext {
  server: NatsServer;
  binary: string;
  t: Deno.TestContext;
}

/**
 * How long one NATS test may run before it fails as hung: past the waits the tests give
 * themselves (at most three of 120 s in a row), well short of the whole run's limit in .ci/run.
 * Tests that wait longer (the end-to-end ones, 600 s) pass their own `limitMs`.
 */
export const NATS_TEST_LIMIT_MS = 600_000;

/** Options of `natsTest`. */
export interface NatsTestOptions {
  /** How long the test may run before it fails as hung (default `NATS_TEST_LIMIT_MS`). */
  readonly limitMs?: number;
}

/**
 * Register a test that runs `fn` against a fresh JetStream-enabled `nats-server`.
 * `fn` must close its connections; the server is stopped afterwards either way. A test still
 * running after its limit fails with the server's log instead of holding the whole
 * run: stopping the server then makes most waits it is stuck in fail, and the rest of the
 * suite goes on.
 */
export function natsTest(
  name: string,
  fn: (ctx: NatsTestContext) => Promise<void>,
  options: NatsTestOptions = {},
): void {
  const limitMs = options.limitMs ?? NATS_TEST_LIMIT_MS;
  if (binary === null) {
    if (required) {
      Deno.test(name, () => {
        throw new Error(
          "nats-server not found (PATH, /usr/sbin/nats-server) but SCANSTREAM_REQUIRE_NATS=1: " +
            "install it (apt install nats-server) or unset the variable",
        );
      });
      return;
    }
    console.warn(`nats-server not found: skipping "${name}" (apt install nats-server)`);
    Deno.test({ name, ignore: true, fn: () => {} });
    return;
  }
  Deno.test(name, async (t) => {
    const server = await startNatsServer({ binary });
    try {
      await withDeadline(fn({ server, binary, t }), limitMs, `"${name}"`);
    } catch (error) {
      if (!(error instanceof DeadlineError)) throw error;
      throw new Error(
        `${error.message}: it waits for something that never comes. The server's log:\n` +
          server.log(),
      );
    } finally {
      await server.stop();
    }
  });
}
